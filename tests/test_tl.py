"""The scanpy-style namespace: ``tl.score`` stores the class API's edges and the run's parameters in
``adata.uns`` (surviving write_h5ad + read_h5ad), ``tl.evaluate`` equals ``deeptgi-rt eval`` on the
same network, ``pl.network`` draws it; bad input leaves ``adata`` unchanged."""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from conftest import REPO
from onnx_models import build_model, save_model

import deeptgi_rt
from deeptgi_rt import InputError
from deeptgi_rt.api import load_model

anndata = pytest.importorskip("anndata")

GENES = [f"G{i}" for i in range(24)]
FEATURES = GENES[2:14]
TFS = GENES[:5]
CELLS = 80


def counts(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.negative_binomial(1, 0.5, size=(CELLS, len(GENES))).astype(np.float32)
    values[:, 9] += rng.integers(0, 30, size=CELLS)
    return values


def make_adata(x=None, **layers):
    adata = anndata.AnnData(X=sp.csr_matrix(counts()) if x is None else x, layers=layers or None)
    adata.var_names = GENES
    adata.obs_names = [f"c{i}" for i in range(CELLS)]
    return adata


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return save_model(
        build_model(FEATURES, head="mlp", tfs=TFS, threshold=0.5), tmp_path_factory.mktemp("m") / "m.onnx"
    )


@pytest.fixture(scope="module")
def model(model_path):
    return load_model(model_path, device="cpu", threads=1)


def snapshot(adata) -> dict:
    """What a failed call must leave as it was."""
    return {
        "X": adata.X.toarray().copy() if sp.issparse(adata.X) else np.array(adata.X),
        "layers": sorted(adata.layers.keys()),
        "uns": {key: repr(value) for key, value in adata.uns.items()},
        "var_names": list(adata.var_names),
        "obs": adata.obs.copy(),
    }


def assert_unchanged(adata, before) -> None:
    after = snapshot(adata)
    np.testing.assert_array_equal(after["X"], before["X"])
    assert after["layers"] == before["layers"] and after["uns"] == before["uns"]
    assert after["var_names"] == before["var_names"] and after["obs"].equals(before["obs"])


def test_score_stores_the_class_api_edges_and_the_run(tmp_path, model, model_path):
    adata = make_adata()
    deeptgi_rt.tl.score(adata, model, normalize="total", top_k=6, threshold=0.2)
    stored = adata.uns["deeptgi"]
    direct = model.score(adata, transform="normalize_total_log1p", top_k=6, threshold=0.2)
    table = stored["edges"]
    assert list(table.columns) == ["TF", "target", "score"] and table["score"].dtype == np.float32
    assert list(table["TF"].astype(str)) == direct["TF"].cast(str).to_list()
    assert list(table["target"].astype(str)) == direct["target"].cast(str).to_list()
    np.testing.assert_array_equal(table["score"].to_numpy(), direct["score"].to_numpy())
    params = stored["params"]
    assert params["tool"] == "deeptgi-rt" and params["model"] == str(model_path)
    assert params["model_sha256"] == hashlib.sha256(model_path.read_bytes()).hexdigest()
    assert params["threshold"] == pytest.approx(0.2) and params["top_k"] == 6 and params["normalize"] == "total"
    assert params["model_threshold"] == pytest.approx(model.last_summary.threshold)
    assert params["edges"] == len(table) and params["tfs_scored"] == len(TFS)
    assert params["deeptgi_rt_version"] == deeptgi_rt.__version__ and "onnxruntime_version" in params
    assert "layer" not in params  # not given: absent, never None
    # X is counts and stays counts: normalize works on copies of each chunk.
    np.testing.assert_array_equal(adata.X.toarray(), counts())


def test_uns_survives_write_h5ad_and_read_back(tmp_path, model):
    adata = make_adata()
    deeptgi_rt.tl.score(adata, model, normalize="total", top_k=5, key_added="grn")
    path = tmp_path / "scored.h5ad"
    adata.write_h5ad(path)
    back = anndata.read_h5ad(path)
    a, b = adata.uns["grn"], back.uns["grn"]
    assert a["edges"].equals(b["edges"])
    assert {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in a["params"].items()} == {
        k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in b["params"].items()
    }
    # What was read back is still ours: scoring again replaces it, the other tools read it.
    deeptgi_rt.tl.score(back, model, normalize="total", top_k=3, key_added="grn")
    assert back.uns["grn"]["params"]["top_k"] == 3
    assert len(deeptgi_rt.tl.to_decoupler(back, key="grn")) == len(TFS) * 3


def test_to_decoupler_has_decoupler_columns(model):
    adata = make_adata()
    deeptgi_rt.tl.score(adata, model, normalize="total", top_k=4)
    net = deeptgi_rt.tl.to_decoupler(adata)
    assert list(net.columns) == ["source", "target", "weight"] and net["weight"].dtype == np.float64
    edges = deeptgi_rt.tl.edges(adata)
    assert list(net["source"]) == list(edges["TF"].astype(str))
    np.testing.assert_array_equal(net["weight"].to_numpy(), edges["score"].to_numpy().astype(np.float64))
    frame = model.score(adata, transform="normalize_total_log1p", top_k=4)
    assert deeptgi_rt.tl.to_decoupler(frame).equals(net)


def test_key_added_holding_something_else_is_refused_unless_overwrite(model):
    adata = make_adata()
    adata.uns["deeptgi"] = {"mine": 1}
    before = snapshot(adata)
    with pytest.raises(InputError, match=r"key_added='deeptgi': adata.uns\['deeptgi'\] already holds") as caught:
        deeptgi_rt.tl.score(adata, model, normalize="total")
    assert caught.value.parameter == "key_added"
    assert_unchanged(adata, before)
    deeptgi_rt.tl.score(adata, model, normalize="total", top_k=2, overwrite=True)
    assert adata.uns["deeptgi"]["params"]["tool"] == "deeptgi-rt"


def bad(case):
    adata, options = make_adata(), {"normalize": "total"}
    if case == "nan":
        x = counts()
        x[4, 2] = np.nan
        adata = make_adata(sp.csr_matrix(x))
        return adata, options, "adata.X: nan value for gene 'G2'", None
    if case == "negative":
        x = counts()
        x[6, 5] = -1
        adata = make_adata(x)
        return adata, options, "adata.X: negative value -1 for gene 'G5'", None
    if case == "layer":
        return adata, {**options, "layer": "counts"}, "layer='counts': adata has no such layer", "layer"
    if case == "raw":
        return adata, {**options, "use_raw": True}, "use_raw=True: adata has no raw", "use_raw"
    if case == "duplicates":
        adata.var_names = ["G1"] + GENES[1:]
        return adata, options, "adata.var_names: duplicate gene names: G1", "expression"
    if case == "zero-cells":
        return adata[:0].copy(), options, "adata: an AnnData with 0 cells", "expression"
    if case == "normalize":
        return adata, {"normalize": "scanpy"}, "normalize must be None, 'total' or 'log1p'", "normalize"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["nan", "negative", "layer", "raw", "duplicates", "zero-cells", "normalize"])
def test_bad_input_is_one_error_and_adata_is_unchanged(model, case):
    adata, options, message, parameter = bad(case)
    adata.uns["kept"] = "as it was"
    before = snapshot(adata)
    with pytest.raises(InputError) as caught:
        deeptgi_rt.tl.score(adata, model, **options)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    if parameter is not None:
        assert caught.value.parameter == parameter
    assert_unchanged(adata, before)


def test_not_an_anndata_and_no_anndata_installed(model, monkeypatch):
    with pytest.raises(InputError, match="tl.score takes an anndata.AnnData, got DataFrame"):
        deeptgi_rt.tl.score(pl.DataFrame({"a": [1.0]}), model)
    adata = make_adata()
    monkeypatch.setitem(sys.modules, "anndata", None)
    with pytest.raises(InputError, match=r"pip install 'deeptgi-rt\[anndata\]'"):
        deeptgi_rt.tl.score(adata, model)


def test_evaluate_equals_eval_of_the_written_network(tmp_path, model):
    from deeptgi_rt.evaluation import evaluate

    adata = make_adata()
    deeptgi_rt.tl.score(adata, model, normalize="total")
    truth = pl.DataFrame({"TF": ["G0", "G0", "G1", "G2", "G3", "G4"], "target": ["G5", "G9", "G7", "G9", "G12", "G20"]})
    truth_path = tmp_path / "truth.csv"
    truth.write_csv(truth_path)
    result = deeptgi_rt.tl.evaluate(adata, truth)
    network = tmp_path / "net.parquet"
    model.write(network, adata, transform="normalize_total_log1p")
    reference = evaluate([network], truth_path, genes=GENES)
    (ours,), (theirs,) = result.methods, reference.methods
    for metric in ("auroc", "average_precision", "auprc_ratio", "epr"):
        assert ours.summary[metric] == pytest.approx(theirs.summary[metric], abs=1e-12)
    assert len(result.candidates) == len(reference.candidates) == 5 * 23
    figures = adata.uns["deeptgi"]["evaluation"]
    assert figures.loc[ours.name, "auroc"] == pytest.approx(ours.summary["auroc"])
    # A truth file works the same as the table; the figures survive write_h5ad.
    again = deeptgi_rt.tl.evaluate(adata, str(truth_path))
    assert again.methods[0].summary["auroc"] == pytest.approx(ours.summary["auroc"])
    adata.write_h5ad(tmp_path / "evaluated.h5ad")
    back = anndata.read_h5ad(tmp_path / "evaluated.h5ad").uns["deeptgi"]["evaluation"]
    assert back.equals(adata.uns["deeptgi"]["evaluation"])


def test_evaluate_and_plot_need_our_key(model):
    adata = make_adata()
    with pytest.raises(InputError, match="adata.uns has no 'deeptgi'; run deeptgi_rt.tl.score first"):
        deeptgi_rt.tl.evaluate(adata, pl.DataFrame({"TF": ["G0"], "target": ["G5"]}))
    adata.uns["deeptgi"] = {"x": 1}
    with pytest.raises(InputError, match="was not written by deeptgi_rt.tl.score"):
        deeptgi_rt.pl.network(adata)


def test_pl_network_draws_the_stored_network(tmp_path, model):
    pytest.importorskip("matplotlib")
    pytest.importorskip("networkx")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    adata = make_adata()
    deeptgi_rt.tl.score(adata, model, normalize="total", top_k=4)
    out = tmp_path / "net.png"
    figure = deeptgi_rt.pl.network(adata, top_tfs=3, top_targets=4, threshold=None, save=out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert figure.axes[0].get_title() == "3 TFs and their top targets"
    assert {text.get_text() for text in figure.axes[0].texts} <= set(GENES)
    plt.close(figure)


def test_readme_example_data_score_as_a_notebook_would(tmp_path):
    """The shipped example and model through tl.score: the model's TFs found, top_k per TF."""
    frame = pl.read_parquet(REPO / "examples" / "mhsc-e.parquet")
    adata = anndata.AnnData(X=frame.to_numpy().astype(np.float32))
    adata.var_names = frame.columns
    deeptgi_rt.tl.score(adata, "mhsc-e-lite", top_k=10)
    edges = adata.uns["deeptgi"]["edges"]
    assert edges["TF"].nunique() == adata.uns["deeptgi"]["params"]["tfs_scored"] > 0
    assert (edges.groupby("TF", observed=True).size() == 10).all()
