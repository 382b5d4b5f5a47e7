"""Training one DeepTGI model: loss, Mixup, RAdam or AdamW, early stopping on validation AUROC.

Loss per batch = ``bce_weight * BCE-with-logits(mixed labels) + recon_weight * reconstruction
MSE`` (the paper weights BCE by 5 and adds the auto-encoder's MSE unweighted), plus, with
``tf_contrast`` > 0, the within-target contrast of each positive pair against a decoy TF of
the same target (:class:`DecoyTFs`, :func:`tf_contrast_loss`). Mixup blends
the (transformed) input features of two pairs with a Beta(alpha, alpha) weight and blends
their labels the same way. An ensemble model's members each pay their own BCE. Validation
AUROC after every epoch picks the best epoch; training stops after ``patience`` epochs
without improvement. The test fold is never seen here.

The pieces, in the order :func:`train_model` uses them: :func:`make_optimizer` (optimizer and
learning-rate schedule), :class:`TrainingPairs` (what an epoch walks over), :func:`train_epoch`
(shuffled batches of :func:`training_step`, each followed by the schedule and the weight
average), :func:`predict` on the validation pairs, and :class:`EarlyStopping` (best epoch,
its weights and scores, patience). The hyperparameters and presets are
:class:`~deeptgi_train.configs.TrainConfig` in :mod:`deeptgi_train.configs`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from deeptgi_rt.errors import InputError
from deeptgi_rt.progress import Reporter
from deeptgi_rt.target_prior import add_target_prior

from .configs import ModelConfig, TrainConfig, check_training_options
from .data import PairDataset
from .metrics import auroc

if TYPE_CHECKING:
    from torch import Tensor
    from torch.optim import Optimizer
    from torch.optim.lr_scheduler import LRScheduler

    from .genome import UnlabelledDraw
    from .model import DeepTGI, DeepTGIEnsemble

    Network = DeepTGI | DeepTGIEnsemble


@dataclass(frozen=True)
class EpochRecord:
    """One epoch of :func:`train_model`.

    Attributes:
        epoch: 1-based epoch number.
        loss: mean training loss per pair over the epoch's batches.
        validation_auroc: AUROC of the validated weights on the validation pairs after the epoch.
    """

    epoch: int
    loss: float
    validation_auroc: float


@dataclass
class TrainResult:
    """Outcome of :func:`train_model`.

    Attributes:
        model: the network with the weights of the best validation epoch, in eval mode.
        best_epoch: 1-based epoch of those weights.
        validation_auroc: validation AUROC at ``best_epoch``.
        validation_scores: float32 ``[validation pairs]`` probabilities of the best model.
        history: one record per epoch run.
        seconds: wall time of the training loop.
    """

    model: Network
    best_epoch: int
    validation_auroc: float
    validation_scores: npt.NDArray[np.float32]
    history: list[EpochRecord] = field(default_factory=list)
    seconds: float = 0.0


def setup_torch(threads: int, seed: int) -> None:
    """Seed torch and fix its thread count; ask for deterministic kernels where torch has them."""
    import torch

    torch.set_num_threads(max(1, int(threads)))
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def predict(model: Network, dataset: PairDataset, idx: np.ndarray, *, batch_size: int = 8192) -> np.ndarray:
    """Interaction probabilities of the pairs ``idx`` (int ``[n]``): float32 ``[n]``.

    Factorized as the runtime scores: each distinct TF and gene is encoded once, then the head
    runs on the pairs' gathered states (with their pair features when the data set has them).
    In eval mode this equals the whole network pair by pair; it is what makes ranking every
    candidate of the held-out TFs after each epoch affordable (a genome-wide validation part
    is 10-100x the labelled one).
    """
    import torch

    model.eval()
    idx = np.asarray(idx, dtype=np.int64)
    out = np.empty(len(idx), dtype=np.float32)
    if not len(idx):
        return out
    tf_rows, tf_at = np.unique(dataset.tf_idx[idx], return_inverse=True)
    gene_rows, gene_at = np.unique(dataset.gene_idx[idx], return_inverse=True)
    with torch.no_grad():
        tf_states = _encoded(model.encode_tf, dataset.features, tf_rows, batch_size)
        gene_states = _encoded(model.encode_gene, dataset.features, gene_rows, batch_size)
        for start in range(0, len(idx), batch_size):
            stop = min(start + batch_size, len(idx))
            pair = dataset.pair_inputs(idx[start:stop])
            logits = model.head(
                tf_states[torch.from_numpy(tf_at[start:stop])],
                gene_states[torch.from_numpy(gene_at[start:stop])],
                None if pair is None else torch.from_numpy(pair),
            )
            out[start:stop] = torch.sigmoid(logits).numpy()
    return out


def _encoded(encode, features: np.ndarray, rows: np.ndarray, batch_size: int) -> Tensor:
    """``encode`` (an encoder of the model) of the entity rows ``rows``, float32 ``[len(rows), state]``."""
    import torch

    return torch.cat(
        [
            encode(torch.from_numpy(features[rows[start : start + batch_size]]))
            for start in range(0, len(rows), batch_size)
        ]
    )


def build_model(model_config: ModelConfig, dataset: PairDataset) -> Network:
    """A fresh network sized for ``dataset``: a DeepTGI, or a DeepTGIEnsemble when ``model_config.members`` > 1."""
    from .model import build_deeptgi

    return build_deeptgi(model_config, dataset.n_modalities, dataset.n_feature_genes)


def make_optimizer(model: Network, config: TrainConfig, steps_per_epoch: int) -> tuple[Optimizer, LRScheduler | None]:
    """The optimizer of ``model``'s parameters and its learning-rate schedule (``None``: constant).

    RAdam is the paper's (weight decay as an L2 term), AdamW decouples the weight decay; the
    cosine schedule decays ``config.lr`` to 0 over ``config.epochs * steps_per_epoch`` steps.

    Raises:
        InputError: an unknown ``config.optimizer`` or ``config.lr_schedule``.
    """
    import torch

    if config.optimizer == "radam":
        optimizer = torch.optim.RAdam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    elif config.optimizer == "adamw":
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    else:
        raise InputError(f"optimizer {config.optimizer!r}: choose radam or adamw")
    if config.lr_schedule == "constant":
        return optimizer, None
    if config.lr_schedule == "cosine":
        return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * steps_per_epoch)
    raise InputError(f"lr schedule {config.lr_schedule!r}: choose constant or cosine")


@dataclass(frozen=True)
class DecoyTFs:
    """The decoy TFs of the within-target contrast (``TrainConfig.tf_contrast``).

    Built once per training run from the fitted pairs. A decoy is a TF of the fitted positives
    drawn as often as it is one (the TF of a fitted positive drawn uniformly), so the decoys'
    TFs follow the positives' TFs: a score of the TF alone (how many targets a TF has) gains
    as little from the term as a score of the target alone. Drawn uniformly over TFs instead,
    the term rewarded TFs with many edges: on mhsc-e with targets held out, where a target's
    labelled negatives come from TFs with more edges than its positives, validation target-wise
    AUROC fell from 0.828 to 0.695 (docs/training.md). A decoy pair (t', g) is never a fitted
    positive, and only fitted pairs are consulted: a validation- or test-only TF is never a decoy
    and held-out labels cannot steer training.

    Attributes:
        tfs: int64 ``[TFs]`` sorted entity rows of the fitted positives' TFs.
        weights: int64 ``[TFs]`` fitted positives of each of ``tfs``.
        positive_codes: int64 ``[fitted positives]`` sorted codes ``tf_row * n_entities + gene_row``.
        n_entities: entity rows of the data set (the code's base).
    """

    tfs: npt.NDArray[np.int64]
    weights: npt.NDArray[np.int64]
    positive_codes: npt.NDArray[np.int64]
    n_entities: int

    # Vectorized rejection rounds before the exact per-target fallback: rejection is cheap while
    # a target is a positive of a minority of the drawn TFs, the fallback serves the rest.
    REJECTION_ROUNDS = 8

    @classmethod
    def from_pairs(cls, dataset: PairDataset, idx: np.ndarray) -> DecoyTFs:
        """The decoy TFs of the fitted pairs ``idx`` (int ``[n]``) of ``dataset``."""
        n_entities = int(dataset.features.shape[0])
        positive = np.asarray(idx)[dataset.labels[idx] > 0.5]
        tf_rows, gene_rows = dataset.tf_idx[positive].astype(np.int64), dataset.gene_idx[positive].astype(np.int64)
        tfs, weights = np.unique(tf_rows, return_counts=True)
        return cls(tfs, weights.astype(np.int64), np.unique(tf_rows * n_entities + gene_rows), n_entities)

    def is_positive(self, tf_rows: np.ndarray, gene_rows: np.ndarray) -> np.ndarray:
        """bool ``[n]``: whether each (TF row, gene row) pair (int ``[n]`` each) is a fitted positive."""
        if not len(self.positive_codes):
            return np.zeros(len(tf_rows), dtype=bool)
        codes = np.asarray(tf_rows, dtype=np.int64) * self.n_entities + np.asarray(gene_rows, dtype=np.int64)
        at = np.searchsorted(self.positive_codes, codes).clip(max=len(self.positive_codes) - 1)
        return self.positive_codes[at] == codes

    def draw(self, gene_rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One decoy TF row per target row in ``gene_rows`` (int ``[n]``): int64 ``[n]``, drawn
        with probability proportional to ``weights`` among the TFs that are not a fitted positive
        of that target; -1 where no TF is."""
        gene_rows = np.asarray(gene_rows, dtype=np.int64)
        decoys = np.full(len(gene_rows), -1, dtype=np.int64)
        if not len(self.tfs):
            return decoys
        cumulative = np.cumsum(self.weights)
        open_ = np.arange(len(gene_rows))
        for _ in range(self.REJECTION_ROUNDS):
            if not len(open_):
                return decoys
            drawn = _weighted_rows(self.tfs, cumulative, rng, len(open_))
            accepted = ~self.is_positive(drawn, gene_rows[open_])
            decoys[open_[accepted]] = drawn[accepted]
            open_ = open_[~accepted]
        for i in open_:
            # The same distribution as rejection's; nothing when every such TF targets it.
            allowed = ~self.is_positive(self.tfs, np.full(len(self.tfs), gene_rows[i]))
            if allowed.any():
                decoys[i] = _weighted_rows(self.tfs[allowed], np.cumsum(self.weights[allowed]), rng, 1)[0]
        return decoys


def _weighted_rows(
    values: np.ndarray, weights_cumulative: np.ndarray, rng: np.random.Generator, size: int
) -> np.ndarray:
    """``size`` entries of ``values`` (``[k]``) drawn with replacement, each with probability
    proportional to its weight; ``weights_cumulative`` is int64 ``[k]``, the weights' cumulative
    sum (positive total). One ``rng.integers`` call per draw of ``size``."""
    return values[np.searchsorted(weights_cumulative, rng.integers(weights_cumulative[-1], size=size), side="right")]


def tf_contrast_loss(positive_logits: Tensor, decoy_logits: Tensor) -> Tensor:
    """``mean(softplus(decoy - positive))`` over pairs, summed over an ensemble's members.

    Args:
        positive_logits, decoy_logits: float32 ``[P]`` (or ``[members, P]``) logits of the
            positive pairs (t, g) and of their decoys (t', g), pair by pair.

    A score of the target alone gives ``log 2`` whatever its parameters: the term moves only
    what tells t from t' for the same target.
    """
    import torch.nn.functional as F

    return F.softplus(decoy_logits - positive_logits).mean(dim=-1).sum()


@dataclass
class TrainingPairs:
    """The pairs an epoch walks over (with their swapped copies under ``swap_augment``).

    Attributes:
        features: float32 ``[entities, modalities, feature_genes]`` tensor of every entity.
        tf_rows, gene_rows: int ``[n]`` entity rows of each pair's two sides.
        labels: float32 ``[n]`` tensor of the pairs' labels.
        offsets: float32 ``[n]`` tensor of fixed logits added to the network's (a prior the
            network fits the residual of), or ``None``.
        decoys: where the within-target contrast draws its decoy TFs, or ``None`` (no contrast).
        pair: float32 ``[n, modalities, 1]`` tensor of the pairs' pair features, or ``None``.
        pair_values: ``(tf_rows, gene_rows) -> float32 [m, modalities, 1]`` pair features of
            any entity pairs (decoys), or ``None`` for a data set without them.
    """

    features: Tensor
    tf_rows: npt.NDArray[np.int64]
    gene_rows: npt.NDArray[np.int64]
    labels: Tensor
    offsets: Tensor | None = None
    decoys: DecoyTFs | None = None
    pair: Tensor | None = None
    pair_values: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None

    @classmethod
    def from_dataset(
        cls,
        dataset: PairDataset,
        idx: np.ndarray,
        *,
        swap_augment: bool,
        logit_offset: np.ndarray | None = None,
        tf_contrast: float = 0.0,
    ) -> TrainingPairs:
        """The pairs ``idx`` (int ``[n]``) of ``dataset``, followed by their (target, TF) copies if
        ``swap_augment``; ``logit_offset`` is float ``[pairs of dataset]`` or ``None``;
        ``tf_contrast`` (the contrast's weight) > 0 prepares the decoy TFs of the within-target
        contrast.

        Raises:
            InputError: swapped pairs with a logit offset or with the contrast, or the contrast
                with a logit offset (:func:`~deeptgi_train.configs.check_training_options`).
        """
        import torch

        check_training_options(
            prior_offset=logit_offset is not None, swap_augment=swap_augment, tf_contrast=tf_contrast
        )
        decoys = DecoyTFs.from_pairs(dataset, idx) if tf_contrast > 0 else None
        tf_rows, gene_rows, labels = dataset.tf_idx[idx], dataset.gene_idx[idx], dataset.labels[idx]
        if swap_augment:
            tf_rows, gene_rows = np.r_[tf_rows, gene_rows], np.r_[gene_rows, tf_rows]
            labels = np.r_[labels, labels]
        offsets = None if logit_offset is None else torch.from_numpy(np.asarray(logit_offset, dtype=np.float32)[idx])
        pair_values = dataset.pair_values if dataset.has_pair_features else None
        pair = None if pair_values is None else torch.from_numpy(pair_values(tf_rows, gene_rows))
        return cls(
            torch.from_numpy(dataset.features),
            tf_rows,
            gene_rows,
            torch.from_numpy(labels.astype(np.float32)),
            offsets,
            decoys,
            pair,
            pair_values,
        )

    def __len__(self) -> int:
        return len(self.tf_rows)

    def contrast_batch(
        self, batch: np.ndarray, rng: np.random.Generator
    ) -> tuple[Tensor, Tensor, Tensor | None] | None:
        """Features of the positive pairs of ``batch`` (int ``[B]`` rows of these pairs) and of
        one drawn decoy each, ``(tf, gene)`` float32 ``[2P, modalities, feature_genes]``, the P
        positives first, and their pair features ``[2P, modalities, 1]`` (or ``None``);
        positives without a possible decoy are left out. ``None`` without decoys or when no
        positive is left."""
        import torch

        if self.decoys is None:
            return None
        positive = batch[self.labels.numpy()[batch] > 0.5]
        decoy_rows = self.decoys.draw(self.gene_rows[positive], rng)
        kept = decoy_rows >= 0
        positive, decoy_rows = positive[kept], decoy_rows[kept]
        if not len(positive):
            return None
        tf_rows = np.r_[self.tf_rows[positive], decoy_rows]
        gene_rows = np.r_[self.gene_rows[positive], self.gene_rows[positive]]
        pair = None if self.pair_values is None else torch.from_numpy(self.pair_values(tf_rows, gene_rows))
        return self.features[torch.from_numpy(tf_rows)], self.features[torch.from_numpy(gene_rows)], pair

    def steps_per_epoch(self, batch_size: int) -> int:
        """Optimizer steps per epoch at ``batch_size`` (at least 1)."""
        return max(1, -(-len(self) // batch_size))


class EarlyStopping:
    """The best validation score so far, the epoch, weights and scores that gave it, and patience.

    A score counts as better only if strictly greater, so ties keep the earlier epoch.
    """

    def __init__(self, patience: int, n_validation: int) -> None:
        self.patience = patience
        self.best_score = -np.inf
        self.best_epoch = 0
        self.best_state: dict[str, Tensor] | None = None
        self.best_scores = np.zeros(n_validation, dtype=np.float32)

    def update(self, epoch: int, score: float, model: Network, scores: np.ndarray) -> None:
        """Record epoch ``epoch``'s validation ``score`` and ``scores`` (float32 ``[n_validation]``),
        copying ``model``'s weights if it is the best so far."""
        if score > self.best_score:
            self.best_score, self.best_epoch, self.best_scores = score, epoch, scores
            self.best_state = copy.deepcopy(model.state_dict())

    def should_stop(self, epoch: int) -> bool:
        """Whether ``patience`` epochs have passed since the best one, counted at epoch ``epoch``."""
        return epoch - self.best_epoch >= self.patience


def training_step(
    model: Network,
    optimizer: Optimizer,
    tf: Tensor,
    gene: Tensor,
    labels: Tensor,
    config: TrainConfig,
    rng: np.random.Generator,
    offset: Tensor | None = None,
    contrast: tuple[Tensor, Tensor, Tensor | None] | None = None,
    pair: Tensor | None = None,
) -> float:
    """One optimizer step on a batch; returns its loss.

    Args:
        model: the network, in train mode.
        optimizer: from :func:`make_optimizer`.
        tf, gene: float32 ``[B, modalities, feature_genes]`` features of the batch's two sides.
        labels: float32 ``[B]``.
        config: loss weights, Mixup and input noise.
        rng: draws the Mixup weight and partners.
        offset: float32 ``[B]`` fixed logits added to the network's before the loss, or ``None``.
        contrast: ``(tf, gene, pair)`` features of P positive pairs followed by their P decoys
            (:meth:`TrainingPairs.contrast_batch`), whose :func:`tf_contrast_loss` adds with
            weight ``config.tf_contrast``; or ``None``.
        pair: float32 ``[B, modalities, 1]`` pair features of the batch, or ``None``.
    """
    import torch
    import torch.nn.functional as F

    mixup = None
    if config.mixup_alpha > 0:
        lam = float(rng.beta(config.mixup_alpha, config.mixup_alpha))
        partner = torch.from_numpy(rng.permutation(len(labels)))
        mixup = (lam, partner)
        labels = lam * labels + (1 - lam) * labels[partner]
        if offset is not None:
            offset = lam * offset + (1 - lam) * offset[partner]
    logits, reconstruction = model.forward_train(tf, gene, config.input_noise, mixup, pair)
    if offset is not None:
        logits = logits + offset
    # An ensemble returns [members, B] logits: each member's BCE counts in full.
    bce = F.binary_cross_entropy_with_logits(logits, labels.expand_as(logits), reduction="none")
    loss = config.bce_weight * bce.mean(dim=-1).sum()
    loss = loss + config.recon_weight * reconstruction
    if contrast is not None:
        # Positives and decoys go through one pass so batch norm sees them in one batch: apart,
        # each half would be normalized to its own mean and the difference partly erased.
        paired_logits, _ = model.forward_train(contrast[0], contrast[1], config.input_noise, None, contrast[2])
        positives = paired_logits.shape[-1] // 2
        loss = loss + config.tf_contrast * tf_contrast_loss(
            paired_logits[..., :positives], paired_logits[..., positives:]
        )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def train_epoch(
    model: Network,
    pairs: TrainingPairs,
    optimizer: Optimizer,
    schedule: LRScheduler | None,
    averaged: Network,
    config: TrainConfig,
    rng: np.random.Generator,
) -> float:
    """One pass over ``pairs`` in a random order; returns the mean loss per pair.

    After each step the schedule advances and, when ``averaged`` is not ``model``, the weight
    average moves towards ``model`` by ``1 - config.ema``.
    """
    import torch

    model.train()
    order = rng.permutation(len(pairs))
    total_loss = 0.0
    for start in range(0, len(order), config.batch_size):
        batch = order[start : start + config.batch_size]
        if len(batch) < 2:
            continue  # batch norm needs two samples
        tf = pairs.features[torch.from_numpy(pairs.tf_rows[batch])]
        gene = pairs.features[torch.from_numpy(pairs.gene_rows[batch])]
        index = torch.from_numpy(batch)
        offset = None if pairs.offsets is None else pairs.offsets[index]
        contrast = pairs.contrast_batch(batch, rng)
        pair = None if pairs.pair is None else pairs.pair[index]
        loss = training_step(model, optimizer, tf, gene, pairs.labels[index], config, rng, offset, contrast, pair)
        if schedule is not None:
            schedule.step()
        if averaged is not model:
            _update_average(averaged, model, config.ema)
        total_loss += loss * len(batch)
    return total_loss / max(len(pairs), 1)


def train_model(
    dataset: PairDataset,
    train_idx: np.ndarray,
    validation_idx: np.ndarray,
    model_config: ModelConfig,
    config: TrainConfig,
    *,
    reporter: Reporter | None = None,
    description: str = "training",
    transform_idx: np.ndarray | None = None,
    logit_offset: np.ndarray | None = None,
    negatives: UnlabelledDraw | None = None,
) -> TrainResult:
    """Train a model on ``train_idx`` pairs, early-stopping on ``validation_idx`` AUROC.

    Args:
        dataset: all pairs and entity features.
        train_idx, validation_idx: int ``[n]`` disjoint pair indices.
        model_config: the architecture.
        config: training hyperparameters.
        reporter: progress bar over epochs.
        description: the progress bar's label.
        transform_idx: int ``[m]`` pairs whose entities fit the input transform's statistics
            (default ``train_idx``; cross-fitting passes all training pairs so members share them).
        logit_offset: float32 ``[pairs of dataset]`` fixed logit added to the network's logit in
            the loss and in the validation ranking that picks the epoch, so the network fits the
            residual of that prior (:mod:`deeptgi_train.prior`); the returned model is the
            network alone and its ``validation_scores`` include the offset, as the runtime
            scores a model that carries the prior table.
        negatives: unlabelled candidates drawn afresh every epoch and fitted as negatives beside
            ``train_idx`` (:class:`deeptgi_train.genome.UnlabelledDraw`), or ``None``.

    Returns:
        :class:`TrainResult` holding the best-validation-epoch model.
    """
    reporter = reporter or Reporter()
    if model_config.pair_features and not dataset.has_pair_features:
        raise ValueError(
            f"config {model_config.name!r} reads pair features {list(model_config.pair_features)} but the data set "
            "has no pair PCC (build it with deeptgi_train.data.build_pair_dataset)"
        )
    setup_torch(config.threads, config.seed)
    rng = np.random.default_rng(config.seed)
    model = build_model(model_config, dataset)
    _fit_input_transform(model, dataset, train_idx if transform_idx is None else transform_idx)

    def epoch_pairs() -> TrainingPairs:
        idx = train_idx if negatives is None else np.r_[train_idx, negatives.draw(rng)]
        return TrainingPairs.from_dataset(
            dataset, idx, swap_augment=config.swap_augment, logit_offset=logit_offset, tf_contrast=config.tf_contrast
        )

    pairs = epoch_pairs()
    optimizer, schedule = make_optimizer(model, config, pairs.steps_per_epoch(config.batch_size))
    # The averaged copy is what gets validated and returned; the raw model keeps training.
    averaged = copy.deepcopy(model) if config.ema > 0 else model
    validation_labels = dataset.labels[validation_idx]
    stopping = EarlyStopping(config.patience, len(validation_idx))
    history: list[EpochRecord] = []
    started = time.perf_counter()
    with reporter.task(description, total=config.epochs, unit="epochs") as advance:
        for epoch in range(1, config.epochs + 1):
            if negatives is not None and epoch > 1:
                pairs = epoch_pairs()
            loss = train_epoch(model, pairs, optimizer, schedule, averaged, config, rng)
            scores = predict(averaged, dataset, validation_idx)
            if logit_offset is not None:
                scores = add_target_prior(scores, logit_offset[validation_idx])
            validation_auroc = auroc(validation_labels, scores)
            history.append(EpochRecord(epoch, loss, validation_auroc))
            stopping.update(epoch, validation_auroc, averaged, scores)
            advance(1)
            if stopping.should_stop(epoch):
                break
    model.load_state_dict(stopping.best_state)
    model.eval()
    return TrainResult(
        model=model,
        best_epoch=stopping.best_epoch,
        validation_auroc=float(stopping.best_score),
        validation_scores=stopping.best_scores,
        history=history,
        seconds=time.perf_counter() - started,
    )


def _fit_input_transform(model: Network, dataset: PairDataset, idx: np.ndarray) -> None:
    """Standardization statistics from the entities of the pairs ``idx`` only (never validation's)."""
    import torch

    entities = np.unique(np.r_[dataset.tf_idx[idx], dataset.gene_idx[idx]])
    model.input_transform.fit(torch.from_numpy(dataset.features[entities]))


def _update_average(averaged: Network, model: Network, decay: float) -> None:
    """``averaged <- decay * averaged + (1 - decay) * model`` for every float parameter and buffer."""
    import torch

    with torch.no_grad():
        for (_, mean), (_, value) in zip(averaged.state_dict().items(), model.state_dict().items()):
            if mean.dtype.is_floating_point:
                mean.mul_(decay).add_(value, alpha=1.0 - decay)
            else:
                mean.copy_(value)
