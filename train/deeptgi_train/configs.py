"""Presets: the DeepTGI architecture sizes and the training hyperparameters that go with them.

Three named sizes, each with a training preset of the same name (:func:`model_config`,
:func:`train_config`):

* ``paper``: the sizes of the published model (latent 512 within the paper's 400-1000 range,
  hidden layer (input + latent) / 2, 4 attention heads, 2 transformer encoder layers, dropout
  0.3, convolution kernels 50 and 25).
* ``lite`` (the default): the same architecture shrunk so that genome-scale scoring is cheap:
  each entity state is at most ~256 floats and the pair head costs < 50k multiply-adds. Its
  entity encoders start with a Fisher z + standardization of the PCC rows, and its branch
  tokens are fused by the MLP alone (the transformer fusion stays available, ``fusion=
  "attention"``; its attention uses one head: with a handful of tokens per pair, head axes
  cost more, as transposes of the whole batch, than they add).
* ``tiny``: minimal sizes for unit tests.

``ABLATIONS`` holds the steps of the paper's ablation study (its Table 2) as overrides.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from deeptgi_rt.errors import InputError

# "genome" (the default) draws negatives from the unlabelled TF x gene pairs of the data during
# training (deeptgi_train.genome); "file" trains on the file's labels alone (the DeepTGI
# paper's way; "none" is its older name); the others add sampled non-edges to the file.
NEGATIVE_CHOICES = ("genome", "file", "none", "balanced", "all", "degree-matched")
# Cross-fitted members of `deeptgi-train fit` with genome negatives when --crossfit is not given
# (docs/training.md: chosen genome-wide on validation TFs of mdc and mhsc-e).
FIT_CROSSFIT = 5
BRANCHES = ("autoencoder", "cnn", "siamese", "add_autoencoder")
FUSIONS = ("attention", "mlp")
INPUT_TRANSFORMS = ("fisher_z", "none")


@dataclass
class ModelConfig:
    """Sizes and switches of one DeepTGI architecture.

    Attributes:
        name: config name recorded in the model metadata.
        branches: the active branches, a non-empty subset of :data:`BRANCHES`.
        fusion: ``"attention"`` (transformer encoder over the branch tokens of one pair) or
            ``"mlp"`` (the branch tokens are only concatenated before the final MLP).
        token_dim: width of every branch output token and of the fusion transformer.
        fusion_heads, fusion_layers, fusion_ff: attention heads, encoder layers and
            feed-forward width of the fusion transformer.
        mlp_hidden: width of the final linear -> batch norm -> GELU -> dropout -> linear MLP.
        dropout: dropout probability everywhere dropout is used.
        ae_hidden: first (factorized) layer width of the concatenation auto-encoder; ``0`` means
            ``(input + latent) // 2`` as in the paper.
        ae_latent: latent width of both auto-encoders.
        ae_tokens, ae_heads: the concatenation auto-encoder's hidden vector is cut into
            ``ae_tokens`` chunks that attend to each other with ``ae_heads`` heads.
        decoder_hidden: hidden width of the auto-encoder decoders; ``0`` means
            ``(input + latent) // 2``.
        add_hidden: first (factorized) layer width of the element-wise-add auto-encoder;
            ``0`` means ``(input + latent) // 2``.
        cnn_channels: output channels of the 2-row convolution and of the 1D convolution.
        cnn_kernels, cnn_strides: kernel widths and strides of the two convolutions (clamped to
            the length available when there are few feature genes).
        cnn_positions: the 2-row convolution's output is average-pooled to this many positions
            (a linear map, so it stays on the entity side); ``0`` keeps every position.
        siamese_tokens, siamese_token_dim, siamese_heads: the twin branch cuts each side's
            projected features into ``siamese_tokens`` chunks of ``siamese_token_dim`` that
            attend to each other with ``siamese_heads`` heads.
        input_transform: ``"fisher_z"`` (arctanh of the PCC, clipped at |r| = ``fisher_clip``,
            then each feature standardized with statistics of the training entities) or
            ``"none"`` (the raw PCC rows, as in the paper). Both are per-entity, so they live
            in the entity encoders and cost nothing per pair.
        fisher_clip: |r| at which the Fisher transform is clipped (a gene's PCC with itself is 1).
        pair_features: per-pair statistics the head reads besides the two entity states (names
            of :data:`deeptgi_rt.contract.PAIR_FEATURE_KINDS`, i.e. ``("pcc",)``: the pair's own
            correlation, see :class:`deeptgi_train.model.PairFeatures`); ``()``: none, the
            published architecture.
        pair_context: with ``pair_features``, also give the head the pair's |Fisher z|
            standardized against each entity's own correlations with the feature genes (CLR's
            context normalisation).
        members: networks of this architecture trained side by side whose logits are averaged
            (a seed ensemble in one model; the entity state and the head's cost grow by this
            factor). 1 is a single network.
        training: the reference's training hyperparameters, kept for the record only (a
            training run takes a :class:`TrainConfig`).
    """

    name: str = "lite"
    branches: tuple[str, ...] = BRANCHES
    fusion: str = "attention"
    token_dim: int = 24
    fusion_heads: int = 1
    fusion_layers: int = 1
    fusion_ff: int = 32
    mlp_hidden: int = 32
    dropout: float = 0.3
    ae_hidden: int = 64
    ae_latent: int = 32
    ae_tokens: int = 4
    ae_heads: int = 1
    decoder_hidden: int = 256
    add_hidden: int = 64
    cnn_channels: tuple[int, int] = (4, 8)
    cnn_kernels: tuple[int, int] = (50, 4)
    cnn_strides: tuple[int, int] = (25, 2)
    cnn_positions: int = 16
    siamese_tokens: int = 4
    siamese_token_dim: int = 16
    siamese_heads: int = 2
    input_transform: str = "fisher_z"
    fisher_clip: float = 0.999
    pair_features: tuple[str, ...] = ()
    pair_context: bool = True
    members: int = 1
    training: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.branches = tuple(self.branches)
        self.cnn_channels = tuple(self.cnn_channels)
        self.cnn_kernels = tuple(self.cnn_kernels)
        self.cnn_strides = tuple(self.cnn_strides)
        self.pair_features = tuple(self.pair_features)
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` if the sizes are inconsistent."""
        if not self.branches:
            raise ValueError("model config: at least one branch is required")
        unknown = [b for b in self.branches if b not in BRANCHES]
        if unknown:
            raise ValueError(f"model config: unknown branch {unknown[0]!r} (choose from {', '.join(BRANCHES)})")
        if len(set(self.branches)) != len(self.branches):
            raise ValueError("model config: a branch is listed twice")
        if self.input_transform not in INPUT_TRANSFORMS:
            raise ValueError(
                f"model config: unknown input transform {self.input_transform!r} "
                f"(choose from {', '.join(INPUT_TRANSFORMS)})"
            )
        if not 0.0 < self.fisher_clip < 1.0:
            raise ValueError(f"model config: fisher_clip {self.fisher_clip} is not in (0, 1)")
        from deeptgi_rt.contract import PAIR_FEATURE_KINDS

        unknown_pair = [name for name in self.pair_features if name not in PAIR_FEATURE_KINDS]
        if unknown_pair or len(set(self.pair_features)) != len(self.pair_features):
            raise ValueError(
                f"model config: pair_features {list(self.pair_features)} must be distinct names of "
                f"{', '.join(PAIR_FEATURE_KINDS)}"
            )
        if self.members < 1:
            raise ValueError(f"model config: members {self.members} must be >= 1")
        if self.fusion not in FUSIONS:
            raise ValueError(f"model config: unknown fusion {self.fusion!r} (choose from {', '.join(FUSIONS)})")
        _divisible("token_dim", self.token_dim, "fusion_heads", self.fusion_heads)
        if self.ae_hidden:
            _divisible("ae_hidden", self.ae_hidden, "ae_tokens", self.ae_tokens)
            _divisible("ae_hidden / ae_tokens", self.ae_hidden // self.ae_tokens, "ae_heads", self.ae_heads)
        _divisible("siamese_token_dim", self.siamese_token_dim, "siamese_heads", self.siamese_heads)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"model config: dropout {self.dropout} is not in [0, 1)")
        for label, values in (
            ("cnn_channels", self.cnn_channels),
            ("cnn_kernels", self.cnn_kernels),
            ("cnn_strides", self.cnn_strides),
        ):
            if len(values) != 2 or min(values) < 1:
                raise ValueError(f"model config: {label} must be two positive integers")

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a JSON-ready dict (tuples become lists)."""
        return {
            key: list(value) if isinstance(value, tuple) else value for key, value in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"model config: unknown setting {unknown[0]!r}")
        return cls(**values)


def _divisible(label: str, value: int, by_label: str, by: int) -> None:
    if by < 1 or value < 1 or value % by:
        raise ValueError(f"model config: {label} ({value}) must be a positive multiple of {by_label} ({by})")


# The reference training hyperparameters, recorded with the paper config.
PAPER_TRAINING = {
    "optimizer": "RAdam",
    "lr": 1e-5,
    "weight_decay": 1e-4,
    "bce_pos_weight": 5.0,
    "mixup_beta": [0.5, 0.5],
}

_PRESETS: dict[str, dict[str, Any]] = {
    # lite fuses its branch tokens with the MLP: in the ablation the transformer fusion added
    # no accuracy, and it was about half of the pair head's cost.
    # It reads the pair's own PCC (z and |z|, no context normalisation): on the genome-wide
    # validation of benchmarks/genome_defaults.py (training TFs only; results/genome-defaults.md)
    # the pair PCC raised mean AUROC 0.804 -> 0.822 over mdc and mhsc-e, and CLR-style context
    # gained AUROC on mhsc-e (0.787 -> 0.802) but lost on mdc and lost early precision and
    # AUPRC on both (mhsc-e EPR 8.70 -> 7.86, mdc 21.7 -> 20.2).
    "lite": {"fusion": "mlp", "pair_features": ("pcc",), "pair_context": False},
    "paper": {
        "token_dim": 128,
        "fusion_heads": 4,
        "fusion_layers": 2,
        "fusion_ff": 256,
        "mlp_hidden": 128,
        "ae_hidden": 0,
        "ae_latent": 512,
        "ae_tokens": 4,
        "ae_heads": 4,
        "decoder_hidden": 0,
        "add_hidden": 0,
        "cnn_channels": (16, 32),
        "cnn_kernels": (50, 25),
        "cnn_strides": (1, 1),
        "cnn_positions": 0,
        "siamese_tokens": 4,
        "siamese_token_dim": 128,
        "siamese_heads": 4,
        "input_transform": "none",
        "training": PAPER_TRAINING,
    },
    "tiny": {
        "token_dim": 8,
        "fusion_heads": 2,
        "fusion_layers": 1,
        "fusion_ff": 8,
        "mlp_hidden": 8,
        "ae_hidden": 8,
        "ae_latent": 4,
        "ae_tokens": 2,
        "ae_heads": 2,
        "decoder_hidden": 8,
        "add_hidden": 8,
        "cnn_channels": (2, 2),
        "cnn_kernels": (4, 2),
        "cnn_strides": (2, 1),
        "cnn_positions": 4,
        "siamese_tokens": 2,
        "siamese_token_dim": 4,
        "siamese_heads": 2,
    },
}

# The paper's ablation steps (Table 2), as overrides of any named config.
ABLATIONS: dict[str, dict[str, Any]] = {
    "cnn": {"branches": ("cnn",), "fusion": "mlp"},
    "cnn+siamese": {"branches": ("cnn", "siamese"), "fusion": "mlp"},
    "cnn+siamese+autoencoder": {"branches": BRANCHES, "fusion": "mlp"},
    "full": {"branches": BRANCHES, "fusion": "attention"},
}


# How an epoch's negatives are drawn from the unlabelled candidates of the fitted TFs:
# ``uniform`` over all of them (a TF's share of negatives is its share of candidates, so the
# network still learns that some TFs have more targets than others), or ``per-tf`` (each TF
# as many negatives as ``ratio`` times its fitted positives: every TF balanced alike).
SCHEMES = ("uniform", "per-tf")
# What happens to the label file's own negatives: ``pool`` treats them as unlabelled candidates
# (drawn like any other, so their few targets weigh no more than other genes), ``keep`` fits
# every one of them each epoch besides the drawn ones.
FILE_NEGATIVES = ("pool", "keep")


@dataclass(frozen=True)
class GenomeOptions:
    """How a fit draws its negatives from the genome.

    Attributes:
        ratio: negatives drawn per fitted positive, every epoch.
        scheme: one of :data:`SCHEMES`.
        file_negatives: one of :data:`FILE_NEGATIVES`.
    """

    ratio: float = 3.0
    scheme: str = "uniform"
    file_negatives: str = "pool"

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"genome negatives: unknown scheme {self.scheme!r} (choose from {', '.join(SCHEMES)})")
        if self.file_negatives not in FILE_NEGATIVES:
            raise ValueError(f"genome negatives: file_negatives must be one of {', '.join(FILE_NEGATIVES)}")
        if not self.ratio > 0:
            raise ValueError(f"genome negatives: ratio {self.ratio} must be > 0")

    def to_dict(self) -> dict:
        return {"ratio": self.ratio, "scheme": self.scheme, "file_negatives": self.file_negatives}


def model_config(name: str = "lite", **overrides: Any) -> ModelConfig:
    """The named configuration (``"lite"``, ``"paper"`` or ``"tiny"``) with ``overrides`` applied.

    Raises ``ValueError`` for an unknown name or setting.
    """
    if name not in _PRESETS:
        raise ValueError(f"unknown model config {name!r} (choose from {', '.join(_PRESETS)})")
    values = {"name": name, **_PRESETS[name], **overrides}
    return ModelConfig.from_dict(values)


# Training hyperparameters per model config. ``paper`` follows the publication; ``lite`` and
# ``tiny`` were tuned on validation splits inside training folds only (see docs/training.md).
TRAIN_PRESETS: dict[str, dict[str, Any]] = {
    "paper": dict(
        epochs=100,
        batch_size=64,
        lr=1e-5,
        weight_decay=1e-4,
        bce_weight=5.0,
        recon_weight=1.0,
        mixup_alpha=0.5,
        patience=20,
    ),
    "lite": dict(
        epochs=300,
        batch_size=64,
        lr=1e-3,
        weight_decay=1e-4,
        bce_weight=5.0,
        recon_weight=0.1,
        mixup_alpha=0.5,
        patience=60,
        input_noise=1.0,
        optimizer="adamw",
    ),
    "tiny": dict(
        epochs=30,
        batch_size=64,
        lr=2e-3,
        weight_decay=1e-4,
        bce_weight=5.0,
        recon_weight=1.0,
        mixup_alpha=0.5,
        patience=8,
    ),
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
        tf_contrast: weight of the within-target contrast; 0 disables it. Each positive pair
            (t, g) of a batch is paired with a decoy (t', g), t' the TF of a fitted positive
            drawn uniformly (so TFs in proportion to their fitted edges) such that (t', g) is not
            a fitted positive, and the loss gains
            ``tf_contrast * mean(softplus(s(t', g) - s(t, g)))``. A score of the target alone
            cannot lower that term, so it adds gradient only towards TF-specific signal, while
            the BCE keeps learning which targets are frequent (see docs/training.md).
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
    lr_schedule: Literal["constant", "cosine"] = "constant"
    ema: float = 0.0
    input_noise: float = 0.0
    optimizer: Literal["radam", "adamw"] = "radam"
    tf_contrast: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The hyperparameters as a JSON-ready dict."""
        return asdict(self)


def train_config(name: str = "lite", **overrides: Any) -> TrainConfig:
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
    if not config.tf_contrast >= 0:
        raise InputError(f"--tf-contrast {config.tf_contrast:g}: the weight must be >= 0")
    return config


def check_training_options(
    *,
    crossfit: int = 1,
    members: int = 1,
    degree_matched: bool = False,
    prior_offset: bool = False,
    swap_augment: bool = False,
    tf_contrast: float = 0.0,
    genome: bool = False,
) -> None:
    """Refuse training options that do not combine: one line naming both flags and why.

    The CLI calls it before reading any data, and every library entry point that takes two of
    these options (cross-validation folds, :func:`deeptgi_train.fit.fit_model`, cross-fitting,
    :meth:`deeptgi_train.trainer.TrainingPairs.from_dataset`) calls it too, so a direct call is
    refused the same way.

    Args:
        crossfit: cross-fitted members (``--crossfit``; 1 = one network).
        members: side-by-side networks of one model (``--members``).
        degree_matched: degree-matched negatives for the fitted pairs (``--negatives degree-matched``).
        prior_offset: the network fits the residual of the target prior (``--prior-offset``).
        swap_augment: swapped (target, TF) copies of the pairs (``--swap-augment``).
        tf_contrast: weight of the within-target TF contrast (``--tf-contrast``; 0 = off).
        genome: negatives drawn from the genome's unlabelled pairs (``--negatives genome``).

    Raises:
        InputError: ``crossfit`` below 1, or two options that do not combine.
    """
    if crossfit < 1:
        raise InputError(f"--crossfit {crossfit}: need at least 1 (1 = one network, 2 or more = cross-fitted members)")
    contrast = f"--tf-contrast {float(tf_contrast):g}"
    refusals = (
        (
            crossfit > 1 and members > 1,
            f"--crossfit {crossfit} with --members {members}",
            f"cross-fitting already trains {crossfit} members",
        ),
        (
            crossfit > 1 and degree_matched,
            f"--crossfit {crossfit} with --negatives degree-matched",
            "each member would need its own negatives",
        ),
        (
            prior_offset and degree_matched,
            "--prior-offset with --negatives degree-matched",
            "matched negatives already take the target prior away",
        ),
        # The prior belongs to the (TF, target) direction; a swapped copy has none of its own.
        (prior_offset and swap_augment, "--prior-offset with --swap-augment", "a swapped pair has no target prior"),
        (
            tf_contrast > 0 and prior_offset,
            f"{contrast} with --prior-offset",
            "a decoy pair is no labelled pair and has no offset",
        ),
        (tf_contrast > 0 and swap_augment, f"{contrast} with --swap-augment", "a swapped pair's TF is a target"),
        (
            genome and prior_offset,
            "--prior-offset with --negatives genome",
            "the target prior is a label rate of the file's pairs, which genome negatives no longer fit",
        ),
        (
            genome and swap_augment,
            "--swap-augment with --negatives genome",
            "a swapped candidate's TF is a target without its own candidates",
        ),
    )
    for refused, flags, why in refusals:
        if refused:
            raise InputError(f"{flags}: not supported ({why}); choose one")


def with_epochs(config: TrainConfig, epochs: int | None) -> TrainConfig:
    """``config`` with ``epochs`` replaced when given (patience capped to it)."""
    if epochs is None:
        return config
    return replace(config, epochs=epochs, patience=min(config.patience, epochs))
