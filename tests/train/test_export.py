"""ONNX export: parity with PyTorch, the contract's graph and metadata, cut points, refusal, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from deeptgi_rt.contract import GENE_INPUT, SCORE_OUTPUT, TF_INPUT, ModelMetadata  # noqa: E402
from deeptgi_rt.errors import InputError  # noqa: E402
from deeptgi_train import export as export_module  # noqa: E402
from deeptgi_train.configs import model_config  # noqa: E402
from deeptgi_train.export import ExportError, export_onnx, load_checkpoint, save_checkpoint  # noqa: E402
from deeptgi_train.model import DeepTGI, build_deeptgi  # noqa: E402

torch.set_num_threads(2)

N_GENES = 12


def pcc_like(pairs: int, modalities: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (pairs, modalities, N_GENES)).astype(np.float32)


def metadata_for(modalities: int) -> ModelMetadata:
    names = ["single_cell", "bulk"][:modalities]
    return ModelMetadata(
        feature_genes=[f"Gene{i}" for i in range(N_GENES)],
        modalities=names,
        preprocessing=["log1p", "none"][:modalities],
        threshold=0.42,
        tfs=["Gata1", "Spi1"],
        training={"data": "synthetic"},
    )


def built_model(config, modalities: int, seed: int = 0) -> DeepTGI:
    """A model with non-trivial batch norm statistics, left in training mode like after training."""
    torch.manual_seed(seed)
    model = DeepTGI(config, modalities, N_GENES).train()
    with torch.no_grad():
        model(torch.from_numpy(pcc_like(64, modalities, 1) * 2), torch.from_numpy(pcc_like(64, modalities, 2) + 0.3))
    return model


def torch_scores(model: DeepTGI, tf_features: np.ndarray, gene_features: np.ndarray) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return torch.sigmoid(model(torch.from_numpy(tf_features), torch.from_numpy(gene_features))).numpy()


def session(model_or_path):
    data = model_or_path.SerializeToString() if isinstance(model_or_path, onnx.ModelProto) else str(model_or_path)
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The full tiny model with two modalities, exported once for the tests below."""
    model = built_model(model_config("tiny"), 2)
    path = tmp_path_factory.mktemp("export") / "deeptgi.onnx"
    checks = (pcc_like(40, 2, 3), pcc_like(40, 2, 4))
    result = export_onnx(model, metadata_for(2), path, check_features=checks)
    return model, path, result


def test_export_scores_equal_pytorch_on_new_pairs(exported):
    model, path, result = exported
    assert result["max_abs_diff"] <= 1e-5
    tfs, genes = pcc_like(37, 2, 5), pcc_like(37, 2, 6)
    scores = session(path).run([SCORE_OUTPUT], {TF_INPUT: tfs, GENE_INPUT: genes})[0]
    assert scores.shape == (37,) and scores.dtype == np.float32
    np.testing.assert_allclose(scores, torch_scores(model, tfs, genes), rtol=0, atol=1e-5)
    assert ((scores >= 0) & (scores <= 1)).all() and scores.std() > 0


def test_graph_has_the_contract_inputs_output_and_a_dynamic_pair_axis(exported):
    _, path, _ = exported
    proto = onnx.load(path)
    onnx.checker.check_model(proto)
    assert [i.name for i in proto.graph.input] == [TF_INPUT, GENE_INPUT]
    assert [o.name for o in proto.graph.output] == [SCORE_OUTPUT]
    for tensor in list(proto.graph.input) + list(proto.graph.output):
        assert tensor.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        assert tensor.type.tensor_type.shape.dim[0].dim_param  # symbolic, not a fixed size
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim[1:]]
    assert dims == [2, N_GENES]
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17


def test_metadata_round_trips_through_the_contract(exported):
    model, path, result = exported
    props = {entry.key: entry.value for entry in onnx.load(path).metadata_props}
    metadata = ModelMetadata.from_props(props, str(path))
    expected = metadata_for(2)
    assert metadata.feature_genes == expected.feature_genes
    assert metadata.modalities == expected.modalities
    assert metadata.preprocessing == expected.preprocessing
    assert metadata.threshold == pytest.approx(0.42)
    assert metadata.tfs == expected.tfs and metadata.training == expected.training
    assert metadata.state_tensors == result["state_tensors"] == {"tf": "tf_state", "gene": "gene_state"}
    assert metadata.config["branches"] == list(model.config.branches)
    assert metadata.config["state_size"] == model.state_size


def test_cut_encoders_and_head_reproduce_the_full_score(exported):
    model, path, result = exported
    proto = onnx.load(path)
    extractor = onnx.utils.Extractor(proto)
    tf_name, gene_name = result["state_tensors"]["tf"], result["state_tensors"]["gene"]
    tf_encoder = session(extractor.extract_model([TF_INPUT], [tf_name]))
    gene_encoder = session(extractor.extract_model([GENE_INPUT], [gene_name]))
    head = session(extractor.extract_model([tf_name, gene_name], [SCORE_OUTPUT]))
    tfs, genes = pcc_like(3, 2, 7), pcc_like(5, 2, 8)
    tf_states = tf_encoder.run(None, {TF_INPUT: tfs})[0]
    gene_states = gene_encoder.run(None, {GENE_INPUT: genes})[0]
    assert tf_states.shape == (3, model.state_size) and gene_states.shape == (5, model.state_size)
    tf_index, gene_index = (index.reshape(-1) for index in np.meshgrid(np.arange(3), np.arange(5), indexing="ij"))
    factorized = head.run(None, {tf_name: tf_states[tf_index], gene_name: gene_states[gene_index]})[0]
    full = session(path).run([SCORE_OUTPUT], {TF_INPUT: tfs[tf_index], GENE_INPUT: genes[gene_index]})[0]
    np.testing.assert_allclose(factorized, full, rtol=0, atol=1e-5)
    np.testing.assert_allclose(factorized, torch_scores(model, tfs[tf_index], genes[gene_index]), rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "overrides",
    [
        {"branches": ("cnn",), "fusion": "mlp"},
        {"branches": ("autoencoder", "siamese"), "fusion": "attention", "fusion_heads": 1, "ae_heads": 1},
    ],
    ids=["cnn-mlp", "autoencoder+siamese-single-head"],
)
def test_other_branch_sets_export_with_one_modality(tmp_path, overrides):
    model = built_model(model_config("tiny", **overrides), 1, seed=1)
    result = export_onnx(model, metadata_for(1), tmp_path / "model.onnx")
    assert result["max_abs_diff"] <= 1e-5
    assert model.training  # the caller's mode is restored
    tfs, genes = pcc_like(9, 1, 9), pcc_like(9, 1, 10)
    scores = session(tmp_path / "model.onnx").run([SCORE_OUTPUT], {TF_INPUT: tfs, GENE_INPUT: genes})[0]
    np.testing.assert_allclose(scores, torch_scores(model, tfs, genes), rtol=0, atol=1e-5)


def test_export_refuses_and_writes_nothing_when_parity_fails(tmp_path, monkeypatch):
    model = built_model(model_config("tiny"), 1)
    other = built_model(model_config("tiny"), 1, seed=99)
    real_trace = export_module._trace
    # A graph of different weights stands in for a faulty exporter.
    monkeypatch.setattr(export_module, "_trace", lambda _model, opset: real_trace(other, opset))
    target = tmp_path / "tampered.onnx"
    with pytest.raises(ExportError, match="disagrees with PyTorch"):
        export_onnx(model, metadata_for(1), target)
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_when_tolerance_cannot_be_met(tmp_path):
    model = built_model(model_config("tiny", branches=("siamese",)), 1)
    with pytest.raises(ExportError):
        export_onnx(model, metadata_for(1), tmp_path / "strict.onnx", atol=-1.0)
    assert list(tmp_path.iterdir()) == []


def test_export_rejects_metadata_of_other_dimensions_before_work(tmp_path):
    model = DeepTGI(model_config("tiny"), 1, N_GENES)
    with pytest.raises(ValueError, match="feature genes"):
        export_onnx(model, metadata_for(2), tmp_path / "x.onnx")
    with pytest.raises(InputError, match="does not exist"):
        export_onnx(model, metadata_for(1), tmp_path / "missing" / "x.onnx")
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_round_trip_gives_identical_scores(tmp_path):
    model = built_model(model_config("tiny", branches=("autoencoder", "cnn"), fusion="attention"), 2)
    save_checkpoint(model, metadata_for(2), tmp_path / "model.pt")
    loaded, metadata = load_checkpoint(tmp_path / "model.pt")
    assert loaded.config == model.config and not loaded.training
    assert metadata.feature_genes == metadata_for(2).feature_genes and metadata.threshold == pytest.approx(0.42)
    tfs, genes = pcc_like(20, 2, 11), pcc_like(20, 2, 12)
    np.testing.assert_array_equal(torch_scores(loaded, tfs, genes), torch_scores(model, tfs, genes))


def test_loading_a_file_that_is_not_a_checkpoint_is_an_input_error(tmp_path):
    bogus = tmp_path / "bogus.pt"
    bogus.write_text("not a checkpoint")
    with pytest.raises(InputError, match="bogus.pt"):
        load_checkpoint(bogus)
    with pytest.raises(InputError, match="not found"):
        load_checkpoint(tmp_path / "absent.pt")


def test_ensemble_exports_cuts_at_concatenated_states_and_round_trips_as_checkpoint(tmp_path):
    torch.manual_seed(4)
    model = build_deeptgi(model_config("tiny", members=3, fusion="mlp"), 1, N_GENES)
    model.input_transform.fit(torch.from_numpy(pcc_like(30, 1, 13) * 0.8))
    with torch.no_grad():
        model.train()
        model(torch.from_numpy(pcc_like(64, 1, 1) * 2), torch.from_numpy(pcc_like(64, 1, 2) + 0.3))
    path = tmp_path / "ensemble.onnx"
    result = export_onnx(model, metadata_for(1), path)
    assert result["max_abs_diff"] <= 1e-5
    extractor = onnx.utils.Extractor(onnx.load(path))
    tf_name, gene_name = result["state_tensors"]["tf"], result["state_tensors"]["gene"]
    tfs, genes = pcc_like(7, 1, 14), pcc_like(7, 1, 15)
    tf_states = session(extractor.extract_model([TF_INPUT], [tf_name])).run(None, {TF_INPUT: tfs})[0]
    gene_states = session(extractor.extract_model([GENE_INPUT], [gene_name])).run(None, {GENE_INPUT: genes})[0]
    assert tf_states.shape == (7, 3 * model.members[0].state_size)
    head = session(extractor.extract_model([tf_name, gene_name], [SCORE_OUTPUT]))
    factorized = head.run(None, {tf_name: tf_states, gene_name: gene_states})[0]
    np.testing.assert_allclose(factorized, torch_scores(model, tfs, genes), rtol=0, atol=1e-5)
    save_checkpoint(model, metadata_for(1), tmp_path / "ensemble.pt")
    loaded, _ = load_checkpoint(tmp_path / "ensemble.pt")
    assert len(loaded.members) == 3
    np.testing.assert_array_equal(torch_scores(loaded, tfs, genes), torch_scores(model, tfs, genes))


@pytest.mark.parametrize("context", [False, True], ids=["pcc", "pcc+context"])
def test_export_with_pair_features_matches_pytorch_and_declares_the_third_input(tmp_path, context):
    from deeptgi_rt.contract import PAIR_INPUT

    config = model_config("tiny", pair_features=("pcc",), pair_context=context)
    torch.manual_seed(0)
    model = DeepTGI(config, 2, N_GENES).train()
    pair = np.random.default_rng(7).uniform(-1, 1, (64, 2, 1)).astype(np.float32)
    with torch.no_grad():
        model(torch.from_numpy(pcc_like(64, 2, 1)), torch.from_numpy(pcc_like(64, 2, 2)), torch.from_numpy(pair))
    path = tmp_path / "pair.onnx"
    result = export_onnx(model, metadata_for(2), path, check_features=(pcc_like(40, 2, 3), pcc_like(40, 2, 4)))
    assert result["max_abs_diff"] <= 1e-5 and set(result["diffs"]) >= {"full", "factorized"}
    assert ModelMetadata.from_props(
        {p.key: p.value for p in onnx.load(str(path)).metadata_props}, str(path)
    ).pair_features == ["pcc"]
    tfs, genes = pcc_like(37, 2, 5), pcc_like(37, 2, 6)
    new_pair = np.random.default_rng(8).uniform(-1, 1, (37, 2, 1)).astype(np.float32)
    scores = session(path).run([SCORE_OUTPUT], {TF_INPUT: tfs, GENE_INPUT: genes, PAIR_INPUT: new_pair})[0]
    model.eval()
    with torch.no_grad():
        expected = torch.sigmoid(
            model(torch.from_numpy(tfs), torch.from_numpy(genes), torch.from_numpy(new_pair))
        ).numpy()
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-5)
    # The pair input is read: other pair values give other scores.
    other = session(path).run([SCORE_OUTPUT], {TF_INPUT: tfs, GENE_INPUT: genes, PAIR_INPUT: -new_pair})[0]
    assert np.abs(other - scores).max() > 1e-4
