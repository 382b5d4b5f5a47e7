"""Cross-validation of DeepTGI on labelled pairs.

For each test fold the remaining pairs are split again, by the same protocol, into a fitting
part and a validation part. The validation part chooses the epoch (early stopping) and the
Youden threshold; the test fold is only scored. With ``crossfit`` K the remaining pairs are
instead cut into K parts for a cross-fitted ensemble (:mod:`deeptgi_train.crossfit`), and its
out-of-fold scores over all of them play the validation part. ACC / F1 / recall / precision
are reported at the validation threshold; the same figures at the test fold's own Youden
threshold (what the paper reports) are kept beside them as ``test_fold_threshold`` and
labelled optimistic.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from deeptgi_rt.errors import InputError
from deeptgi_rt.metrics import TargetWiseAUROC, additive_residual, target_wise_auroc
from deeptgi_rt.progress import Reporter
from deeptgi_rt.target_prior import add_target_prior
from deeptgi_rt.thresholds import score_logits

from .baselines import (
    BASELINE_TITLES,
    EXPRESSION_BASELINES,
    LABEL_ONLY_RULES,
    LABEL_ONLY_TITLES,
    expression_baseline_scores,
    label_only_scores,
)
from .configs import TrainConfig, check_training_options
from .crossfit import CrossfitResult, train_crossfit
from .data import PairDataset
from .genome import (
    GenomeOptions,
    candidate_parts,
    genome_check,
    genome_fit,
    resolve_options,
    target_degree_scores,
)
from .metrics import auroc, evaluate, threshold_metrics, youden_threshold
from .negatives import NEGATIVES_SEED_OFFSET, degree_matched_fit
from .prior import target_prior_logits
from .splits import holdout, kfold
from .trainer import TrainResult, predict, train_model

# Cross-fitting seeds its part assignment apart from the validation holdout's (seed + 1000 + fold).
CROSSFIT_SEED_OFFSET = 2000
# Members cross-fitted per fold when TFs or targets are held out and no count is given. There the
# validation part of one network is a few whole TFs or targets (142-202 pairs in the folds checked): one
# fold chose its epoch at validation AUROC 0.992 and tested at 0.738, and with targets held out
# best epochs ranged over 2-24 of 300. Five members each early-stop on a fifth of all training
# pairs and their out-of-fold scores give the threshold; in benchmarks/accuracy.py they led one
# network in all four held-out rows (mhsc-e +0.014 / +0.025, mdc +0.034 / +0.023 AUROC, TF /
# target held out), ten members gained nothing over five.
HELD_OUT_CROSSFIT = 5

SUMMARY_METRICS = ("auroc", "aupr", "auprc_ratio", "epr", "acc", "f1", "recall", "precision")


@dataclass
class FoldSplit:
    """Pair indices (int64 arrays) of one cross-validation fold."""

    fold: int
    fit: np.ndarray
    validation: np.ndarray
    test: np.ndarray


def cv_splits(
    dataset: PairDataset, *, protocol: str, folds: int, seed: int, validation_fraction: float = 0.15
) -> Iterator[FoldSplit]:
    """The folds of a cross-validation: test fold, and the training rest cut into fit + validation.

    The same ``(protocol, folds, seed, validation_fraction)`` gives the same folds, so
    DeepTGI and baselines can be compared on identical splits.
    """
    tfs, targets = dataset.pair_tfs(), dataset.pair_targets()
    # Folds are cut over the file's pairs only; a genome data set's candidates follow them
    # (:func:`deeptgi_train.genome.candidate_parts`).
    labelled = np.flatnonzero(dataset.is_labelled())
    for fold, (train_pos, test_pos) in enumerate(
        kfold(
            dataset.labels[labelled],
            tfs[labelled],
            targets[labelled],
            protocol=protocol,
            folds=folds,
            seed=seed,
            both_classes=len(labelled) == len(dataset),
        )
    ):
        train_idx, test_idx = labelled[train_pos], labelled[test_pos]
        fit_idx, validation_idx = holdout(
            train_idx,
            dataset.labels,
            tfs,
            targets,
            protocol=protocol,
            fraction=validation_fraction,
            seed=seed + 1000 + fold,
        )
        yield FoldSplit(fold=fold, fit=fit_idx, validation=validation_idx, test=test_idx)


@dataclass
class FoldResult:
    """Metrics of one fold.

    Attributes:
        n_fit, n_validation: pairs fitted and pairs with validation scores; a cross-fitted
            ensemble counts all training pairs in both (out-of-fold validation scores).
        best_epoch: the best validation epoch (a cross-fitted ensemble: its members' median).
        test: metrics on the test fold (threshold-dependent ones at the validation threshold).
        test_fold_threshold: ACC / F1 / recall / precision at the test fold's own Youden
            threshold (optimistic: the threshold saw the test labels).
        validation: metrics on the validation part at its own threshold.
        label_only: test AUROC of each label-only reference rule fitted on the training pairs
            (:mod:`deeptgi_train.baselines`).
        baselines: test AUROC of each expression baseline run beside the model (e.g.
            ``{"hgb": 0.81}``), fitted on the same training pairs; empty with ``baselines=()``.
        labels, scores: test labels (int8) and probabilities (float32), ``[test pairs]``.
        test_tfs, test_targets: names (object ``[test pairs]``) of the test pairs' TFs and
            targets, for metrics computed per target or per TF (e.g. target-wise AUROC).
        baseline_scores: each expression baseline's test probabilities (float64 ``[test pairs]``).
        validation_pairs: the validation pairs behind ``validation`` as ``(tfs, targets, labels,
            scores)`` (object, object, int8, float32 ``[validation pairs]``), so settings can be
            chosen on any validation metric without training again.
        label_only_scores: each label-only rule's test scores (float64 ``[test pairs]``).
        genome_test: with genome negatives and ``--split tf``: the test TFs ranked against every
            gene (:func:`deeptgi_train.genome.genome_check`: model, |PCC|, target-degree prior);
            else ``None``.
    """

    fold: int
    n_fit: int
    n_validation: int
    n_test: int
    best_epoch: int
    seconds: float
    test: dict[str, float]
    test_fold_threshold: dict[str, float]
    validation: dict[str, float]
    label_only: dict[str, float]
    labels: np.ndarray = field(repr=False)
    scores: np.ndarray = field(repr=False)
    baselines: dict[str, float] = field(default_factory=dict)
    test_tfs: np.ndarray | None = field(default=None, repr=False)
    test_targets: np.ndarray | None = field(default=None, repr=False)
    baseline_scores: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    validation_pairs: tuple | None = field(default=None, repr=False)
    label_only_scores: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    genome_test: dict | None = None

    def ranked_test_scores(self) -> dict[str, np.ndarray]:
        """The test scores of the model (``"model"``), each expression baseline and each
        label-only rule, by those names (arrays ``[test pairs]``)."""
        return {"model": self.scores, **self.baseline_scores, **self.label_only_scores}

    def target_wise(self) -> dict[str, float]:
        """Target-wise AUROC of this fold's test pairs per :meth:`ranked_test_scores` name
        (NaN where no target has both classes)."""
        return {
            name: target_wise_auroc(self.labels, scores, self.test_targets).mean
            for name, scores in self.ranked_test_scores().items()
        }


@dataclass
class CVResult:
    """All folds of one cross-validation and how it was run."""

    protocol: str
    folds: list[FoldResult]
    settings: dict

    def summary(self) -> dict[str, dict[str, float]]:
        """Mean and sample standard deviation over folds of each test metric."""
        out = {}
        for name in SUMMARY_METRICS:
            values = np.array([fold.test[name] for fold in self.folds], dtype=np.float64)
            out[name] = _mean_sd(values)
        return out

    def label_only_summary(self) -> dict[str, dict[str, float]]:
        """Mean and sample standard deviation over folds of each label-only reference AUROC."""
        return {
            rule: _mean_sd(np.array([fold.label_only[rule] for fold in self.folds], dtype=np.float64))
            for rule in LABEL_ONLY_RULES
        }

    def baseline_summary(self) -> dict[str, dict[str, float]]:
        """Mean and sample standard deviation over folds of each expression baseline's test AUROC."""
        names = self.folds[0].baselines if self.folds else {}
        return {
            name: _mean_sd(np.array([fold.baselines[name] for fold in self.folds], dtype=np.float64)) for name in names
        }

    def target_wise_summary(self, *, bootstrap: int = 1000, seed: int = 0) -> dict[str, TargetWiseAUROC]:
        """Target-wise AUROC of the model, the expression baselines and the label-only rules
        over all test folds, by :meth:`FoldResult.ranked_test_scores` name
        (:func:`pooled_target_wise`). A rule that scores by target alone gets 0.5."""
        return self._pooled(pair_specific=False, bootstrap=bootstrap, seed=seed)

    def pair_specific_summary(self, *, bootstrap: int = 1000, seed: int = 0) -> dict[str, TargetWiseAUROC]:
        """Pair-specific AUROC of the same (:func:`pooled_target_wise` with ``pair_specific``):
        any rule of the TF alone, the target alone or their sum gets 0.5."""
        return self._pooled(pair_specific=True, bootstrap=bootstrap, seed=seed)

    def _pooled(self, *, pair_specific: bool, bootstrap: int, seed: int) -> dict[str, TargetWiseAUROC]:
        if not self.folds:
            return {}
        return {
            name: pooled_target_wise(
                [
                    (fold.test_tfs, fold.test_targets, fold.labels, fold.ranked_test_scores()[name])
                    for fold in self.folds
                ],
                pair_specific=pair_specific,
                bootstrap=bootstrap,
                seed=seed,
            )
            for name in self.folds[0].ranked_test_scores()
        }

    def genome_summary(self) -> dict[str, dict[str, dict[str, float]]] | None:
        """Mean and sd over folds of each genome-wide test figure per method (``model``, ``pcc``,
        ``target_degree``), or ``None`` when the folds have no genome-wide test."""
        from .genome import GENOME_METRICS

        checks = [fold.genome_test for fold in self.folds if fold.genome_test is not None]
        if not checks or len(checks) != len(self.folds):
            return None
        return {
            method: {name: _mean_sd(np.array([check[method][name] for check in checks])) for name in GENOME_METRICS}
            for method in ("model", "pcc", "target_degree")
        }

    def shortfalls(self) -> list[str]:
        """One plain sentence per reference the model does not beat in mean test AUROC (empty if none).

        The references are the label-only rules (no expression at all) and the expression
        baselines run on the same folds; a model that does not beat them has shown nothing
        beyond them on this data.
        """
        model = self.summary()["auroc"]["mean"]
        references = [(LABEL_ONLY_TITLES[rule], value["mean"]) for rule, value in self.label_only_summary().items()]
        references += [(BASELINE_TITLES[name], value["mean"]) for name, value in self.baseline_summary().items()]
        notes = [
            f"the model does not beat {title} here: mean test AUROC {model:.3f} against {reference:.3f}"
            for title, reference in references
            if not model > reference
        ]
        genome = self.genome_summary()
        if genome is not None:
            for name, title in (("pcc", "|PCC|"), ("target_degree", "the target-degree prior")):
                ours, theirs = genome["model"]["auroc"]["mean"], genome[name]["auroc"]["mean"]
                if not ours > theirs:
                    notes.append(
                        f"genome-wide the model does not beat {title} here: mean AUROC {ours:.3f} against {theirs:.3f}"
                    )
        return notes


def pooled_target_wise(folds, *, pair_specific: bool = False, bootstrap: int = 1000, seed: int = 0) -> TargetWiseAUROC:
    """Target-wise (or pair-specific) AUROC over several folds' pairs, each fold scored by its own model.

    Args:
        folds: one ``(tfs, targets, labels, scores)`` per fold: TF and target names (any
            ``[pairs]``), 0/1 labels and probabilities in [0, 1] (``[pairs]``).
        pair_specific: first remove additive TF and target effects from the scores' logits,
            fitted fold by fold (:func:`deeptgi_rt.metrics.additive_residual`).
        bootstrap, seed: resamples of the groups for a 95 % interval.

    A group is one target within one fold, so a target's AUROC never mixes two models; the
    interval resamples those groups.
    """
    groups = np.concatenate(
        [np.char.add(f"{k}\t", np.asarray(targets).astype(str)) for k, (_, targets, _, _) in enumerate(folds)]
    )
    labels = np.concatenate([np.asarray(labels) for _, _, labels, _ in folds])
    if pair_specific:
        scores = np.concatenate(
            [additive_residual(score_logits(scores), tfs, targets) for tfs, targets, _, scores in folds]
        )
    else:
        scores = np.concatenate([np.asarray(scores) for *_, scores in folds])
    return target_wise_auroc(labels, scores, groups, bootstrap=bootstrap, seed=seed)


def _mean_sd(values: np.ndarray) -> dict[str, float]:
    return {"mean": float(values.mean()), "sd": float(values.std(ddof=1)) if len(values) > 1 else 0.0}


def score_fold(
    labels_validation: np.ndarray, scores_validation: np.ndarray, labels_test: np.ndarray, scores_test: np.ndarray
) -> tuple[dict, dict, dict]:
    """Validation metrics, test metrics at the validation threshold, and optimistic test figures.

    Arrays are ``[validation pairs]`` / ``[test pairs]``. Returns ``(validation, test,
    test_fold_threshold)`` metric dicts.
    """
    threshold = youden_threshold(labels_validation, scores_validation)
    validation = evaluate(labels_validation, scores_validation, threshold)
    test = evaluate(labels_test, scores_test, threshold)
    optimistic_threshold = youden_threshold(labels_test, scores_test)
    optimistic = threshold_metrics(labels_test, scores_test, optimistic_threshold)
    optimistic["threshold"] = optimistic_threshold
    return validation, test, optimistic


def time_left(results: list[FoldResult], folds: int) -> str:
    """``"; about 12 min left"`` for the folds after ``results`` at their mean time, or ``""``
    when none is left: the estimate the progress line gives after each fold."""
    remaining = folds - len(results)
    if remaining <= 0 or not results:
        return ""
    seconds = remaining * sum(result.seconds for result in results) / len(results)
    return f"; about {format_duration(seconds)} left for {remaining} more fold{'s' if remaining > 1 else ''}"


def format_duration(seconds: float) -> str:
    """``"40 s"``, ``"12 min"`` or ``"2.5 h"``: a duration as a person reads an estimate."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def default_crossfit(protocol: str, *, degree_matched: bool = False, members: int = 1) -> int:
    """Cross-fitted members per fold when none is asked for: :data:`HELD_OUT_CROSSFIT` under the
    held-out protocols (``tf``, ``gene``), one network under ``random``, with degree-matched
    negatives, or with ``members`` > 1 side-by-side networks (neither combines with cross-fitting)."""
    held_out = protocol in ("tf", "gene")
    return HELD_OUT_CROSSFIT if held_out and not degree_matched and members == 1 else 1


def train_fold(
    dataset: PairDataset,
    split: FoldSplit,
    model_config,
    train: TrainConfig,
    *,
    protocol: str,
    seed: int,
    crossfit: int = 1,
    degree_matched: bool = False,
    prior_offset: bool = False,
    reporter: Reporter | None = None,
    description: str = "training",
    genome: GenomeOptions | None = None,
    candidates: np.ndarray | None = None,
) -> tuple[TrainResult | CrossfitResult, np.ndarray, int]:
    """Train the model of one cross-validation fold, as :func:`run_cv` and the benchmarks do.

    ``train``'s seed is shifted by the fold number. One network fits ``split.fit`` and
    early-stops on ``split.validation``; ``crossfit`` >= 2 cross-fits that many members on both
    parts, their part assignment seeded by ``seed + CROSSFIT_SEED_OFFSET + fold``.
    ``degree_matched`` replaces the negatives of ``split.fit`` by degree-matched non-edges
    (:mod:`deeptgi_train.negatives`, seeded by ``seed + NEGATIVES_SEED_OFFSET + fold``); the
    validation and test pairs keep theirs, and the input transform is fitted on the entities of
    the original fit pairs, so only the negatives differ from a run without it. ``prior_offset``
    trains the network (each cross-fitted member) on the residual of the target label rate of
    its fitted pairs (:mod:`deeptgi_train.prior`); the returned model is the network alone and
    its validation scores include the offset (score the test pairs with :func:`fold_test_scores`).
    ``genome`` draws the fit's negatives from ``candidates`` (the unlabelled candidates on the
    training side of the fold, :func:`deeptgi_train.genome.candidate_parts`), and validates on
    the held-out labelled pairs with the held-out candidates.

    Returns:
        ``(trained, validation_idx, n_fit)``: the training result (``model``,
        ``validation_scores``, ``best_epoch``), int64 ``[validation pairs]`` indices in the order
        of its validation scores, and the number of pairs fitted.
    """
    check_training_options(
        crossfit=crossfit,
        members=model_config.members,
        degree_matched=degree_matched,
        prior_offset=prior_offset,
        swap_augment=train.swap_augment,
        tf_contrast=train.tf_contrast,
    )
    fold_train = replace(train, seed=train.seed + split.fold)
    if crossfit == 1:
        fit_dataset, fit_idx, transform_idx = dataset, split.fit, None
        validation_idx, negatives = split.validation, None
        offset = target_prior_logits(dataset, split.fit) if prior_offset else None
        if genome is not None:
            fit_candidates, validation_candidates = candidate_parts(
                dataset,
                [split.fit, split.validation],
                protocol=protocol,
                seed=seed + 1000 + split.fold,
                candidates=candidates,
            )
            plan = genome_fit(dataset, split.fit, fit_candidates, split.validation, validation_candidates, genome)
            fit_idx, validation_idx = plan.fit_idx, plan.validation_idx
            transform_idx, negatives = plan.transform_idx, plan.draw
        if degree_matched:
            fit_dataset, fit_idx = degree_matched_fit(
                dataset, split.fit, seed=seed + NEGATIVES_SEED_OFFSET + split.fold
            )
            transform_idx = split.fit
        trained = train_model(
            fit_dataset,
            fit_idx,
            validation_idx,
            model_config,
            fold_train,
            reporter=reporter,
            description=description,
            transform_idx=transform_idx,
            logit_offset=offset,
            negatives=negatives,
        )
        return trained, validation_idx, len(fit_idx)
    trained = train_crossfit(
        dataset,
        np.r_[split.fit, split.validation],
        model_config,
        fold_train,
        protocol=protocol,
        parts=crossfit,
        seed=seed + CROSSFIT_SEED_OFFSET + split.fold,
        reporter=reporter,
        description=description,
        prior_offset=prior_offset,
        genome=genome,
        candidates=candidates,
    )
    # Every training pair is fitted by K - 1 members and out-of-fold for one, so it counts in both.
    return trained, trained.validation_idx, len(trained.validation_idx)


def fold_test_scores(
    trained: TrainResult | CrossfitResult, dataset: PairDataset, split: FoldSplit, *, prior_offset: bool = False
) -> np.ndarray:
    """The fold's model's probabilities of ``split.test``, float32 ``[test pairs]``.

    With ``prior_offset`` they include the target prior over the pairs the model was fitted on
    (``split.fit`` for one network, all training pairs for a cross-fitted ensemble), as the
    exported model's ``target_prior`` table would add it.
    """
    scores = predict(trained.model, dataset, split.test)
    if not prior_offset:
        return scores
    fitted = trained.validation_idx if isinstance(trained, CrossfitResult) else split.fit
    return add_target_prior(scores, target_prior_logits(dataset, fitted)[split.test])


def run_cv(
    dataset: PairDataset,
    model_config,
    train: TrainConfig,
    *,
    protocol: str = "random",
    folds: int = 5,
    seed: int = 0,
    validation_fraction: float = 0.15,
    crossfit: int | None = None,
    degree_matched: bool = False,
    prior_offset: bool = False,
    baselines: tuple[str, ...] = ("hgb",),
    reporter: Reporter | None = None,
    genome: GenomeOptions | None = None,
) -> CVResult:
    """k-fold cross-validation of DeepTGI on ``dataset`` under ``protocol`` (random, tf or gene).

    Every fold trains with ``train`` (its seed shifted by the fold number) so the whole run is
    deterministic for a given ``seed``. ``crossfit`` >= 2 trains a cross-fitted ensemble of that
    many members per fold instead of one network (``validation_fraction`` is then unused), 1 one
    network; ``None`` takes :func:`default_crossfit` (five members with TFs or targets held out).
    ``degree_matched`` gives the fitted pairs degree-matched negatives (see :func:`train_fold`);
    test and validation pairs are the same as without it. ``prior_offset`` trains each network
    on the residual of the target prior and scores validation and test pairs with it added.
    ``baselines`` (names from
    :data:`~deeptgi_train.baselines.EXPRESSION_BASELINES`) are fitted on each fold's training
    pairs (fit + validation) and scored on its test pairs beside the model. One info line is
    reported when a fold starts and one when it ends, so a log shows progress without a terminal.
    ``genome`` (a genome data set) trains every fold on the file's positives against unlabelled
    candidates (:mod:`deeptgi_train.genome`); the test folds keep the file's labelled pairs, the
    baselines see the training side's labelled pairs and as many candidates per positive as the
    network draws, and with ``protocol="tf"`` each fold also ranks its test TFs against every
    gene (:attr:`FoldResult.genome_test`).
    """
    reporter = reporter or Reporter()
    genome = resolve_options(dataset, genome)
    if crossfit is None:
        crossfit = default_crossfit(protocol, degree_matched=degree_matched, members=model_config.members)
    unknown = [name for name in baselines if name not in EXPRESSION_BASELINES]
    if unknown:
        raise InputError(f"baseline {unknown[0]!r}: choose from {', '.join(EXPRESSION_BASELINES)}")
    results = []
    names = np.asarray(dataset.entities, dtype=object)
    for split in cv_splits(dataset, protocol=protocol, folds=folds, seed=seed, validation_fraction=validation_fraction):
        started = time.perf_counter()
        train_candidates = test_candidates = None
        if genome is not None:
            train_candidates, test_candidates = candidate_parts(
                dataset, [np.r_[split.fit, split.validation], split.test], protocol=protocol, seed=seed + split.fold
            )
        networks = f"{crossfit} cross-fitted networks" if crossfit > 1 else "one network"
        reporter.info(
            f"fold {split.fold + 1}/{folds}: training {networks} on {len(split.fit) + len(split.validation)} "
            f"pairs, testing on {len(split.test)}"
        )
        trained, validation_idx, n_fit = train_fold(
            dataset,
            split,
            model_config,
            train,
            protocol=protocol,
            seed=seed,
            crossfit=crossfit,
            degree_matched=degree_matched,
            prior_offset=prior_offset,
            reporter=reporter,
            description=f"fold {split.fold + 1}/{folds}",
            genome=genome,
            candidates=train_candidates,
        )
        model_scores = fold_test_scores(trained, dataset, split, prior_offset=prior_offset)
        seconds = time.perf_counter() - started
        validation, test, optimistic = score_fold(
            dataset.labels[validation_idx], trained.validation_scores, dataset.labels[split.test], model_scores
        )
        train_idx = np.r_[split.fit, split.validation]
        labels = dataset.labels[split.test]
        genome_test = None
        if genome is not None and protocol == "tf":
            genome_idx = np.r_[split.test, test_candidates]
            genome_idx = np.sort(genome_idx[dataset.tf_idx[genome_idx] != dataset.gene_idx[genome_idx]])
            genome_test = genome_check(
                dataset,
                genome_idx,
                predict(trained.model, dataset, genome_idx),
                target_degree_scores(dataset, train_idx, genome_idx),
                protocol="tf",
                source="test",
            )
        baseline_train = train_idx
        if genome is not None:
            # The baselines learn from what the network learns from: positives against candidates.
            wanted = int(round(genome.ratio * (dataset.labels[train_idx] > 0.5).sum()))
            drawn = np.random.default_rng(seed + 4000 + split.fold).choice(
                train_candidates, size=min(wanted, len(train_candidates)), replace=False
            )
            baseline_train = np.r_[train_idx, drawn]
        rule_scores = {
            rule: label_only_scores(rule, dataset.gene_idx, dataset.labels, train_idx, split.test)
            for rule in LABEL_ONLY_RULES
        }
        baseline_scores = {
            name: expression_baseline_scores(
                name, dataset, baseline_train, split.test, seed=seed, threads=train.threads
            )
            for name in baselines
        }
        results.append(
            FoldResult(
                fold=split.fold + 1,
                n_fit=n_fit,
                n_validation=len(validation_idx),
                n_test=len(split.test),
                best_epoch=trained.best_epoch,
                seconds=seconds,
                test=test,
                test_fold_threshold=optimistic,
                validation=validation,
                label_only={rule: auroc(labels, scores) for rule, scores in rule_scores.items()},
                labels=labels.astype(np.int8),
                scores=model_scores,
                baselines={name: auroc(labels, scores) for name, scores in baseline_scores.items()},
                test_tfs=names[dataset.tf_idx[split.test]],
                test_targets=names[dataset.gene_idx[split.test]],
                baseline_scores=baseline_scores,
                label_only_scores=rule_scores,
                validation_pairs=(
                    names[dataset.tf_idx[validation_idx]],
                    names[dataset.gene_idx[validation_idx]],
                    dataset.labels[validation_idx].astype(np.int8),
                    trained.validation_scores,
                ),
                genome_test=genome_test,
            )
        )
        against = "".join(f", {BASELINE_TITLES[name]} {value:.3f}" for name, value in results[-1].baselines.items())
        reporter.info(
            f"fold {split.fold + 1}/{folds}: test AUROC {test['auroc']:.3f}, AUPR {test['aupr']:.3f} "
            f"(best epoch {trained.best_epoch}, validation AUROC {trained.validation_auroc:.3f}{against}; "
            f"{seconds:.0f} s{time_left(results, folds)})"
        )
    settings = {
        "protocol": protocol,
        "folds": folds,
        "seed": seed,
        "validation_fraction": validation_fraction if crossfit == 1 else None,
        "crossfit": crossfit,
        "degree_matched_negatives": degree_matched,
        "prior_offset": prior_offset,
        "baselines": list(baselines),
        "model_config": model_config.to_dict(),
        "train_config": train.to_dict(),
        "n_pairs": int(dataset.is_labelled().sum()),
        "n_positive": int(dataset.labels[dataset.is_labelled()].sum()),
        "genome_negatives": genome.to_dict() if genome is not None else None,
    }
    return CVResult(protocol=protocol, folds=results, settings=settings)
