"""Train a final model on all labelled pairs and export it as a contract ONNX file.

A validation part of the labelled pairs (same protocol as cross-validation would use) chooses
the epoch and the Youden threshold written into the model, and the export is verified on those
held-out pairs. With ``crossfit`` K, K members are cross-fitted on all labelled pairs instead
and their out-of-fold scores choose the threshold (:mod:`deeptgi_train.crossfit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deeptgi_rt.contract import BALANCED_METRIC_NAMES, ModelMetadata
from deeptgi_rt.errors import InputError
from deeptgi_rt.progress import Reporter

from . import __version__
from .calibration import platt_calibration
from .configs import TrainConfig, check_training_options
from .crossfit import CrossfitResult, train_crossfit
from .data import TrainingSet
from .genome import (
    GenomeOptions,
    candidate_parts,
    genome_check,
    genome_fit,
    resolve_options,
    target_degree_scores,
)
from .metrics import evaluate, youden_threshold
from .negatives import NEGATIVES_SEED_OFFSET, degree_matched_fit
from .prior import target_prior_logits, target_prior_table
from .splits import holdout
from .trainer import TrainResult, train_model


@dataclass
class FitResult:
    """A trained final model and how it did on its validation pairs.

    Attributes:
        trained: the training outcome (model at the best validation epoch), a
            :class:`~deeptgi_train.trainer.TrainResult` or a
            :class:`~deeptgi_train.crossfit.CrossfitResult`.
        threshold: Youden threshold on the validation pairs.
        validation: validation metrics at that threshold.
        fit_idx, validation_idx: int64 pair indices used for fitting and validation (both all
            pairs for a cross-fitted ensemble, whose validation scores are out-of-fold).
        target_prior: the model's ``target_prior`` table over its fitted pairs when trained
            with the prior offset (:func:`deeptgi_train.prior.target_prior_table`), else ``None``.
        genome_check: the genome-wide check of the held-out candidates
            (:func:`deeptgi_train.genome.genome_check`) when trained with genome negatives.
        genome: how those negatives were drawn (``None``: the file's labels alone).
    """

    trained: TrainResult | CrossfitResult
    threshold: float
    validation: dict[str, float]
    fit_idx: np.ndarray
    validation_idx: np.ndarray
    target_prior: dict | None = None
    genome_check: dict | None = None
    genome: GenomeOptions | None = None


def fit_model(
    training: TrainingSet,
    model_config,
    train: TrainConfig,
    *,
    protocol: str = "random",
    validation_fraction: float = 0.15,
    crossfit: int = 1,
    degree_matched: bool = False,
    prior_offset: bool = False,
    reporter: Reporter | None = None,
    genome: GenomeOptions | None = None,
) -> FitResult:
    """Train on all labelled pairs except a validation part split off by ``protocol``, or, with
    ``crossfit`` >= 2, a cross-fitted ensemble of that many members on all of them.

    ``protocol`` ``tf`` (``gene``) holds out whole TFs (targets), so early stopping and the
    threshold answer the question asked of new TFs (targets). ``degree_matched`` replaces the
    fitted pairs' negatives by degree-matched non-edges (:mod:`deeptgi_train.negatives`, seeded
    by ``train.seed + NEGATIVES_SEED_OFFSET``); the validation pairs keep theirs. ``fit_idx``
    then counts the fitted positives and drawn negatives, indices into an extended data set.
    ``prior_offset`` trains the network on the residual of the fitted pairs' target label rate
    (:mod:`deeptgi_train.prior`; each cross-fitted member its own); the model carries the
    table of those rates over all fitted pairs, and its validation figures and threshold are
    those of the scores with the offset, as the runtime scores it.

    ``genome`` (a genome data set, :mod:`deeptgi_train.genome`) fits the file's positives
    against unlabelled candidates drawn every epoch; the validation part is then the held-out
    labelled pairs *and* candidates (with ``protocol="tf"``: every candidate of the held-out
    TFs), so early stopping, the threshold, the calibration and :attr:`FitResult.genome_check`
    all speak of ranking a genome.
    """
    dataset = training.dataset
    labelled = np.flatnonzero(dataset.is_labelled())
    genome = resolve_options(dataset, genome)
    _check_groups(training, protocol, crossfit)
    check_training_options(
        crossfit=crossfit,
        members=model_config.members,
        degree_matched=degree_matched,
        prior_offset=prior_offset,
        swap_augment=train.swap_augment,
        tf_contrast=train.tf_contrast,
    )
    if crossfit != 1:
        trained = train_crossfit(
            dataset,
            labelled,
            model_config,
            train,
            protocol=protocol,
            parts=crossfit,
            seed=train.seed,
            reporter=reporter,
            prior_offset=prior_offset,
            genome=genome,
        )
        fit_idx = validation_idx = trained.validation_idx
        degree = trained.validation_degree
    else:
        fit_idx, validation_idx = holdout(
            labelled,
            dataset.labels,
            dataset.pair_tfs(),
            dataset.pair_targets(),
            protocol=protocol,
            fraction=validation_fraction,
            seed=train.seed,
        )
        fit_dataset, transform_idx, negatives = dataset, None, None
        degree = target_degree_scores(dataset, fit_idx, validation_idx)
        if genome is not None:
            fit_candidates, validation_candidates = candidate_parts(
                dataset, [fit_idx, validation_idx], protocol=protocol, seed=train.seed
            )
            plan = genome_fit(dataset, fit_idx, fit_candidates, validation_idx, validation_candidates, genome)
            degree = target_degree_scores(dataset, fit_idx, plan.validation_idx)
            fit_idx, validation_idx = plan.fit_idx, plan.validation_idx
            transform_idx, negatives = plan.transform_idx, plan.draw
        if degree_matched:
            transform_idx = fit_idx
            fit_dataset, fit_idx = degree_matched_fit(dataset, fit_idx, seed=train.seed + NEGATIVES_SEED_OFFSET)
        offset = target_prior_logits(dataset, fit_idx) if prior_offset else None
        trained = train_model(
            fit_dataset,
            fit_idx,
            validation_idx,
            model_config,
            train,
            reporter=reporter,
            description="training",
            transform_idx=transform_idx,
            logit_offset=offset,
            negatives=negatives,
        )
    labels = dataset.labels[validation_idx]
    threshold = youden_threshold(labels, trained.validation_scores)
    validation = evaluate(labels, trained.validation_scores, threshold)
    return FitResult(
        trained=trained,
        threshold=threshold,
        validation=validation,
        fit_idx=fit_idx,
        validation_idx=validation_idx,
        target_prior=target_prior_table(dataset, fit_idx) if prior_offset else None,
        genome_check=None
        if genome is None
        else genome_check(
            dataset,
            validation_idx,
            trained.validation_scores,
            degree,
            protocol=protocol,
            source="out-of-fold" if crossfit != 1 else "validation",
        ),
        genome=genome,
    )


def _check_groups(training: TrainingSet, protocol: str, crossfit: int) -> None:
    """Refuse, naming the label file, a split by TF or target with fewer groups than it needs
    (cross-fitting's parts, or 2 for one network's validation part)."""
    if protocol == "random":
        return
    labelled = training.dataset.is_labelled()
    names = training.dataset.pair_tfs() if protocol == "tf" else training.dataset.pair_targets()
    groups = len(set(names[labelled]))
    needed = max(crossfit, 2)
    if groups < needed:
        what = "TFs" if protocol == "tf" else "targets"
        how = f"in {crossfit} cross-fitted parts" if crossfit > 1 else "for a validation part"
        raise InputError(
            f"{training.pairs.source}: {groups} {what} with labelled pairs; holding out whole {what} {how} needs "
            f"at least {needed}: give --validation-split random, or fewer --crossfit parts"
        )


def model_metadata(
    training: TrainingSet,
    result: FitResult,
    model_config,
    train: TrainConfig,
    *,
    protocol: str,
    files: dict[str, str],
    command: str,
    negatives: str = "none",
    prior_offset: bool = False,
) -> ModelMetadata:
    """Contract metadata of a fitted model (state tensor names are filled in by the exporter).

    ``model_config`` is the member architecture; the stored config is the trained model's own
    (a cross-fitted ensemble's records its member count). The validation figures are stored
    with the protocol they come from (``validation_protocol``) and the positive fraction of the
    validation pairs; the AUPRC ratio and EPR of those labelled pairs are stored under
    ``balanced_*`` names (:data:`deeptgi_rt.contract.BALANCED_METRIC_NAMES`): they are not
    BEELINE's genome-wide figures. ``calibration`` is the Platt fit of the same held-out
    scores (:mod:`deeptgi_train.calibration`), never of fitted pairs' scores. A model trained
    with genome negatives (``result.genome``) records how they were drawn (``genome_negatives``) and its
    genome-wide check (``genome_wide``), and its validation figures, threshold and calibration
    come from ranking the held-out candidates, not from balanced labelled pairs."""
    dataset = training.dataset
    labelled = dataset.is_labelled()
    validation_labels = dataset.labels[result.validation_idx]
    crossfitted = isinstance(result.trained, CrossfitResult)
    return ModelMetadata(
        feature_genes=list(training.data.feature_genes),
        modalities=list(training.data.modalities),
        preprocessing=list(training.data.preprocessing),
        threshold=float(np.clip(result.threshold, 0.0, 1.0)),
        tfs=list(training.pairs.tf_names),
        config=result.trained.model.config.to_dict(),
        training={
            "data": {key: Path(value).name for key, value in files.items() if value},
            "n_pairs": int(labelled.sum()),
            "n_positive": int(dataset.labels[labelled].sum()),
            "n_candidates": int(len(dataset)),
            "n_fit": len(result.fit_idx),
            "n_validation": len(result.validation_idx),
            "protocol": protocol,
            "validation_protocol": protocol,
            "validation_positive_fraction": round(float(validation_labels.mean()), 6),
            "negatives": negatives,
            **(
                {"genome_negatives": result.genome.to_dict(), "genome_wide": result.genome_check}
                if result.genome is not None
                else {}
            ),
            "prior_offset": prior_offset,
            "best_epoch": result.trained.best_epoch,
            **(
                {"crossfit": len(result.trained.member_epochs), "member_epochs": result.trained.member_epochs}
                if isinstance(result.trained, CrossfitResult)
                else {}
            ),
            "validation_metrics": {
                BALANCED_METRIC_NAMES.get(key, key): round(float(value), 6) for key, value in result.validation.items()
            },
            "train_config": train.to_dict(),
            "notes": list(training.pairs.notes),
            "package": "deeptgi-train",
            "package_version": __version__,
            "command": command,
        },
        target_prior=result.target_prior,
        pair_features=list(result.trained.model.config.pair_features) or None,
        calibration=platt_calibration(
            result.trained.validation_scores, validation_labels, "out-of-fold" if crossfitted else "validation"
        ),
    )


def export_fitted(
    training: TrainingSet,
    result: FitResult,
    metadata: ModelMetadata,
    out: str | Path,
    *,
    checkpoint: str | Path | None = None,
) -> dict:
    """Export the fitted model to ``out`` (ONNX, verified on the validation pairs) and optionally
    save a PyTorch checkpoint. Returns the exporter's report."""
    from .export import export_onnx, save_checkpoint

    dataset = training.dataset
    # Held-out pairs of both kinds: labelled ones first in the index, candidates after them.
    held = result.validation_idx
    check_idx = np.unique(np.r_[held[:128], held[-128:]])
    pair = dataset.pair_inputs(check_idx) if result.trained.model.config.pair_features else None
    report = export_onnx(
        result.trained.model, metadata, out, check_features=dataset.inputs(check_idx), check_pairs=pair
    )
    if checkpoint is not None:
        save_checkpoint(result.trained.model, report["metadata"], checkpoint)
    return report
