"""Write a trained :class:`DeepTGI` as one ONNX file that satisfies the model contract, and
save / load PyTorch checkpoints.

The ONNX graph has inputs ``tf_features`` and ``gene_features`` (float32
``[pairs, modalities, feature_genes]``, dynamic ``pairs``), output ``score`` (float32 ``[pairs]``,
the sigmoid of the logit) and two named intermediate tensors, ``tf_state`` and ``gene_state``,
that separate the graph into a TF encoder, a gene encoder and a pair head. The file only
appears at its path after onnxruntime reproduced PyTorch's scores, end to end and through the
three cut-out subgraphs, on check pairs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx.utils
import torch
from torch import Tensor, nn

from deeptgi_rt.atomic import atomic_output, check_output_path
from deeptgi_rt.contract import GENE_INPUT, PAIR_INPUT, SCORE_OUTPUT, TF_INPUT, ModelMetadata
from deeptgi_rt.errors import InputError

from .configs import ModelConfig
from .model import DeepTGI, build_deeptgi

STATE_TENSORS = {"tf": "tf_state", "gene": "gene_state"}
# Opset 20 has a Gelu operator (one fused kernel instead of five elementwise nodes).
OPSET = 20
CHECKPOINT_FORMAT = 1


class ExportError(RuntimeError):
    """The exported graph does not reproduce the PyTorch model; nothing was written."""


class _ScoringGraph(nn.Module):
    """The exported computation: the score plus the two states as extra outputs, so that the
    exporter names them; the extra outputs are dropped from the graph afterwards."""

    def __init__(self, model: DeepTGI):
        super().__init__()
        self.model = model

    def forward(
        self, tf_features: Tensor, gene_features: Tensor, pair_features: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        tf_state = self.model.encode_tf(tf_features)
        gene_state = self.model.encode_gene(gene_features)
        return torch.sigmoid(self.model.head(tf_state, gene_state, pair_features)), tf_state, gene_state


def uses_pair_features(model: DeepTGI) -> bool:
    """Whether ``model``'s head reads the contract's ``pair_features`` input."""
    return bool(model.config.pair_features)


def model_description(model: DeepTGI) -> dict[str, Any]:
    """The model's configuration plus its input dimensions and state width, for metadata."""
    return {
        **model.config.to_dict(),
        "n_modalities": model.n_modalities,
        "n_feature_genes": model.n_feature_genes,
        "state_size": model.state_size,
    }


def _check_dimensions(model: DeepTGI, metadata: ModelMetadata) -> None:
    if len(metadata.feature_genes) != model.n_feature_genes or len(metadata.modalities) != model.n_modalities:
        raise ValueError(
            f"metadata describes {len(metadata.modalities)} modalities x {len(metadata.feature_genes)} feature genes "
            f"but the model takes {model.n_modalities} x {model.n_feature_genes}"
        )


@contextlib.contextmanager
def _quiet_exporter():
    # The exporter reports progress and optional-dependency notices that mean nothing to a user.
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _trace(model: DeepTGI, opset: int) -> onnx.ModelProto:
    """ONNX graph of ``model`` (in eval mode) with outputs score, tf_state, gene_state."""
    device = next(model.parameters()).device
    example = torch.zeros(2, model.n_modalities, model.n_feature_genes, device=device)
    pairs = torch.export.Dim("pairs")
    inputs: tuple[Tensor, ...] = (example, example.clone())
    names = [TF_INPUT, GENE_INPUT]
    dynamic = {"tf_features": {0: pairs}, "gene_features": {0: pairs}}
    if uses_pair_features(model):
        inputs += (torch.zeros(2, model.n_modalities, len(model.config.pair_features), device=device),)
        names.append(PAIR_INPUT)
        dynamic["pair_features"] = {0: pairs}
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            _ScoringGraph(model),
            inputs,
            input_names=names,
            output_names=[SCORE_OUTPUT, STATE_TENSORS["tf"], STATE_TENSORS["gene"]],
            dynamic_shapes=dynamic,
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    return program.model_proto


def _finish_graph(proto: onnx.ModelProto, metadata: ModelMetadata) -> None:
    """Turn the state outputs into intermediate tensors and attach the metadata.

    The states keep their names and their type and shape as ``value_info``, which is what
    ``onnx.utils.Extractor`` needs to cut the graph at them.
    """
    outputs = list(proto.graph.output)
    del proto.graph.output[:]
    proto.graph.output.extend(output for output in outputs if output.name == SCORE_OUTPUT)
    states = set(STATE_TENSORS.values())
    kept_info = [info for info in proto.graph.value_info if info.name not in states]
    del proto.graph.value_info[:]
    proto.graph.value_info.extend(kept_info)
    proto.graph.value_info.extend(output for output in outputs if output.name in states)
    del proto.metadata_props[:]
    for key, value in metadata.to_props().items():
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto, full_check=True)


def _check_pairs(model: DeepTGI, check_features: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    shape = (model.n_modalities, model.n_feature_genes)
    if check_features is None:
        # PCC-like values; a fixed seed keeps exports reproducible.
        rng = np.random.default_rng(0)
        return tuple(rng.uniform(-1.0, 1.0, (64, *shape)).astype(np.float32) for _ in range(2))
    tf_features, gene_features = (np.ascontiguousarray(a, dtype=np.float32) for a in check_features)
    if (
        tf_features.shape != gene_features.shape
        or tf_features.ndim != 3
        or tf_features.shape[1:] != shape
        or tf_features.shape[0] < 1
    ):
        raise ValueError(
            f"check features must be two float32 arrays [pairs, {shape[0]}, {shape[1]}], "
            f"got {tf_features.shape} and {gene_features.shape}"
        )
    return tf_features, gene_features


def _session(proto: onnx.ModelProto):
    import onnxruntime

    return onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def parity(
    proto: onnx.ModelProto,
    tf_features: np.ndarray,
    gene_features: np.ndarray,
    expected: np.ndarray,
    pair_features: np.ndarray | None = None,
) -> dict[str, float]:
    """Max abs differences between ``expected`` float32 ``[pairs]`` scores and onnxruntime's.

    Checks the whole graph, the first pair scored alone, and the graph cut at the state tensors
    into a TF encoder, a gene encoder and a pair head (the way the runtime runs it); the pair
    head takes ``pair_features`` (float32 ``[pairs, modalities, K]``) too when given.
    """
    full = _session(proto)
    pair_feed = {} if pair_features is None else {PAIR_INPUT: pair_features}
    feeds = {TF_INPUT: tf_features, GENE_INPUT: gene_features, **pair_feed}
    diffs = {"full": float(np.abs(full.run([SCORE_OUTPUT], feeds)[0] - expected).max())}
    alone = full.run([SCORE_OUTPUT], {name: values[:1] for name, values in feeds.items()})[0]
    diffs["single_pair"] = float(np.abs(alone - expected[:1]).max())
    extractor = onnx.utils.Extractor(proto)
    tf_name, gene_name = STATE_TENSORS["tf"], STATE_TENSORS["gene"]
    tf_state = _session(extractor.extract_model([TF_INPUT], [tf_name])).run(None, {TF_INPUT: tf_features})[0]
    gene_state = _session(extractor.extract_model([GENE_INPUT], [gene_name])).run(None, {GENE_INPUT: gene_features})[0]
    head = _session(extractor.extract_model([tf_name, gene_name, *pair_feed], [SCORE_OUTPUT]))
    factorized = head.run(None, {tf_name: tf_state, gene_name: gene_state, **pair_feed})[0]
    diffs["factorized"] = float(np.abs(factorized - expected).max())
    return diffs


def export_onnx(
    model: DeepTGI,
    metadata: ModelMetadata,
    path: str | os.PathLike,
    *,
    check_features: tuple[np.ndarray, np.ndarray] | None = None,
    check_pairs: np.ndarray | None = None,
    atol: float = 1e-5,
    opset: int = OPSET,
) -> dict[str, Any]:
    """Write ``model`` with ``metadata`` as one ONNX file at ``path``, verified before it appears.

    Args:
        model: the trained model; exported in eval mode (batch norm uses its running statistics,
            dropout is off), its training mode is restored afterwards.
        metadata: contract metadata; ``state_tensors`` is set to the exported state names and the
            model's configuration is merged into ``config``.
        path: target ``.onnx`` path; written atomically.
        check_features: ``(tf_features, gene_features)``, float32 ``[pairs, modalities,
            feature_genes]`` each, held-out pairs to verify on; random PCC-like values if None.
        check_pairs: float32 ``[pairs, modalities, K]`` those pairs' pair features, for a model
            whose head reads them; random PCC-like values if None.
        atol: the largest accepted absolute score difference between onnxruntime and PyTorch.
        opset: ONNX opset version (>= 17).

    Returns:
        ``{"max_abs_diff": float, "diffs": {...}, "state_tensors": {"tf": ..., "gene": ...},
        "metadata": ModelMetadata}``.

    Raises:
        InputError: the output path cannot be written or the metadata is invalid.
        ExportError: onnxruntime disagrees with PyTorch by more than ``atol`` (no file written).
    """
    target = check_output_path(path)
    _check_dimensions(model, metadata)
    metadata = dataclasses.replace(
        metadata,
        state_tensors=dict(STATE_TENSORS),
        config={**metadata.config, **model_description(model)},
        # The graph's inputs decide the metadata, so the two can never disagree.
        pair_features=list(model.config.pair_features) or None,
    )
    metadata.validate(str(target))
    tf_features, gene_features = _check_pairs(model, check_features)
    pair_features = None
    if uses_pair_features(model):
        shape = (len(tf_features), model.n_modalities, len(model.config.pair_features))
        if check_pairs is None:
            check_pairs = np.random.default_rng(1).uniform(-1.0, 1.0, shape)
        pair_features = np.ascontiguousarray(check_pairs, dtype=np.float32)
        if pair_features.shape != shape:
            raise ValueError(f"check pairs must be float32 {list(shape)}, got {list(pair_features.shape)}")
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        with torch.no_grad():
            logits = model(
                torch.from_numpy(tf_features).to(device),
                torch.from_numpy(gene_features).to(device),
                None if pair_features is None else torch.from_numpy(pair_features).to(device),
            )
            expected = torch.sigmoid(logits).cpu().numpy()
        proto = _trace(model, opset)
    finally:
        model.train(was_training)
    _finish_graph(proto, metadata)
    with atomic_output(target) as partial:
        onnx.save_model(proto, partial)
        diffs = parity(onnx.load_model(partial), tf_features, gene_features, expected, pair_features)
        worst = max(diffs.values())
        if not worst <= atol:
            raise ExportError(
                f"{target}: exported graph disagrees with PyTorch (max abs score difference {worst:.3g} > {atol:.3g}: "
                + ", ".join(f"{k} {v:.3g}" for k, v in diffs.items())
                + "); nothing written"
            )
    return {"max_abs_diff": worst, "diffs": diffs, "state_tensors": dict(STATE_TENSORS), "metadata": metadata}


def with_training_data(metadata: ModelMetadata, training, result=None) -> ModelMetadata:
    """``metadata`` completed with what the training data say about scoring (additive contract
    fields), for a :class:`~deeptgi_train.data.TrainingSet`: ``expression_transform`` per
    modality (the transforms used and the values read) and ``label_prior`` (see
    :func:`label_prior`). For a fit with genome negatives (``result`` a
    :class:`~deeptgi_train.fit.FitResult` with a ``genome_check``) the threshold is the Youden
    point of held-out candidates, not of balanced labelled pairs. The Youden point does not
    depend on the class balance (it is where the two classes' score densities are equal, the
    decision point of balanced classes), so ``class_balance`` is 0.5, and ``youden`` scoring moves
    it to the network's density exactly as for a balanced validation part (docs/scoring.md)."""
    data = training.data
    prior = label_prior(training.pairs.tfs, training.pairs.labels, len(data.genes))
    if result is not None and result.genome_check is not None:
        prior = genome_label_prior(prior)
    return dataclasses.replace(
        metadata,
        expression_transform=list(data.expression_transform or []) or None,
        label_prior=prior,
    )


def genome_label_prior(prior: dict[str, Any]) -> dict[str, Any]:
    """``label_prior`` of a model fitted with genome negatives: its threshold is the Youden point
    of held-out genome candidates, the decision point of balanced classes (see
    :func:`with_training_data`), so ``class_balance`` is 0.5."""
    return {**prior, "class_balance": 0.5, "threshold_pairs": "genome candidates, Youden point"}


def label_prior(pair_tfs, labels, n_genes: int) -> dict[str, Any]:
    """The base rates of labelled pairs (the contract's ``label_prior``).

    Args:
        pair_tfs: the TF of each labelled pair (negatives included), ``[pairs]``.
        labels: 0/1 ``[pairs]``.
        n_genes: genes of the training data (every TF's candidate targets, itself excluded).

    Returns:
        ``{"class_balance": positives / labelled pairs, "network_density": positives /
        (TFs x (n_genes - 1)), "positives", "labelled_pairs", "tfs", "targets"}``: the
        density is that of the known positives over every TF -> target pair of the data,
        which the scorer scores genome-wide.
    """
    labels = np.asarray(labels)
    positives, tfs = int(np.count_nonzero(labels == 1)), len(set(pair_tfs))
    space = tfs * (n_genes - 1)
    density = positives / space if space > 0 and 0 < positives < space else None
    return {
        "class_balance": round(positives / len(labels), 6),
        "network_density": density and round(density, 6),
        "positives": positives,
        "labelled_pairs": int(len(labels)),
        "tfs": tfs,
        "targets": n_genes - 1,
    }


def save_checkpoint(model: DeepTGI, metadata: ModelMetadata | None, path: str | os.PathLike) -> Path:
    """Save weights, configuration, input dimensions and (optional) metadata to ``path`` atomically."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": model.config.to_dict(),
        "n_modalities": model.n_modalities,
        "n_feature_genes": model.n_feature_genes,
        "state_dict": model.state_dict(),
        "metadata": metadata.to_props() if metadata is not None else None,
    }
    with atomic_output(path) as partial:
        torch.save(payload, partial)
    return Path(path)


def load_checkpoint(path: str | os.PathLike) -> tuple[DeepTGI, ModelMetadata | None]:
    """``(model in eval mode, metadata or None)`` from a file written by :func:`save_checkpoint`.

    Raises :class:`InputError` naming ``path`` if it is missing or not a DeepTGI checkpoint.
    """
    source = str(path)
    if not Path(path).is_file():
        raise InputError(f"{source}: checkpoint file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        raise InputError(f"{source}: not a DeepTGI checkpoint ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{source}: not a DeepTGI checkpoint (format {CHECKPOINT_FORMAT} expected)")
    try:
        config = ModelConfig.from_dict(payload["config"])
        model = build_deeptgi(config, payload["n_modalities"], payload["n_feature_genes"])
        model.load_state_dict(payload["state_dict"])
    except (KeyError, ValueError, RuntimeError) as exc:
        raise InputError(f"{source}: damaged DeepTGI checkpoint ({str(exc).splitlines()[0]})") from None
    metadata = ModelMetadata.from_props(payload["metadata"], source) if payload["metadata"] is not None else None
    return model.eval(), metadata
