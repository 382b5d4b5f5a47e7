"""Training one DeepTGI model: loss, Mixup, RAdam or AdamW, early stopping on validation AUROC.

Loss per batch = ``bce_weight * BCE-with-logits(mixed labels) + recon_weight * reconstruction
MSE`` (the paper weights BCE by 5 and adds the auto-encoder's MSE unweighted). Mixup blends
the (transformed) input features of two pairs with a Beta(alpha, alpha) weight and blends
their labels the same way. An ensemble model's members each pay their own BCE. Validation
AUROC after every epoch picks the best epoch; training stops after ``patience`` epochs
without improvement. The test fold is never seen here.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from deeptgi_rt.errors import InputError
from deeptgi_rt.progress import Reporter

from .data import PairDataset
from .metrics import auroc

# Training hyperparameters per model config. ``paper`` follows the publication; ``lite`` and
# ``tiny`` were tuned on validation splits inside training folds only (see docs/training.md).
TRAIN_PRESETS: dict[str, dict] = {
    "paper": dict(epochs=100, batch_size=64, lr=1e-5, weight_decay=1e-4, bce_weight=5.0,
                  recon_weight=1.0, mixup_alpha=0.5, patience=20),
    "lite": dict(epochs=300, batch_size=64, lr=1e-3, weight_decay=1e-4, bce_weight=5.0,
                 recon_weight=0.1, mixup_alpha=0.5, patience=60, input_noise=1.0, optimizer="adamw"),
    "tiny": dict(epochs=30, batch_size=64, lr=2e-3, weight_decay=1e-4, bce_weight=5.0,
                 recon_weight=1.0, mixup_alpha=0.5, patience=8),
}


@dataclass
class TrainConfig:
    """Hyperparameters of one training run.

    Attributes:
        epochs: maximum passes over the training pairs.
        batch_size: pairs per optimizer step.
        lr: learning rate.
        weight_decay: weight decay (see ``optimizer``).
        bce_weight: weight of the classification loss.
        recon_weight: weight of the auto-encoder reconstruction MSE.
        mixup_alpha: Beta(alpha, alpha) parameter of Mixup; 0 disables Mixup.
        patience: epochs without validation AUROC improvement before stopping.
        seed: seeds torch and the numpy Generator (shuffling, Mixup).
        threads: torch intra-op threads.
        swap_augment: also train on (target, TF) copies of the training pairs, same label.
        lr_schedule: ``"constant"`` or ``"cosine"`` (cosine decay from ``lr`` to 0 over ``epochs``).
        ema: decay of an exponential moving average of the weights (and batch-norm statistics)
            that is validated and returned instead of the raw weights; 0 disables it.
        input_noise: sd of Gaussian noise added to the transformed (standardized) features of
            every training pair; 0 disables it.
        optimizer: ``"radam"`` (the paper's; weight decay as an L2 term in the gradient) or
            ``"adamw"`` (weight decay decoupled from the adaptive step).
    """

    epochs: int = 60
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    bce_weight: float = 5.0
    recon_weight: float = 1.0
    mixup_alpha: float = 0.5
    patience: int = 12
    seed: int = 0
    threads: int = 2
    swap_augment: bool = False
    lr_schedule: str = "constant"
    ema: float = 0.0
    input_noise: float = 0.0
    optimizer: str = "radam"

    def to_dict(self) -> dict:
        return asdict(self)


def train_config(name: str = "lite", **overrides) -> TrainConfig:
    """The training preset of model config ``name`` with ``overrides`` (``None`` values ignored)."""
    if name not in TRAIN_PRESETS:
        raise InputError(f"--config {name!r}: choose one of {', '.join(TRAIN_PRESETS)}")
    values = dict(TRAIN_PRESETS[name])
    values.update({key: value for key, value in overrides.items() if value is not None})
    config = TrainConfig(**values)
    if config.epochs < 1:
        raise InputError(f"--epochs {config.epochs}: need at least 1 epoch")
    if config.batch_size < 2:
        raise InputError(f"--batch-size {config.batch_size}: batch norm needs at least 2 pairs per batch")
    return config


@dataclass
class TrainResult:
    """Outcome of :func:`train_model`.

    Attributes:
        model: the network with the weights of the best validation epoch, in eval mode.
        best_epoch: 1-based epoch of those weights.
        validation_auroc: validation AUROC at ``best_epoch``.
        validation_scores: float32 ``[validation pairs]`` probabilities of the best model.
        history: per epoch ``{"epoch", "loss", "validation_auroc"}``.
        seconds: wall time of the training loop.
    """

    model: object
    best_epoch: int
    validation_auroc: float
    validation_scores: np.ndarray
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def setup_torch(threads: int, seed: int) -> None:
    """Seed torch and fix its thread count; ask for deterministic kernels where torch has them."""
    import torch

    torch.set_num_threads(max(1, int(threads)))
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def predict(model, dataset: PairDataset, idx: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
    """Interaction probabilities of the pairs ``idx``: float32 ``[len(idx)]``."""
    import torch

    model.eval()
    features = torch.from_numpy(dataset.features)
    out = np.empty(len(idx), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(idx), batch_size):
            chunk = idx[start:start + batch_size]
            tf = features[torch.from_numpy(dataset.tf_idx[chunk])]
            gene = features[torch.from_numpy(dataset.gene_idx[chunk])]
            out[start:start + len(chunk)] = torch.sigmoid(model(tf, gene)).numpy()
    return out


def build_model(model_config, dataset: PairDataset):
    """A fresh network sized for ``dataset``: a DeepTGI, or a DeepTGIEnsemble when ``model_config.members`` > 1."""
    from .model import build_deeptgi

    return build_deeptgi(model_config, dataset.n_modalities, dataset.n_feature_genes)


def train_model(dataset: PairDataset, train_idx: np.ndarray, validation_idx: np.ndarray, model_config,
                config: TrainConfig, *, reporter: Reporter | None = None, description: str = "training",
                transform_idx: np.ndarray | None = None, logit_offset: np.ndarray | None = None) -> TrainResult:
    """Train a model on ``train_idx`` pairs, early-stopping on ``validation_idx`` AUROC.

    Args:
        dataset: all pairs and entity features.
        train_idx, validation_idx: int ``[n]`` disjoint pair indices.
        model_config: a :class:`~deeptgi_train.configs.ModelConfig`.
        config: training hyperparameters.
        reporter: progress bar over epochs.
        transform_idx: int ``[m]`` pairs whose entities fit the input transform's statistics
            (default ``train_idx``; cross-fitting passes all training pairs so members share them).
        logit_offset: float32 ``[pairs of dataset]`` fixed logit added to the network's logit in
            the loss and in the validation ranking that picks the epoch, so the network fits the
            residual of that prior (:mod:`deeptgi_train.prior`); the returned model and
            ``validation_scores`` are the network's own, without it.

    Returns:
        :class:`TrainResult` holding the best-validation-epoch model.
    """
    import torch
    import torch.nn.functional as F

    reporter = reporter or Reporter()
    setup_torch(config.threads, config.seed)
    rng = np.random.default_rng(config.seed)
    model = build_model(model_config, dataset)
    # Standardization statistics come from the entities of the training pairs only.
    transform_idx = train_idx if transform_idx is None else transform_idx
    training_entities = np.unique(np.r_[dataset.tf_idx[transform_idx], dataset.gene_idx[transform_idx]])
    model.input_transform.fit(torch.from_numpy(dataset.features[training_entities]))
    optimizer = _optimizer(model, config)
    steps_per_epoch = max(1, -(-len(train_idx) * (2 if config.swap_augment else 1) // config.batch_size))
    schedule = None
    if config.lr_schedule == "cosine":
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * steps_per_epoch)
    elif config.lr_schedule != "constant":
        raise InputError(f"lr schedule {config.lr_schedule!r}: choose constant or cosine")
    # The averaged copy is what gets validated and returned; the raw model keeps training.
    averaged = copy.deepcopy(model) if config.ema > 0 else model

    features = torch.from_numpy(dataset.features)
    tf_rows = dataset.tf_idx[train_idx]
    gene_rows = dataset.gene_idx[train_idx]
    labels = dataset.labels[train_idx]
    if logit_offset is not None and config.swap_augment:
        raise InputError("a logit offset (the target prior) does not combine with swapped-pair augmentation")
    offsets = torch.from_numpy(np.asarray(logit_offset, dtype=np.float32)[train_idx]) if logit_offset is not None else None
    if config.swap_augment:
        tf_rows, gene_rows = np.r_[tf_rows, gene_rows], np.r_[gene_rows, tf_rows]
        labels = np.r_[labels, labels]
    labels_t = torch.from_numpy(labels.astype(np.float32))
    validation_labels = dataset.labels[validation_idx]

    best_state, best_auroc, best_epoch = None, -np.inf, 0
    best_scores = np.zeros(len(validation_idx), dtype=np.float32)
    history: list[dict] = []
    started = time.perf_counter()
    with reporter.task(description, total=config.epochs, unit="epochs") as advance:
        for epoch in range(1, config.epochs + 1):
            model.train()
            order = rng.permutation(len(labels))
            total_loss = 0.0
            for start in range(0, len(order), config.batch_size):
                batch = order[start:start + config.batch_size]
                if len(batch) < 2:
                    continue  # batch norm needs two samples
                tf = features[torch.from_numpy(tf_rows[batch])]
                gene = features[torch.from_numpy(gene_rows[batch])]
                y = labels_t[torch.from_numpy(batch)]
                offset = offsets[torch.from_numpy(batch)] if offsets is not None else None
                mixup = None
                if config.mixup_alpha > 0:
                    lam = float(rng.beta(config.mixup_alpha, config.mixup_alpha))
                    partner = torch.from_numpy(rng.permutation(len(batch)))
                    mixup = (lam, partner)
                    y = lam * y + (1 - lam) * y[partner]
                    offset = lam * offset + (1 - lam) * offset[partner] if offset is not None else None
                logits, reconstruction = model.forward_train(tf, gene, config.input_noise, mixup)
                if offset is not None:
                    logits = logits + offset
                # An ensemble returns [members, B] logits: each member's BCE counts in full.
                bce = F.binary_cross_entropy_with_logits(logits, y.expand_as(logits), reduction="none")
                loss = config.bce_weight * bce.mean(dim=-1).sum()
                loss = loss + config.recon_weight * reconstruction
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if schedule is not None:
                    schedule.step()
                if averaged is not model:
                    _update_average(averaged, model, config.ema)
                total_loss += float(loss.detach()) * len(batch)
            scores = predict(averaged, dataset, validation_idx)
            validation_auroc = auroc(validation_labels, scores if logit_offset is None
                                     else _logit(scores) + logit_offset[validation_idx])
            history.append({"epoch": epoch, "loss": total_loss / max(len(labels), 1),
                            "validation_auroc": validation_auroc})
            if validation_auroc > best_auroc:
                best_auroc, best_epoch, best_scores = validation_auroc, epoch, scores
                best_state = copy.deepcopy(averaged.state_dict())
            advance(1)
            if epoch - best_epoch >= config.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return TrainResult(
        model=model,
        best_epoch=best_epoch,
        validation_auroc=float(best_auroc),
        validation_scores=best_scores,
        history=history,
        seconds=time.perf_counter() - started,
    )


def _logit(probabilities: np.ndarray) -> np.ndarray:
    """float64 logit of float32 probabilities, clipped away from 0 and 1."""
    p = np.clip(probabilities.astype(np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def _optimizer(model, config: TrainConfig):
    """RAdam (the paper's, L2 weight decay) or AdamW (decoupled weight decay)."""
    import torch

    if config.optimizer == "radam":
        return torch.optim.RAdam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    raise InputError(f"optimizer {config.optimizer!r}: choose radam or adamw")


def _update_average(averaged, model, decay: float) -> None:
    """``averaged <- decay * averaged + (1 - decay) * model`` for every float parameter and buffer."""
    import torch

    with torch.no_grad():
        for (_, mean), (_, value) in zip(averaged.state_dict().items(), model.state_dict().items()):
            if mean.dtype.is_floating_point:
                mean.mul_(decay).add_(value, alpha=1.0 - decay)
            else:
                mean.copy_(value)


def with_epochs(config: TrainConfig, epochs: int | None) -> TrainConfig:
    """``config`` with ``epochs`` replaced when given (patience capped to it)."""
    if epochs is None:
        return config
    return replace(config, epochs=epochs, patience=min(config.patience, epochs))
