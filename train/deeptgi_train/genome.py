"""Training for genome-wide ranking: negatives drawn from every TF x gene pair, and the genome-wide check.

``deeptgi-rt score`` ranks every TF x gene pair of a data set, but a labelled pair list's
negatives are a sample of those candidates, usually a biased one: BEELINE's ``GenePairList``
files (mhsc-e's ``pairs.csv`` among them) draw them from a few targets (151 of mhsc-e's 353
targets; its positives use 350), so a network trained on them learns which genes are labelled
non-targets and ranks the rest of the genome high (measured: the shipped model trained that way
ranked its own data's genome at EPR 1.94 against |PCC|'s 3.74, median score 0.78). Here the
fitted pairs are the file's positives against *unlabelled* candidates of the same TFs, drawn
afresh every epoch (positive-unlabelled learning: an unlabelled pair is mostly a non-edge), and
validation ranks the held-out candidates the way ``score`` ranks a genome.

A genome data set (:func:`deeptgi_train.data.build_pair_dataset` with ``genome=True``) holds
the file's pairs followed by every other TF x gene candidate of the labelled TFs (label 0,
``labelled`` False). Splits are made on the labelled pairs as before (test folds keep the
file's pairs); :func:`candidate_parts` then gives every unlabelled candidate the part of its TF
(``tf`` protocol), of its target (``gene``) or a random one (``random``), so a held-out TF or
target never enters training through a candidate either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deeptgi_rt import metrics

from .configs import GenomeOptions
from .data import PairDataset


def unlabelled(dataset: PairDataset) -> np.ndarray:
    """int64 indices of the unlabelled candidates of ``dataset`` (empty for a labelled-only one)."""
    return np.flatnonzero(~dataset.is_labelled()).astype(np.int64)


def resolve_options(dataset: PairDataset, options: GenomeOptions | None) -> GenomeOptions | None:
    """The genome options a fit on ``dataset`` uses: ``options``, or the defaults for a genome data
    set (one with unlabelled candidates) when none are given; ``None`` for a labelled-only one.
    So the data set decides, as ``--negatives`` decided when it was loaded."""
    if not (~dataset.is_labelled()).any():
        return None
    return options if options is not None else GenomeOptions()


def candidate_parts(
    dataset: PairDataset,
    parts: list[np.ndarray],
    *,
    protocol: str,
    seed: int,
    candidates: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Assign unlabelled candidates to the parts of a split of the labelled pairs.

    Args:
        dataset: a genome data set.
        parts: disjoint int arrays of labelled pair indices (e.g. ``[train, test]``, ``[fit,
            validation]`` or the K parts of cross-fitting), split by ``protocol``.
        protocol: ``tf``: a candidate goes with its TF's labelled pairs; ``gene``: with its
            target's, and a target without labelled pairs in any part goes to a random part
            (all its candidates together); ``random``: each candidate to a random part, with
            probabilities proportional to the parts' sizes.
        seed: seeds the random assignments.
        candidates: int indices of the unlabelled candidates to assign (default all of them).

    Returns:
        One int64 array of candidate indices per part, sorted. Under ``tf`` a candidate whose TF
        is in no part is left out.
    """
    candidates = unlabelled(dataset) if candidates is None else np.asarray(candidates, dtype=np.int64)
    rng = np.random.default_rng(seed)
    sizes = np.array([len(part) for part in parts], dtype=np.float64)
    weights = sizes / sizes.sum() if sizes.sum() else np.full(len(parts), 1.0 / len(parts))
    if protocol == "random":
        where = rng.choice(len(parts), size=len(candidates), p=weights)
    else:
        key = dataset.tf_idx if protocol == "tf" else dataset.gene_idx
        n_entities = len(dataset.entities)
        entity_part = np.full(n_entities, -1, dtype=np.int64)
        for k, part in enumerate(parts):
            entity_part[key[part]] = k
        if protocol == "gene":
            free = np.flatnonzero(entity_part < 0)
            entity_part[free] = rng.choice(len(parts), size=len(free), p=weights)
        where = entity_part[key[candidates]]
    return [np.sort(candidates[where == k]) for k in range(len(parts))]


@dataclass(frozen=True)
class UnlabelledDraw:
    """The negatives one fit draws afresh every epoch from its unlabelled candidates.

    Attributes:
        pool: int64 ``[candidates]`` pair indices it draws from.
        quotas: int64 ``[TFs]`` pairs drawn per epoch from each TF's share of the pool (scheme
            ``per-tf``), or one entry, the total (``uniform``).
        pool_groups: int64 ``[candidates]`` the quota group of each pool entry.
    """

    pool: np.ndarray
    quotas: np.ndarray
    pool_groups: np.ndarray

    @classmethod
    def build(
        cls, dataset: PairDataset, fit_idx: np.ndarray, pool: np.ndarray, options: GenomeOptions
    ) -> UnlabelledDraw:
        """The draw of a fit whose labelled pairs are ``fit_idx`` and candidates ``pool`` (int ``[n]``)."""
        fit_idx, pool = np.asarray(fit_idx, dtype=np.int64), np.asarray(pool, dtype=np.int64)
        positives = fit_idx[dataset.labels[fit_idx] > 0.5]
        if options.scheme == "uniform":
            total = min(len(pool), int(round(options.ratio * len(positives))))
            return cls(pool, np.array([total], dtype=np.int64), np.zeros(len(pool), dtype=np.int64))
        tfs, inverse = np.unique(dataset.tf_idx[pool], return_inverse=True)
        available = np.bincount(inverse, minlength=len(tfs))
        wanted = np.zeros(len(tfs), dtype=np.int64)
        fitted_tfs, counts = np.unique(dataset.tf_idx[positives], return_counts=True)
        at = np.searchsorted(tfs, fitted_tfs)
        inside = (at < len(tfs)) & (tfs[np.minimum(at, len(tfs) - 1)] == fitted_tfs)
        wanted[at[inside]] = np.round(options.ratio * counts[inside]).astype(np.int64)
        return cls(pool, np.minimum(wanted, available), inverse.astype(np.int64))

    @property
    def per_epoch(self) -> int:
        """Pairs drawn per epoch."""
        return int(self.quotas.sum())

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One epoch's negatives: int64 pair indices, without repeats, sorted."""
        if len(self.quotas) == 1:
            return np.sort(rng.choice(self.pool, size=int(self.quotas[0]), replace=False))
        # Each group's quota: the group's entries in a random order, the first quota of them.
        keys = rng.random(len(self.pool))
        order = np.lexsort((keys, self.pool_groups))
        starts = np.searchsorted(self.pool_groups[order], np.arange(len(self.quotas)))
        rank = np.arange(len(self.pool)) - starts[self.pool_groups[order]]
        chosen = order[rank < self.quotas[self.pool_groups[order]]]
        return np.sort(self.pool[chosen])


@dataclass(frozen=True)
class GenomeFit:
    """What one fit (a network, or one cross-fitted member) trains and validates on.

    Attributes:
        fit_idx: int64 labelled pairs fitted every epoch (the file's positives, and its
            negatives with ``file_negatives="keep"``).
        draw: the negatives drawn every epoch.
        validation_idx: int64 the held-out labelled pairs and held-out candidates, ranked
            together as ``score`` ranks a genome.
        transform_idx: int64 the pairs whose entities fit the input transform (fitted and pool).
    """

    fit_idx: np.ndarray
    draw: UnlabelledDraw
    validation_idx: np.ndarray
    transform_idx: np.ndarray


def genome_fit(
    dataset: PairDataset,
    fit_labelled: np.ndarray,
    fit_candidates: np.ndarray,
    validation_labelled: np.ndarray,
    validation_candidates: np.ndarray,
    options: GenomeOptions,
) -> GenomeFit:
    """Assemble one fit from its labelled pairs and candidates (int index arrays, see
    :func:`candidate_parts`)."""
    fit_labelled = np.asarray(fit_labelled, dtype=np.int64)
    negative = dataset.labels[fit_labelled] < 0.5
    if options.file_negatives == "pool":
        fit_idx = fit_labelled[~negative]
        pool = np.sort(np.r_[fit_candidates, fit_labelled[negative]]).astype(np.int64)
    else:
        fit_idx, pool = fit_labelled, np.asarray(fit_candidates, dtype=np.int64)
    draw = UnlabelledDraw.build(dataset, fit_idx, pool, options)
    validation = np.sort(np.r_[validation_labelled, validation_candidates]).astype(np.int64)
    # Ranked as score ranks a genome: self pairs, which score never writes, are left out.
    validation = validation[dataset.tf_idx[validation] != dataset.gene_idx[validation]]
    return GenomeFit(fit_idx, draw, validation, np.r_[fit_idx, pool].astype(np.int64))


def target_degree_scores(dataset: PairDataset, fitted: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The label-only reference genome-wide: each pair of ``idx`` scored by its target's number of
    positives among the pairs ``fitted`` (int ``[n]``), float64 ``[len(idx)]``; no expression."""
    fitted = np.asarray(fitted, dtype=np.int64)
    positives = fitted[dataset.labels[fitted] > 0.5]
    degree = np.bincount(dataset.gene_idx[positives], minlength=len(dataset.entities)).astype(np.float64)
    return degree[dataset.gene_idx[idx]]


def pcc_scores(dataset: PairDataset, idx: np.ndarray) -> np.ndarray:
    """|PCC| of each pair of ``idx`` in the first modality, float64 ``[len(idx)]``: the expression
    reference every genome-wide figure stands beside."""
    return np.abs(dataset.pair_inputs(np.asarray(idx, dtype=np.int64))[:, 0, 0]).astype(np.float64)


GENOME_METRICS = ("auroc", "auprc_ratio", "epr")


def ranking_figures(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """AUROC, AUPRC ratio and EPR (BEELINE's) of ``scores`` over candidates with 0/1 ``labels``
    (``[n]`` each), from :mod:`deeptgi_rt.metrics` as ``deeptgi-rt eval`` computes them."""
    return {
        "auroc": metrics.auroc(labels, scores),
        "auprc_ratio": metrics.auprc_ratio(labels, scores),
        "epr": metrics.early_precision_ratio(labels, scores),
    }


def genome_check(
    dataset: PairDataset,
    idx: np.ndarray,
    scores: np.ndarray,
    degree: np.ndarray,
    *,
    protocol: str,
    source: str,
) -> dict:
    """The genome-wide check of a fit: its held-out candidates ranked by the model, |PCC| and the
    target-degree prior.

    Args:
        dataset: a genome data set.
        idx: int ``[n]`` the held-out pairs (labelled and unlabelled), all candidates of held-out
            TFs under the ``tf`` protocol.
        scores: float ``[n]`` the model's held-out (validation or out-of-fold) probabilities.
        degree: float ``[n]`` the target-degree prior of each pair, fitted without it
            (:func:`target_degree_scores` of the fit that held it out).
        protocol: how ``idx`` was held out (``tf``: whole TFs, the question of a genome-wide
            ranking of new TFs).
        source: ``"validation"`` or ``"out-of-fold"``.

    Returns:
        A JSON-ready dict (the metadata's ``training.genome_wide``): counts, each method's
        :data:`GENOME_METRICS`, and ``beats_pcc`` (the model's AUROC and EPR both above |PCC|'s).
    """
    idx = np.asarray(idx, dtype=np.int64)
    labels = (dataset.labels[idx] > 0.5).astype(np.int8)
    figures = {
        "model": ranking_figures(labels, np.asarray(scores, dtype=np.float64)),
        "pcc": ranking_figures(labels, pcc_scores(dataset, idx)),
        "target_degree": ranking_figures(labels, np.asarray(degree, dtype=np.float64)),
    }
    rounded = {name: {key: round(float(value), 6) for key, value in values.items()} for name, values in figures.items()}
    model, pcc = figures["model"], figures["pcc"]
    return {
        "protocol": protocol,
        "source": source,
        "tfs": int(len(np.unique(dataset.tf_idx[idx]))),
        "candidates": int(len(idx)),
        "positives": int(labels.sum()),
        **rounded,
        "beats_pcc": bool(model["auroc"] > pcc["auroc"] and model["epr"] > pcc["epr"]),
    }
