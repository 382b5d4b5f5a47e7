"""Cross-fitted ensembles: K networks, each early-stopped on the part of the training pairs it did not fit.

A single network gives up a validation split (15 % by default) that it never learns from, and
its test score swings with its initialization and that split. Cross-fitting cuts the training
pairs into K parts by the run's protocol; member k fits the other K - 1 parts and early-stops
on part k. Every training pair is learned from by K - 1 members, and every training pair gets
exactly one *out-of-fold* score, from the member that did not fit it. Those scores pick the
Youden threshold and give the validation figures, as the validation split does for a single
network. The exported model averages the members' logits (a
:class:`~deeptgi_train.model.DeepTGIEnsemble`), so it keeps the factorized contract.

The input transform's statistics are fitted once, on the entities of all training pairs, and
shared by every member: they use expression only, never labels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from deeptgi_rt.errors import InputError
from deeptgi_rt.progress import Reporter

from .configs import TrainConfig, check_training_options
from .data import PairDataset
from .genome import GenomeOptions, candidate_parts, genome_fit, resolve_options, target_degree_scores
from .metrics import auroc
from .prior import target_prior_logits
from .splits import kfold
from .trainer import train_model

if TYPE_CHECKING:
    from .model import DeepTGIEnsemble

# Member seeds are spaced this far apart so they never meet the seeds of other folds (seed + fold).
MEMBER_SEED_STRIDE = 1000


@dataclass
class CrossfitResult:
    """Outcome of :func:`train_crossfit`, read like a :class:`~deeptgi_train.trainer.TrainResult`.

    Attributes:
        model: the :class:`~deeptgi_train.model.DeepTGIEnsemble` of all members, in eval mode.
        validation_idx: int64 ``[training pairs]``, the training pairs in the order of
            ``validation_scores`` (every one of them is out-of-fold for one member).
        validation_scores: float32 ``[training pairs]`` out-of-fold probabilities.
        validation_auroc: AUROC of the out-of-fold scores.
        member_epochs: best epoch of each member.
        best_epoch: median of ``member_epochs`` (one figure for tables).
        seconds: wall time of all members' training.
        validation_degree: float64 ``[validation pairs]`` the target-degree prior of each
            out-of-fold pair, counted on the positives of the member that held it out
            (genome-wide check), or ``None``.
    """

    model: DeepTGIEnsemble
    validation_idx: np.ndarray
    validation_scores: np.ndarray
    validation_auroc: float
    member_epochs: list[int]
    best_epoch: int
    seconds: float
    validation_degree: np.ndarray | None = None


def train_crossfit(
    dataset: PairDataset,
    train_idx: np.ndarray,
    model_config,
    config: TrainConfig,
    *,
    protocol: str,
    parts: int,
    seed: int,
    reporter: Reporter | None = None,
    description: str = "training",
    prior_offset: bool = False,
    genome: GenomeOptions | None = None,
    candidates: np.ndarray | None = None,
) -> CrossfitResult:
    """Train a ``parts``-member cross-fitted ensemble on the pairs ``train_idx``.

    Args:
        dataset: all pairs and entity features.
        train_idx: int ``[n]`` indices of the training pairs (fitting and validation alike).
        model_config: architecture of every member (``members`` must be 1).
        config: training hyperparameters; member k trains with seed
            ``config.seed + MEMBER_SEED_STRIDE * k``.
        protocol: how the parts are cut (``random``, ``tf`` or ``gene``, as for the test folds).
        parts: number of parts and members, >= 2.
        seed: seed of the part assignment.
        reporter: progress bars, one per member.
        prior_offset: each member fits the residual of the target prior of its own fitted
            pairs (:func:`deeptgi_train.prior.target_prior_logits`), and its out-of-fold scores
            include that member's offset.
        genome: draw each member's negatives from the unlabelled ``candidates`` (int ``[m]``,
            default every unlabelled pair of a genome data set) instead of fitting the file's
            labels alone (:mod:`deeptgi_train.genome`): the candidates are cut into the same
            parts (by TF, target or at random, as the protocol cuts), member k draws from the
            other parts' and is validated on part k's labelled pairs and candidates, so the
            out-of-fold scores rank every candidate as ``score`` ranks a genome.

    Returns:
        :class:`CrossfitResult`; its ``validation_scores`` are out-of-fold over ``train_idx``.

    Raises:
        InputError: ``parts`` below 2, options that do not combine
            (:func:`~deeptgi_train.configs.check_training_options`), or a part without both classes.
    """
    import torch

    from .model import DeepTGIEnsemble

    if parts < 2:
        # Callers that accept 1 (one network) route it elsewhere; here it is a mistake.
        raise InputError(f"--crossfit {parts}: cross-fitting needs at least 2 parts")
    check_training_options(
        crossfit=parts,
        members=model_config.members,
        prior_offset=prior_offset,
        swap_augment=config.swap_augment,
        tf_contrast=config.tf_contrast,
    )
    genome = resolve_options(dataset, genome)
    train_idx = np.sort(np.asarray(train_idx, dtype=np.int64))
    started = time.perf_counter()
    members, member_epochs = [], []
    held_idx, held_scores, held_degree = [], [], []
    labels = dataset.labels[train_idx]
    try:
        member_splits = list(
            kfold(
                labels,
                dataset.pair_tfs()[train_idx],
                dataset.pair_targets()[train_idx],
                protocol=protocol,
                folds=parts,
                seed=seed,
                both_classes=genome is None,
            )
        )
    except InputError as exc:
        raise InputError(f"--crossfit {parts}: cutting {len(train_idx)} training pairs: {exc}") from None
    part_candidates = None
    transform_idx = train_idx
    if genome is not None:
        part_candidates = candidate_parts(
            dataset, [train_idx[v] for _, v in member_splits], protocol=protocol, seed=seed, candidates=candidates
        )
        transform_idx = np.r_[train_idx, np.concatenate(part_candidates)]
    for k, (fit_part, validation_part) in enumerate(member_splits):
        member_config = replace(config, seed=config.seed + MEMBER_SEED_STRIDE * k)
        offset = target_prior_logits(dataset, train_idx[fit_part]) if prior_offset else None
        fit_idx, validation_idx, negatives = train_idx[fit_part], train_idx[validation_part], None
        if part_candidates is not None:
            others = np.concatenate([c for j, c in enumerate(part_candidates) if j != k])
            plan = genome_fit(dataset, fit_idx, others, validation_idx, part_candidates[k], genome)
            fit_idx, validation_idx, negatives = plan.fit_idx, plan.validation_idx, plan.draw
        trained = train_model(
            dataset,
            fit_idx,
            validation_idx,
            model_config,
            member_config,
            reporter=reporter,
            transform_idx=transform_idx,
            description=f"{description}, member {k + 1}/{parts}",
            logit_offset=offset,
            negatives=negatives,
        )
        held_idx.append(validation_idx)
        held_scores.append(trained.validation_scores)
        held_degree.append(target_degree_scores(dataset, train_idx[fit_part], validation_idx))
        members.append(trained.model)
        member_epochs.append(trained.best_epoch)
    order = np.argsort(np.concatenate(held_idx), kind="stable")
    validation_idx = np.concatenate(held_idx)[order]
    out_of_fold = np.concatenate(held_scores)[order].astype(np.float32)
    held_labels = dataset.labels[validation_idx]

    ensemble = DeepTGIEnsemble(replace(model_config, members=parts), dataset.n_modalities, dataset.n_feature_genes)
    with torch.no_grad():
        for slot, member in zip(ensemble.members, members):
            # The shared input transform is loaded once per member with identical statistics.
            slot.load_state_dict(member.state_dict())
    ensemble.eval()
    return CrossfitResult(
        model=ensemble,
        validation_idx=validation_idx,
        validation_scores=out_of_fold,
        validation_auroc=auroc(held_labels, out_of_fold),
        member_epochs=member_epochs,
        best_epoch=int(np.median(member_epochs)),
        seconds=time.perf_counter() - started,
        validation_degree=np.concatenate(held_degree)[order] if genome is not None else None,
    )
