"""The model contract shared by ``deeptgi_train`` (which writes models) and the runtime (which
scores with them). See ``docs/model-contract.md`` for the prose version.

One ``.onnx`` file:

* inputs ``tf_features`` and ``gene_features``: float32 ``[pairs, modalities, feature_genes]``,
  the PCC rows of the TF and of the target gene against the model's feature genes, one row per
  expression modality;
* output ``score``: float32 ``[pairs]``, the interaction probability in [0, 1];
* two intermediate tensors named in the metadata (``state_tensors``): a TF state computed from
  ``tf_features`` alone and a gene state computed from ``gene_features`` alone, each
  ``[pairs, ...]``; the score depends on the inputs only through them;
* batch independence: a pair's score does not depend on the other pairs of its batch;
* metadata in ``metadata_props``, every value JSON-encoded (see :class:`ModelMetadata`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError
from .target_prior import check_target_prior

FORMAT_VERSION = 1
TF_INPUT = "tf_features"
GENE_INPUT = "gene_features"
SCORE_OUTPUT = "score"
# Optional third input: statistics of the pair's own two profiles, float32
# [pairs, modalities, len(metadata pair_features)], computed by the runtime (see PAIR_FEATURE_KINDS).
PAIR_INPUT = "pair_features"
# The per-pair statistics a model may ask for, by name: "pcc" is the Pearson correlation of the TF's
# and the target's profiles over the modality's cells, computed like the feature rows.
PAIR_FEATURE_KINDS = ("pcc",)
PREPROCESSING_CHOICES = ("none", "log1p", "normalize_total_log1p")
# How the values a model learned from were made from the expression given to training (per
# modality): by deeptgi-train's transform, or taken as given, which did ("raw_counts") or did
# not ("none") look like raw counts. Models written before the field read as "unknown".
EXPRESSION_TRANSFORMS = ("none", "log1p", "normalize_total_log1p", "raw_counts")
UNKNOWN_TRANSFORM = "unknown"

# Validation metrics stored in ``training.validation_metrics`` under these names: they are
# computed on the labelled pairs (about as many negatives as positives), so they are not the
# BEELINE figures of the same names, which are computed over all candidate pairs. Models
# written before the rename carry the plain names; :meth:`ModelMetadata.validation_metrics`
# reads both.
BALANCED_METRIC_NAMES = {"auprc_ratio": "balanced_auprc_ratio", "epr": "balanced_epr"}

# metadata_props keys; every value is a JSON document.
_REQUIRED_KEYS = (
    "deeptgi_format_version",
    "feature_genes",
    "modalities",
    "preprocessing",
    "threshold",
)


@dataclass
class ModelMetadata:
    """Everything scoring needs besides the graph itself.

    Attributes:
        feature_genes: gene names whose PCC with an entity forms its feature row, in column order.
        modalities: names of the expression modalities in input order, e.g. ``["single_cell"]`` or
            ``["single_cell", "bulk"]``.
        preprocessing: one entry per modality, ``"none"``, ``"log1p"`` or
            ``"normalize_total_log1p"``, applied by the runtime to the expression before PCC.
        threshold: the Youden-index threshold chosen on validation data (never on test data).
        state_tensors: ``{"tf": name, "gene": name}`` of the two intermediate state tensors, or
            ``None`` for a model that cannot be factorized (scored end to end).
        tfs: transcription factors the model was trained on (the default TF list when scoring).
        config: the model configuration (architecture sizes, branches).
        training: a summary of the training run (data, protocol, metrics, package version).
        expression_transform: optional, one entry per modality (:data:`EXPRESSION_TRANSFORMS`):
            what the model's training values were; ``None`` for models written before the
            field (see :meth:`transform_of`).
        label_prior: optional, the labelled pairs' base rates: ``class_balance`` (positives /
            labelled pairs, what the threshold was chosen on), ``network_density`` (positives /
            TF x target pairs of the training data, or ``None``), and the counts behind them
            (``positives``, ``labelled_pairs``, ``tfs``, ``targets``); ``None`` for models
            written before the field (see :mod:`deeptgi_rt.thresholds`).
        target_prior: optional, the per-target logit table of a model trained on the residual
            of the target prior (``genes``, ``logits``, ``default_logit``, ``source``), added to
            the network's logit when scoring (:mod:`deeptgi_rt.target_prior`); ``None``: the
            network scores alone.
        calibration: optional, Platt scaling of the held-out scores the threshold came from:
            ``{"method": "platt", "slope": a > 0, "intercept": b, "pairs": n, "source":
            "validation" | "out-of-fold"}``, ``P(edge) = sigmoid(a * logit(score) + b)`` on
            balanced pairs; ``None`` for models written before the field.
        pair_features: optional, the names (:data:`PAIR_FEATURE_KINDS`) of the per-pair
            statistics the graph's ``pair_features`` input holds, in order along its last axis;
            ``None``: the graph has no such input and scores from the two entities' features alone.
        head: optional, how the pair head may be run: ``{"broadcast": true}`` when the head graph
            also accepts states of shapes ``[b, 1, S]`` and ``[1, g, S]`` (and pair features
            ``[b, g, modalities, K]``) and returns scores ``[b, g]`` (docs/model-contract.md);
            ``{"kind": "bilinear", "rank": R, "pair_terms": [...], "fisher_clip": c}`` when the
            head is a weight-free bilinear form of the states that the runtime computes as a
            GEMM (:mod:`deeptgi_rt.bilinear_head`); ``None``: per pair only.
    """

    feature_genes: list[str]
    modalities: list[str]
    preprocessing: list[str]
    threshold: float
    state_tensors: dict[str, str] | None = None
    tfs: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    expression_transform: list[str] | None = None
    label_prior: dict[str, Any] | None = None
    target_prior: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None
    pair_features: list[str] | None = None
    head: dict[str, Any] | None = None

    def transform_of(self, modality: int) -> str:
        """The ``expression_transform`` of modality ``modality``, ``"unknown"`` when not recorded."""
        if self.expression_transform is None:
            return UNKNOWN_TRANSFORM
        return self.expression_transform[modality]

    def to_props(self) -> dict[str, str]:
        """Serialize to ONNX ``metadata_props`` (str -> JSON str)."""
        self.validate("<metadata>")
        props = {
            "deeptgi_format_version": self.format_version,
            "feature_genes": self.feature_genes,
            "modalities": self.modalities,
            "preprocessing": self.preprocessing,
            "threshold": float(self.threshold),
            "tfs": self.tfs,
            "config": self.config,
            "training": self.training,
        }
        if self.state_tensors is not None:
            props["state_tensors"] = self.state_tensors
        if self.expression_transform is not None:
            props["expression_transform"] = self.expression_transform
        if self.label_prior is not None:
            props["label_prior"] = self.label_prior
        if self.target_prior is not None:
            props["target_prior"] = self.target_prior
        if self.calibration is not None:
            props["calibration"] = self.calibration
        if self.pair_features is not None:
            props["pair_features"] = self.pair_features
        if self.head is not None:
            props["head"] = self.head
        return {key: json.dumps(value) for key, value in props.items()}

    def validation_metrics(self) -> dict[str, Any]:
        """The training run's validation figures under their current names, for old and new models.

        Returns ``{"protocol": "random" | "tf" | "gene" | None, "metrics": {name: value}}``:
        the protocol the validation pairs were held out by (``validation_protocol``, or the
        older ``protocol`` key), and the metrics with the labelled-pair AUPRC ratio and EPR
        under their ``balanced_*`` names whichever spelling the file uses. Empty for a model
        without a training summary.
        """
        stored = self.training.get("validation_metrics", {}) if isinstance(self.training, dict) else {}
        metrics = {BALANCED_METRIC_NAMES.get(key, key): value for key, value in stored.items()}
        protocol = None
        if isinstance(self.training, dict):
            protocol = self.training.get("validation_protocol", self.training.get("protocol"))
        return {"protocol": protocol, "metrics": metrics}

    @classmethod
    def from_props(cls, props: dict[str, str], source: str) -> ModelMetadata:
        """Parse ONNX ``metadata_props``; raise :class:`InputError` naming ``source`` if invalid."""
        missing = [key for key in _REQUIRED_KEYS if key not in props]
        if missing:
            raise InputError(f"{source}: not a DeepTGI model (ONNX metadata lacks {', '.join(missing)})")
        try:
            values = {key: json.loads(value) for key, value in props.items() if key in _KNOWN_KEYS}
        except json.JSONDecodeError as exc:
            raise InputError(f"{source}: DeepTGI metadata is not valid JSON ({exc.msg})") from None
        meta = cls(
            feature_genes=values["feature_genes"],
            modalities=values["modalities"],
            preprocessing=values["preprocessing"],
            threshold=values["threshold"],
            state_tensors=values.get("state_tensors"),
            tfs=values.get("tfs", []),
            config=values.get("config", {}),
            training=values.get("training", {}),
            format_version=values["deeptgi_format_version"],
            expression_transform=values.get("expression_transform"),
            label_prior=values.get("label_prior"),
            target_prior=values.get("target_prior"),
            calibration=values.get("calibration"),
            pair_features=values.get("pair_features"),
            head=values.get("head"),
        )
        meta.validate(source)
        return meta

    def validate(self, source: str) -> None:
        """Raise :class:`InputError` naming ``source`` if any field is inconsistent."""
        if self.format_version != FORMAT_VERSION:
            raise InputError(
                f"{source}: DeepTGI model format {self.format_version} is not supported "
                f"(this runtime reads format {FORMAT_VERSION})"
            )
        if not isinstance(self.feature_genes, list) or not self.feature_genes:
            raise InputError(f"{source}: metadata feature_genes must be a non-empty list")
        if len(set(self.feature_genes)) != len(self.feature_genes):
            raise InputError(f"{source}: metadata feature_genes contains duplicates")
        if not isinstance(self.modalities, list) or not self.modalities:
            raise InputError(f"{source}: metadata modalities must be a non-empty list")
        if not isinstance(self.preprocessing, list) or len(self.preprocessing) != len(self.modalities):
            raise InputError(f"{source}: metadata preprocessing must give one entry per modality")
        bad = [p for p in self.preprocessing if p not in PREPROCESSING_CHOICES]
        if bad:
            raise InputError(f"{source}: unknown preprocessing {bad[0]!r} in metadata")
        if not isinstance(self.threshold, (int, float)) or not 0.0 <= float(self.threshold) <= 1.0:
            raise InputError(f"{source}: metadata threshold {self.threshold!r} is not in [0, 1]")
        if self.expression_transform is not None and (
            not isinstance(self.expression_transform, list)
            or len(self.expression_transform) != len(self.modalities)
            or any(t not in EXPRESSION_TRANSFORMS for t in self.expression_transform)
        ):
            raise InputError(
                f"{source}: metadata expression_transform must give one of "
                f"{', '.join(EXPRESSION_TRANSFORMS)} per modality, got {self.expression_transform!r}"
            )
        if self.label_prior is not None:
            _check_label_prior(self.label_prior, source)
        if self.target_prior is not None:
            check_target_prior(self.target_prior, source)
        if self.calibration is not None:
            _check_calibration(self.calibration, source)
        if self.pair_features is not None:
            _check_pair_features(self.pair_features, source)
        if self.head is not None and (
            not isinstance(self.head, dict)
            or not isinstance(self.head.get("broadcast", False), bool)
            or not isinstance(self.head.get("kind", ""), str)
        ):
            raise InputError(
                f"{source}: metadata head must be an object whose broadcast is true or false and whose kind "
                f"is a string, got {self.head!r}"
            )
        if self.state_tensors is not None and set(self.state_tensors) != {"tf", "gene"}:
            raise InputError(f"{source}: metadata state_tensors must name exactly 'tf' and 'gene'")


_KNOWN_KEYS = set(_REQUIRED_KEYS) | {
    "state_tensors",
    "tfs",
    "config",
    "training",
    "expression_transform",
    "label_prior",
    "target_prior",
    "calibration",
    "pair_features",
    "head",
}


def _check_pair_features(names: object, source: str) -> None:
    """``pair_features``: a non-empty list of distinct known names."""
    if not isinstance(names, list) or not names or len(set(map(str, names))) != len(names):
        raise InputError(f"{source}: metadata pair_features must be a non-empty list of distinct names, got {names!r}")
    unknown = [name for name in names if name not in PAIR_FEATURE_KINDS]
    if unknown:
        raise InputError(
            f"{source}: the model asks for pair feature {unknown[0]!r}, which this runtime does not compute "
            f"(it knows {', '.join(PAIR_FEATURE_KINDS)}); update deeptgi-rt"
        )


def _check_label_prior(prior: object, source: str) -> None:
    """``label_prior``: an object whose ``class_balance`` (required) and ``network_density``
    (may be null) are fractions strictly between 0 and 1."""
    if not isinstance(prior, dict) or "class_balance" not in prior:
        raise InputError(f"{source}: metadata label_prior must be an object with class_balance")
    for key in ("class_balance", "network_density"):
        value = prior.get(key)
        if value is None and key == "network_density":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) < 1.0:
            raise InputError(f"{source}: metadata label_prior {key} {value!r} is not a fraction in (0, 1)")


def _check_calibration(calibration: object, source: str) -> None:
    """``calibration``: a Platt fit with a finite slope > 0 (a threshold moved by a slope <= 0
    would run the wrong way) and a finite intercept."""
    if not isinstance(calibration, dict) or calibration.get("method") != "platt":
        raise InputError(f"{source}: metadata calibration must be an object with method 'platt', got {calibration!r}")
    slope, intercept = calibration.get("slope"), calibration.get("intercept")
    if isinstance(slope, bool) or not isinstance(slope, (int, float)) or not math.isfinite(slope) or slope <= 0:
        raise InputError(f"{source}: metadata calibration slope {slope!r} is not a finite number > 0")
    if isinstance(intercept, bool) or not isinstance(intercept, (int, float)) or not math.isfinite(intercept):
        raise InputError(f"{source}: metadata calibration intercept {intercept!r} is not a finite number")
