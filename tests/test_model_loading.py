"""Loading DeepTGI .onnx files and cutting them into entity encoders and a pair head."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx_models import GENE_STATE, TF_STATE, build_model, reference_scores, save_model

from deeptgi_rt.errors import InputError
from deeptgi_rt.model import ScoringModel, read_model, split_model

FEATURES = [f"F{i}" for i in range(12)]


def random_features(n, modalities=1, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, modalities, len(FEATURES))).astype(np.float32)


def test_cut_gives_encoders_that_read_only_their_own_input(tmp_path):
    model, meta = read_model(save_model(build_model(FEATURES, head="mlp"), tmp_path / "m.onnx"))
    parts = split_model(model, meta)
    assert parts.factorized
    assert [i.name for i in parts.tf_encoder.graph.input] == ["tf_features"]
    assert [o.name for o in parts.tf_encoder.graph.output] == [TF_STATE]
    assert [i.name for i in parts.gene_encoder.graph.input] == ["gene_features"]
    assert {i.name for i in parts.pair_head.graph.input} == {TF_STATE, GENE_STATE}
    # The head holds none of the encoder weights.
    assert not {init.name for init in parts.pair_head.graph.initializer} & {"tf_w", "gene_w"}


@pytest.mark.parametrize("head", ["additive", "mlp"])
def test_encoders_then_head_equal_the_whole_graph(tmp_path, head):
    proto = build_model(FEATURES, head=head, modalities=("a", "b"))
    model = ScoringModel(save_model(proto, tmp_path / "m.onnx"), device="cpu")
    tf, gene = random_features(64, 2, 1), random_features(64, 2, 2)
    # A model written before pair features: two inputs, scored without pair rows.
    assert not model.uses_pair_features and model.metadata.pair_features is None
    factorized = model.pair_scores(model.tf_table(tf), model.gene_table(gene))
    assert factorized.dtype == np.float32 and factorized.shape == (64,)
    np.testing.assert_allclose(factorized, reference_scores(proto, tf, gene), atol=1e-5)
    np.testing.assert_allclose(factorized, model.end_to_end_scores(tf, gene), atol=1e-6)


def test_head_that_needs_a_raw_input_is_scored_end_to_end(tmp_path):
    proto = build_model(FEATURES)
    # Make the score read tf_features directly (outside the states): the cut is then impossible.
    graph = proto.graph
    sigmoid = next(n for n in graph.node if n.op_type == "Sigmoid")
    graph.node.remove(sigmoid)
    graph.node.extend(
        [
            onnx.helper.make_node("Flatten", ["tf_features"], ["raw_flat"], axis=1),
            onnx.helper.make_node("ReduceSum", ["raw_flat", "sum_axes"], ["raw_sum"], keepdims=0),
            onnx.helper.make_node("Add", ["pair_logit", "raw_sum"], ["pair_logit_raw"]),
            onnx.helper.make_node("Sigmoid", ["pair_logit_raw"], ["score"]),
        ]
    )
    model, meta = read_model(save_model(proto, tmp_path / "raw.onnx"))
    parts = split_model(model, meta)
    assert not parts.factorized and "tf_features" in parts.reason
    scoring = ScoringModel(tmp_path / "raw.onnx", device="cpu")
    tf, gene = random_features(8, 1, 3), random_features(8, 1, 4)
    np.testing.assert_allclose(
        scoring.pair_scores(scoring.tf_table(tf), scoring.gene_table(gene)),
        reference_scores(proto, tf, gene),
        atol=1e-5,
    )


def test_unknown_state_tensor_name_is_an_input_error(tmp_path):
    proto = build_model(FEATURES)
    for prop in proto.metadata_props:
        if prop.key == "state_tensors":
            prop.value = '{"tf": "nowhere", "gene": "gene_state"}'
    model, meta = read_model(save_model(proto, tmp_path / "m.onnx"))
    with pytest.raises(InputError, match="nowhere"):
        split_model(model, meta, "m.onnx")


def test_input_width_must_match_the_feature_genes(tmp_path):
    proto = build_model(FEATURES)
    for prop in proto.metadata_props:
        if prop.key == "feature_genes":
            prop.value = '["only", "two"]'
    with pytest.raises(InputError, match="12 feature genes but the metadata lists 2"):
        read_model(save_model(proto, tmp_path / "m.onnx"))


@pytest.mark.parametrize(
    "content, match",
    [(None, "not found"), (b"hello world\n", "not an ONNX model"), (b"\x00\x01garbage" * 10, "not an ONNX model")],
)
def test_unreadable_model_files(tmp_path, content, match):
    path = tmp_path / "m.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=match):
        read_model(path)


def test_model_exported_by_deeptgi_train_loads_factorized(tmp_path):
    torch = pytest.importorskip("torch")
    export = pytest.importorskip("deeptgi_train.export")
    from deeptgi_rt.contract import ModelMetadata
    from deeptgi_train.configs import model_config
    from deeptgi_train.model import DeepTGI

    torch.manual_seed(0)
    net = DeepTGI(model_config("tiny"), 1, len(FEATURES)).eval()
    meta = ModelMetadata(feature_genes=FEATURES, modalities=["single_cell"], preprocessing=["none"], threshold=0.5)
    export.export_onnx(net, meta, tmp_path / "tiny.onnx")
    model = ScoringModel(tmp_path / "tiny.onnx", device="cpu")
    assert model.factorized
    tf, gene = random_features(32, 1, 5), random_features(32, 1, 6)
    factorized = model.pair_scores(model.tf_table(tf), model.gene_table(gene))
    with torch.no_grad():
        expected = torch.sigmoid(net(torch.from_numpy(tf), torch.from_numpy(gene))).numpy()
    np.testing.assert_allclose(factorized, expected, atol=1e-5)


def test_parallel_slices_give_the_single_session_scores(tmp_path, monkeypatch):
    from deeptgi_rt.model import PairRunner

    proto = build_model(FEATURES, head="mlp")
    path = save_model(proto, tmp_path / "m.onnx")
    monkeypatch.setattr(PairRunner, "MIN_SLICE", 1)
    parallel = ScoringModel(path, device="cpu", threads=3)
    single = ScoringModel(path, device="cpu", threads=1)
    assert len(parallel._head._sessions) == 3 and parallel._head._pool is not None
    tf, gene = random_features(100, 1, 7), random_features(100, 1, 8)
    scores = parallel.pair_scores(parallel.tf_table(tf), parallel.gene_table(gene))
    np.testing.assert_array_equal(scores, single.pair_scores(single.tf_table(tf), single.gene_table(gene)))
    np.testing.assert_allclose(scores, reference_scores(proto, tf, gene), atol=1e-5)


def test_metadata_asking_for_pair_features_the_graph_lacks_is_an_input_error(tmp_path):
    proto = build_model(FEATURES)
    onnx.helper.set_model_props(proto, {**{p.key: p.value for p in proto.metadata_props}, "pair_features": '["pcc"]'})
    with pytest.raises(InputError, match="no input 'pair_features'"):
        read_model(save_model(proto, tmp_path / "m.onnx"))
