"""Ranking metrics for TF -> target scores, in plain numpy: the project's one implementation.

Definitions follow scikit-learn (AUROC, average precision) and BEELINE (AUPRC ratio, early
precision ratio) so figures are comparable with published ones. Every function takes
``labels`` (0/1, any integer, bool or float dtype, ``[n]``) and ``scores`` (float ``[n]``,
higher = more likely an interaction; ``-inf`` = not predicted at all).

Ties. Tied scores form one step of the ROC and PR curves, as scikit-learn's ``roc_curve`` /
``precision_recall_curve`` (which BEELINE calls) make them: a tie between a positive and a
negative counts one half in AUROC, and average precision takes the precision after the whole
tied run. For the early precision ratio BEELINE keeps every edge whose weight is at least the
k-th highest weight, so ties at the cut are all in the top set; so do we (BEELINE also rounds
weights to 6 decimals first; we compare scores exactly).

EPR (BEELINE's definition): k = number of true edges among the candidates; the top set is every
candidate scoring at least the k-th highest score, candidates scored ``-inf`` (unlisted ones)
excluded, as BEELINE excludes zero-weight edges; early precision = true edges in the top set /
its size; EPR = early precision / edge density (true edges / candidates). The cut is exactly the
k-th score, position k of the descending ranking counted from 1.

Groups. ``grouped_areas`` gives AUROC and average precision per group (per TF, per target) from
one sort; :func:`target_wise_auroc` is the degree-controlled metric: for each target with at
least one positive and one negative TF, the AUROC of the scores over its TFs, averaged. A score
that depends on the target alone ties within every target and gets exactly 0.5.
:func:`pair_specific_auroc` also controls for the TF: the same mean over targets, of the
scores' *interaction* part (the scores minus their least-squares additive TF and target
effects), so any score of the TF alone, the target alone, or a sum of the two gets exactly 0.5.
Target-wise AUROC alone does not control for the TF: on mhsc-e with targets held out, ranking a
target's TFs by their number of training edges reaches 0.865 on validation (docs/training.md).
:func:`bootstrap_by_group` resamples whole groups (e.g. TFs) with replacement, as integer
weights on one fixed ranking, so 1,000 resamples cost 1,000 cumulative sums, not 1,000 sorts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

SUMMARY_METRICS = ("auroc", "average_precision", "auprc_ratio", "epr")


# ----------------------------------------------------------------------------- one ranking


def _as_arrays(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).astype(np.float64).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in shape")
    if labels.size == 0:
        raise ValueError("no labels")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    return labels, scores


def _descending(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(order, last_of_run)``: int64 ``[n]`` stable descending order, and int64 ``[runs]`` positions
    (in that order) of the last element of each run of equal scores."""
    order = np.argsort(-scores, kind="mergesort")
    ranked = scores[order]
    return order, np.r_[np.flatnonzero(ranked[1:] != ranked[:-1]), ranked.size - 1]


def _curve_counts(
    labels: ArrayLike, scores: ArrayLike, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True/false positive counts at each distinct score, scanning from the highest score down.

    ``weights`` (float ``[n]``, optional) counts each element that many times (bootstrap).
    Returns ``(tps, fps, thresholds)``, each ``[distinct scores]``: predicting positive for
    ``score >= thresholds[i]`` gives ``tps[i]`` true and ``fps[i]`` false positives.
    """
    labels, scores = _as_arrays(labels, scores)
    order, last_of_run = _descending(scores)
    return _counts_in_order(labels[order], last_of_run, None if weights is None else weights[order]) + (
        scores[order][last_of_run],
    )


def _counts_in_order(
    ranked_labels: np.ndarray, last_of_run: np.ndarray, ranked_weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    if ranked_weights is None:
        tps = np.cumsum(ranked_labels)[last_of_run]
        return tps, (last_of_run + 1) - tps
    tps = np.cumsum(ranked_weights * ranked_labels, axis=-1)[..., last_of_run]
    return tps, np.cumsum(ranked_weights, axis=-1)[..., last_of_run] - tps


def _check_both_classes(labels: ArrayLike) -> tuple[int, int]:
    labels = np.asarray(labels).ravel()
    positives = int(np.count_nonzero(labels == 1))
    negatives = int(labels.size - positives)
    if positives == 0 or negatives == 0:
        raise ValueError("metric needs both positive and negative labels")
    return positives, negatives


def roc_curve(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve points.

    Returns ``(fpr, tpr, thresholds)``, float64 ``[distinct scores + 1]``; the first point is
    (0, 0) with threshold ``inf`` (nothing predicted positive).
    """
    positives, negatives = _check_both_classes(labels)
    tps, fps, thresholds = _curve_counts(labels, scores)
    return np.r_[0.0, fps / negatives], np.r_[0.0, tps / positives], np.r_[np.inf, thresholds]


def pr_curve(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision-recall curve points, recall increasing.

    Returns ``(recall, precision, thresholds)``, float64 ``[distinct scores + 1]``; the first
    point is recall 0, precision 1 (scikit-learn's convention).
    """
    _check_both_classes(labels)
    tps, fps, thresholds = _curve_counts(labels, scores)
    return np.r_[0.0, tps / tps[-1]], np.r_[1.0, tps / (tps + fps)], np.r_[np.inf, thresholds]


def _auroc_from_counts(tps: np.ndarray, fps: np.ndarray) -> np.ndarray:
    """Trapezoidal AUROC from curve counts ``[..., runs]`` (NaN where a class is absent)."""
    positives, negatives = tps[..., -1:], fps[..., -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.concatenate([np.zeros_like(positives), tps / positives], axis=-1)
        fpr = np.concatenate([np.zeros_like(negatives), fps / negatives], axis=-1)
    return np.sum(np.diff(fpr, axis=-1) * (tpr[..., 1:] + tpr[..., :-1]) / 2.0, axis=-1)


def _average_precision_from_counts(tps: np.ndarray, fps: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.concatenate([np.zeros_like(tps[..., :1]), tps / tps[..., -1:]], axis=-1)
        return np.sum(np.diff(recall, axis=-1) * (tps / (tps + fps)), axis=-1)


def _epr_from_counts(tps: np.ndarray, fps: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """EPR from curve counts ``[..., runs]`` (see the module docs); runs at ``-inf`` never enter the top set."""
    shape = tps.shape[:-1]
    tps, fps = np.atleast_2d(tps), np.atleast_2d(fps)
    seen = tps + fps
    positives, total = tps[:, -1], seen[:, -1]
    listed = int(np.count_nonzero(thresholds > -np.inf))
    if listed == 0:
        return np.zeros(shape)[()]
    # Unlisted candidates are never predicted: the top set stops at the last listed run.
    cut = np.minimum(np.argmax(seen >= positives[:, None], axis=1), listed - 1)
    rows = np.arange(tps.shape[0])
    precision = tps[rows, cut] / seen[rows, cut]
    return (precision / (positives / total)).reshape(shape)[()]


def auroc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve (trapezoidal, ties count one half), as ``roc_auc_score``."""
    _check_both_classes(labels)
    tps, fps, _ = _curve_counts(labels, scores)
    return float(_auroc_from_counts(tps, fps))


def average_precision(labels: ArrayLike, scores: ArrayLike) -> float:
    """Average precision: sum over thresholds of (recall step) x precision, as ``average_precision_score``."""
    _check_both_classes(labels)
    tps, fps, _ = _curve_counts(labels, scores)
    return float(_average_precision_from_counts(tps, fps))


def auprc_ratio(labels: ArrayLike, scores: ArrayLike) -> float:
    """BEELINE's AUPRC ratio: average precision divided by the positive fraction (random = 1)."""
    positives, negatives = _check_both_classes(labels)
    return average_precision(labels, scores) / (positives / (positives + negatives))


def early_precision_ratio(labels: ArrayLike, scores: ArrayLike) -> float:
    """BEELINE's EPR (module docs): precision of the candidates scoring at least the k-th highest
    score (k = positives, ties at the cut included, ``-inf`` excluded) over the positive fraction."""
    _check_both_classes(labels)
    tps, fps, thresholds = _curve_counts(labels, scores)
    return float(_epr_from_counts(tps, fps, thresholds))


def summary(labels: ArrayLike, scores: ArrayLike) -> dict[str, float]:
    """``auroc, average_precision, auprc_ratio, epr`` of one ranking, from one sort."""
    positives, negatives = _check_both_classes(labels)
    tps, fps, thresholds = _curve_counts(labels, scores)
    ap = float(_average_precision_from_counts(tps, fps))
    return {
        "auroc": float(_auroc_from_counts(tps, fps)),
        "average_precision": ap,
        "auprc_ratio": ap / (positives / (positives + negatives)),
        "epr": float(_epr_from_counts(tps, fps, thresholds)),
    }


# ----------------------------------------------------------------------------- groups


@dataclass(frozen=True)
class GroupAreas:
    """AUROC and average precision per group.

    Attributes:
        groups: the distinct group keys, sorted ``[g]``.
        auroc, average_precision: float64 ``[g]``, NaN where a group lacks positives or negatives
            (average precision: lacks positives).
        positives, negatives: int64 ``[g]`` label counts per group.
    """

    groups: np.ndarray
    auroc: np.ndarray
    average_precision: np.ndarray
    positives: np.ndarray
    negatives: np.ndarray

    @property
    def evaluable(self) -> np.ndarray:
        """bool ``[g]``: groups with at least one positive and one negative."""
        return (self.positives > 0) & (self.negatives > 0)


def grouped_areas(labels: ArrayLike, scores: ArrayLike, groups: ArrayLike) -> GroupAreas:
    """AUROC and average precision of the ranking inside each group (``groups``: any ``[n]`` keys), from one sort."""
    labels, scores = _as_arrays(labels, scores)
    keys, codes = np.unique(np.asarray(groups).ravel(), return_inverse=True)
    if codes.size != labels.size:
        raise ValueError(f"groups {codes.shape} and labels {labels.shape} differ in shape")
    order = np.lexsort((-scores, codes))
    codes, ranked, ranked_labels = codes[order], scores[order], labels[order]
    new_group = np.r_[True, codes[1:] != codes[:-1]]
    last = np.r_[np.flatnonzero(new_group[1:] | (ranked[1:] != ranked[:-1])), ranked.size - 1]
    run_group = codes[last]
    start = np.flatnonzero(new_group)
    # Within-group cumulative counts = global cumulative counts minus those before the group's start.
    cum_tp = np.cumsum(ranked_labels)
    tp_before = np.r_[0.0, cum_tp][start][run_group]
    tps = cum_tp[last] - tp_before
    fps = (last + 1 - start[run_group]) - tps
    first_run = np.r_[True, run_group[1:] != run_group[:-1]]
    prev_tp = np.where(first_run, 0.0, np.r_[0.0, tps[:-1]])
    prev_fp = np.where(first_run, 0.0, np.r_[0.0, fps[:-1]])
    n_groups = keys.size
    positives = np.bincount(codes, weights=ranked_labels, minlength=n_groups)
    sizes = np.bincount(codes, minlength=n_groups)
    negatives = sizes - positives
    with np.errstate(invalid="ignore", divide="ignore"):
        area = np.bincount(run_group, weights=(fps - prev_fp) * (prev_tp + tps) / 2.0, minlength=n_groups)
        group_auroc = np.where((positives > 0) & (negatives > 0), area / (positives * negatives), np.nan)
        ap = np.bincount(run_group, weights=(tps - prev_tp) * tps / (tps + fps), minlength=n_groups)
        group_ap = np.where(positives > 0, ap / positives, np.nan)
    return GroupAreas(keys, group_auroc, group_ap, positives.astype(np.int64), negatives.astype(np.int64))


@dataclass(frozen=True)
class TargetWiseAUROC:
    """The degree-controlled AUROC (module docs).

    Attributes:
        mean: mean over evaluable targets of the AUROC over each target's TFs (NaN if none).
        targets: number of evaluable targets (at least one positive and one negative TF).
        low, high: bootstrap interval over targets (NaN without bootstrap or targets).
    """

    mean: float
    targets: int
    low: float = float("nan")
    high: float = float("nan")


def target_wise_auroc(
    labels: ArrayLike, scores: ArrayLike, targets: ArrayLike, *, bootstrap: int = 0, seed: int = 0, level: float = 0.95
) -> TargetWiseAUROC:
    """Target-wise AUROC of pairs with ``labels`` / ``scores`` ``[n]`` and target keys ``targets`` ``[n]``.

    ``bootstrap`` > 0 resamples the evaluable targets with replacement that many times
    (``numpy.random.default_rng(seed)``) for a ``level`` percentile interval of the mean.
    """
    per_target = grouped_areas(labels, scores, targets)
    values = per_target.auroc[per_target.evaluable]
    if values.size == 0:
        return TargetWiseAUROC(float("nan"), 0)
    low = high = float("nan")
    if bootstrap > 0:
        rng = np.random.default_rng(seed)
        means = values[rng.integers(0, values.size, size=(bootstrap, values.size))].mean(axis=1)
        low, high = _percentile_interval(means, level)
    return TargetWiseAUROC(float(values.mean()), int(values.size), low, high)


def additive_residual(scores: ArrayLike, tfs: ArrayLike, targets: ArrayLike, *, max_rounds: int = 2000) -> np.ndarray:
    """The interaction part of ``scores``: float64 ``[n]`` ``scores - a[tf] - b[target]``.

    ``a`` and ``b`` are the least-squares additive TF and target effects over the given pairs,
    fitted by alternating group means (backfitting, which converges to the least-squares fit
    of the two-way additive model on any design, complete or not). A score that is such a sum
    leaves residuals of rounding size only; they are set to exactly 0 (below 1e-9 of the
    scores' largest magnitude) so that they tie instead of ranking by rounding noise.

    Args:
        scores: float ``[n]`` on the scale where effects add (logits for probabilities).
        tfs, targets: any ``[n]`` keys of each pair's TF and target.
    """
    values = np.asarray(scores, dtype=np.float64).ravel()
    tf_codes = np.unique(np.asarray(tfs).ravel(), return_inverse=True)[1].ravel()
    target_codes = np.unique(np.asarray(targets).ravel(), return_inverse=True)[1].ravel()
    tf_sizes, target_sizes = np.bincount(tf_codes), np.bincount(target_codes)
    target_effect = np.zeros(target_sizes.size)
    tolerance = 1e-9 * max(float(np.abs(values).max(initial=0.0)), 1e-300)
    for _ in range(max_rounds):
        tf_effect = np.bincount(tf_codes, values - target_effect[target_codes]) / tf_sizes
        updated = np.bincount(target_codes, values - tf_effect[tf_codes]) / target_sizes
        change = np.abs(updated - target_effect).max(initial=0.0)
        target_effect = updated
        if change <= tolerance * 1e-3:
            break
    residual = values - tf_effect[tf_codes] - target_effect[target_codes]
    residual[np.abs(residual) <= tolerance] = 0.0
    return residual


def rank_logits(scores: ArrayLike) -> np.ndarray:
    """float64 ``[n]``: ``logit((mid-rank - 0.5) / n)`` of ``scores`` (float ``[n]``, ``-inf`` allowed).

    A scale for scores that have none in common (probabilities, importances, correlations):
    the same for any increasing rescaling of a method's scores, ties (unlisted ``-inf`` pairs
    included) share one value, and every value is finite.
    """
    values = np.asarray(scores, dtype=np.float64).ravel()
    if values.size == 0:
        return values.copy()
    _, codes, counts = np.unique(values, return_inverse=True, return_counts=True)
    below = np.cumsum(counts) - counts
    quantile = (below + (counts + 1) / 2.0 - 0.5) / values.size
    return np.log(quantile / (1.0 - quantile))[codes.ravel()]


def pair_specific_auroc(
    labels: ArrayLike,
    scores: ArrayLike,
    tfs: ArrayLike,
    targets: ArrayLike,
    *,
    bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.95,
) -> TargetWiseAUROC:
    """Target-wise AUROC of the interaction part of ``scores`` (:func:`additive_residual`).

    Args:
        labels: 0/1 ``[n]``; scores: float ``[n]`` on an additive scale (logits for
            probabilities); tfs, targets: any ``[n]`` keys. ``bootstrap``, ``seed`` and
            ``level`` as for :func:`target_wise_auroc`: the interval resamples targets with the
            effects held fixed.

    Any rule of the TF alone, the target alone, or a sum of the two gets exactly 0.5; what a
    score ranks above that is what it says about the pair beyond either side's hubness.
    """
    return target_wise_auroc(
        labels, additive_residual(scores, tfs, targets), targets, bootstrap=bootstrap, seed=seed, level=level
    )


def _percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_by_group(
    labels: ArrayLike,
    scores: ArrayLike,
    groups: ArrayLike,
    *,
    resamples: int,
    seed: int = 0,
    level: float = 0.95,
    max_values: int = 1 << 24,
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of the :data:`SUMMARY_METRICS` when whole groups are resampled.

    Each resample draws as many groups as there are, with replacement
    (``numpy.random.default_rng(seed)``); a group drawn twice counts twice. Resamples without
    both classes are left out. ``max_values`` bounds the weight matrix (resamples x pairs) built
    at once. Returns ``{metric: (low, high)}``.
    """
    values = bootstrap_values_by_group(labels, scores, groups, resamples=resamples, seed=seed, max_values=max_values)
    return {name: _percentile_interval(draws, level) for name, draws in values.items()}


def paired_difference_intervals(
    labels: ArrayLike,
    scores: ArrayLike,
    reference: ArrayLike,
    groups: ArrayLike,
    *,
    resamples: int,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of ``metric(scores) - metric(reference)`` over the same group resamples.

    Both score arrays (float ``[n]``, the same pairs and ``labels``) are measured on every
    resample drawn by :func:`bootstrap_by_group`'s rule with ``seed``, so the interval is that
    of the paired difference, narrower than two separate intervals suggest.
    Returns ``{metric: (low, high)}`` for the :data:`SUMMARY_METRICS`.
    """
    ours = bootstrap_values_by_group(labels, scores, groups, resamples=resamples, seed=seed)
    theirs = bootstrap_values_by_group(labels, reference, groups, resamples=resamples, seed=seed)
    return {name: _percentile_interval(ours[name] - theirs[name], level) for name in SUMMARY_METRICS}


def bootstrap_values_by_group(
    labels: ArrayLike, scores: ArrayLike, groups: ArrayLike, *, resamples: int, seed: int = 0, max_values: int = 1 << 24
) -> dict[str, np.ndarray]:
    """Each :data:`SUMMARY_METRICS` value on each group resample: float64 ``[resamples]`` per
    metric, NaN where a resample lacks a class; the draws depend only on the number of groups,
    ``resamples`` and ``seed`` (so two score arrays of the same pairs get the same draws)."""
    labels, scores = _as_arrays(labels, scores)
    _, codes = np.unique(np.asarray(groups).ravel(), return_inverse=True)
    n_groups = int(codes.max()) + 1
    order, last_of_run = _descending(scores)
    ranked_labels, ranked_codes = labels[order], codes[order]
    thresholds = scores[order][last_of_run]
    rng = np.random.default_rng(seed)
    draws = np.stack(
        [np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups) for _ in range(resamples)]
    ).astype(np.float64)
    values = {name: np.full(resamples, np.nan) for name in SUMMARY_METRICS}
    chunk = max(1, max_values // max(labels.size, 1))
    for begin in range(0, resamples, chunk):
        weights = draws[begin : begin + chunk][:, ranked_codes]
        tps, fps = _counts_in_order(ranked_labels, last_of_run, weights)
        ok = (tps[:, -1] > 0) & (fps[:, -1] > 0)
        rows = begin + np.flatnonzero(ok)
        tps, fps = tps[ok], fps[ok]
        ap = _average_precision_from_counts(tps, fps)
        values["auroc"][rows] = _auroc_from_counts(tps, fps)
        values["average_precision"][rows] = ap
        values["auprc_ratio"][rows] = ap / (tps[:, -1] / (tps[:, -1] + fps[:, -1]))
        values["epr"][rows] = _epr_from_counts(tps, fps, thresholds)
    return values
