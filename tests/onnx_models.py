"""Small contract-conforming DeepTGI models built with ``onnx.helper`` (no torch).

Each builder returns an ``onnx.ModelProto`` whose inputs are ``tf_features`` and
``gene_features`` (float32 ``[pairs, modalities, feature_genes]``), whose output is ``score``
(float32 ``[pairs]``), and whose metadata follows ``deeptgi_rt.contract.ModelMetadata``. The
states are ``tf_state = Tanh(Flatten(tf_features) @ W_tf + b_tf)`` and the same for genes, so
the graph is factorized by construction. Two heads:

* ``additive``: ``Sigmoid(ReduceSum(Relu(tf_state + gene_state) * v) + c)``;
* ``mlp``: ``Sigmoid(w3 . Tanh(W2 @ Relu(W1 @ [tf, gene, tf * gene] + b1) + b2) + c)``, a
  two-layer nonlinear head with a multiplicative interaction term.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from deeptgi_rt.contract import GENE_INPUT, SCORE_OUTPUT, TF_INPUT, ModelMetadata

OPSET = 17
TF_STATE = "tf_state"
GENE_STATE = "gene_state"


def build_model(
    feature_genes: Sequence[str],
    *,
    modalities: Sequence[str] = ("single_cell",),
    preprocessing: Sequence[str] | None = None,
    head: str = "additive",
    state_size: int = 8,
    hidden: int = 16,
    with_state_tensors: bool = True,
    tfs: Sequence[str] = (),
    threshold: float = 0.5,
    seed: int = 0,
    weight_scale: float = 1.0,
    expression_transform: Sequence[str] | None = None,
    training: dict | None = None,
) -> onnx.ModelProto:
    """A DeepTGI-contract model with random weights.

    Args:
        feature_genes: the model's feature gene names (input width).
        modalities: modality names; their count is the inputs' middle axis.
        preprocessing: per modality ``"none"`` or ``"log1p"`` (default all ``"none"``).
        head: ``"additive"`` or ``"mlp"`` (see the module docstring).
        state_size: width of each entity state.
        hidden: width of the mlp head's hidden layers.
        with_state_tensors: write ``state_tensors`` metadata (``False`` gives a model that must
            be scored end to end).
        tfs: the ``tfs`` metadata.
        threshold: the ``threshold`` metadata.
        seed: weight seed.
        weight_scale: multiplies the encoder weights (spreads the scores).
        expression_transform: the optional ``expression_transform`` metadata.
        training: the ``training`` metadata (default a stub).

    Returns:
        The model, checked with ``onnx.checker``.
    """
    rng = np.random.default_rng(seed)
    n_mod, n_feat = len(modalities), len(feature_genes)
    width = n_mod * n_feat
    inits: list[TensorProto] = []

    def weight(name: str, shape, scale: float) -> str:
        inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name))
        return name

    enc_scale = weight_scale * 2.0 / np.sqrt(width)
    nodes = []
    for side, source, state in (("tf", TF_INPUT, TF_STATE), ("gene", GENE_INPUT, GENE_STATE)):
        nodes += [
            helper.make_node("Flatten", [source], [f"{side}_flat"], axis=1),
            helper.make_node(
                "MatMul", [f"{side}_flat", weight(f"{side}_w", (width, state_size), enc_scale)], [f"{side}_proj"]
            ),
            helper.make_node("Add", [f"{side}_proj", weight(f"{side}_b", (state_size,), 0.5)], [f"{side}_pre"]),
            helper.make_node("Tanh", [f"{side}_pre"], [state]),
        ]
    if head == "additive":
        inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "sum_axes"))
        nodes += [
            helper.make_node("Add", [TF_STATE, GENE_STATE], ["pair_sum"]),
            helper.make_node("Relu", ["pair_sum"], ["pair_act"]),
            helper.make_node("Mul", ["pair_act", weight("head_v", (state_size,), 1.0)], ["pair_weighted"]),
            helper.make_node("ReduceSum", ["pair_weighted", "sum_axes"], ["pair_logit0"], keepdims=0),
            helper.make_node("Add", ["pair_logit0", weight("head_c", (), 0.3)], ["pair_logit"]),
        ]
    elif head == "mlp":
        inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "squeeze_axes"))
        nodes += [
            helper.make_node("Mul", [TF_STATE, GENE_STATE], ["pair_product"]),
            helper.make_node("Concat", [TF_STATE, GENE_STATE, "pair_product"], ["pair_in"], axis=1),
            helper.make_node("MatMul", ["pair_in", weight("head_w1", (3 * state_size, hidden), 0.6)], ["h1_proj"]),
            helper.make_node("Add", ["h1_proj", weight("head_b1", (hidden,), 0.2)], ["h1_pre"]),
            helper.make_node("Relu", ["h1_pre"], ["h1"]),
            helper.make_node("MatMul", ["h1", weight("head_w2", (hidden, hidden), 0.4)], ["h2_proj"]),
            helper.make_node("Add", ["h2_proj", weight("head_b2", (hidden,), 0.2)], ["h2_pre"]),
            helper.make_node("Tanh", ["h2_pre"], ["h2"]),
            helper.make_node("MatMul", ["h2", weight("head_w3", (hidden, 1), 1.0)], ["pair_logit2d"]),
            helper.make_node("Squeeze", ["pair_logit2d", "squeeze_axes"], ["pair_logit0"]),
            helper.make_node("Add", ["pair_logit0", weight("head_c", (), 0.3)], ["pair_logit"]),
        ]
    else:
        raise ValueError(f"unknown head {head!r}")
    nodes.append(helper.make_node("Sigmoid", ["pair_logit"], [SCORE_OUTPUT]))

    inputs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, ["pairs", n_mod, n_feat])
        for name in (TF_INPUT, GENE_INPUT)
    ]
    outputs = [helper.make_tensor_value_info(SCORE_OUTPUT, TensorProto.FLOAT, ["pairs"])]
    graph = helper.make_graph(nodes, f"deeptgi_test_{head}", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="tests")
    model.ir_version = 8
    metadata = ModelMetadata(
        feature_genes=list(feature_genes),
        modalities=list(modalities),
        preprocessing=list(preprocessing or ["none"] * n_mod),
        threshold=float(threshold),
        state_tensors={"tf": TF_STATE, "gene": GENE_STATE} if with_state_tensors else None,
        tfs=list(tfs),
        config={"name": f"test-{head}", "state_size": state_size},
        training=training if training is not None else {"data": "synthetic", "metrics": {"auroc": 0.5}},
        expression_transform=list(expression_transform) if expression_transform is not None else None,
    )
    helper.set_model_props(model, metadata.to_props())
    onnx.checker.check_model(model)
    return model


def with_metadata(model: onnx.ModelProto, **fields) -> onnx.ModelProto:
    """``model`` with the given :class:`ModelMetadata` fields (e.g. ``label_prior=``) set, in place."""
    meta = ModelMetadata.from_props({p.key: p.value for p in model.metadata_props}, "m")
    for name, value in fields.items():
        setattr(meta, name, value)
    del model.metadata_props[:]
    helper.set_model_props(model, meta.to_props())
    return model


def save_model(model: onnx.ModelProto, path: str | Path) -> Path:
    """Write ``model`` to ``path`` and return the path."""
    path = Path(path)
    onnx.save(model, str(path))
    return path


def reference_scores(model: onnx.ModelProto, tf_features: np.ndarray, gene_features: np.ndarray) -> np.ndarray:
    """Scores float32 ``[pairs]`` of the whole graph via the ONNX reference evaluator (plain numpy)."""
    from onnx.reference import ReferenceEvaluator

    evaluator = ReferenceEvaluator(model)
    (scores,) = evaluator.run(
        None, {TF_INPUT: tf_features.astype(np.float32), GENE_INPUT: gene_features.astype(np.float32)}
    )
    return np.asarray(scores, dtype=np.float32)


def synthetic_expression(n_genes: int = 40, n_cells: int = 60, seed: int = 0, prefix: str = "G"):
    """A correlated synthetic data set: gene names and float32 ``[genes, cells]`` non-negative values."""
    rng = np.random.default_rng(seed)
    programs = rng.standard_normal((4, n_cells))
    values = rng.standard_normal((n_genes, 4)) @ programs + rng.standard_normal((n_genes, n_cells))
    values = np.abs(values).astype(np.float32)
    return [f"{prefix}{i:03d}" for i in range(n_genes)], values


def write_genes_by_cells_csv(path: str | Path, genes: Sequence[str], values: np.ndarray) -> Path:
    """Write ``values`` (``[genes, cells]``) as a BEELINE-style CSV: first column gene names."""
    path = Path(path)
    lines = ["gene," + ",".join(f"c{j}" for j in range(values.shape[1]))]
    lines += [name + "," + ",".join(f"{v:.6g}" for v in row) for name, row in zip(genes, values)]
    path.write_text("\n".join(lines) + "\n")
    return path
