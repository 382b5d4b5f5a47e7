"""The next tool reads the network: decoupler's format (``source, target, weight``) from the CLI and
the API, run through decoupler's ULM on the shipped example; pySCENIC's adjacency layout
(``TF, target, importance``) read back with pandas exactly as README says."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import polars as pl
import pytest
from conftest import REPO

from deeptgi_rt.api import load_model
from deeptgi_rt.cli import main

EXPRESSION = REPO / "examples" / "mhsc-e.parquet"
MODEL = REPO / "deeptgi_rt" / "models" / "mhsc-e-lite.onnx"
TOP_K = 20


def score_cli(capsys, out, *extra) -> None:
    argv = ["score", str(EXPRESSION), "--model", str(MODEL), "--top-k", str(TOP_K), "--out", str(out)]
    assert main([*argv, *extra, "--device", "cpu", "--threads", "1", "--quiet"]) == 0, capsys.readouterr().err


@pytest.fixture()
def reference(tmp_path, capsys):
    """The same command's Parquet edges (TF, target, score), by descending score. (The CLI's
    ``--threads 1`` also caps numba's and BLAS's pools, which ``load_model(threads=1)`` leaves
    alone; PCC sums in another order differ in float32's last bits.)"""
    out = tmp_path / "reference.parquet"
    score_cli(capsys, out)
    return pl.read_parquet(out)


def same_edges(table: pd.DataFrame, columns: tuple[str, str, str], reference: pl.DataFrame) -> None:
    tf, target, weight = columns
    assert list(table.columns) == list(columns)
    assert list(table[tf]) == reference["TF"].cast(str).to_list()
    assert list(table[target]) == reference["target"].cast(str).to_list()
    # Written as float32 text, read as float64: the float32 values come back exactly.
    np.testing.assert_array_equal(table[weight].to_numpy().astype(np.float32), reference["score"].to_numpy())


@pytest.mark.parametrize("name", ["net.tsv", "net.tsv.gz"])
def test_cli_writes_decoupler_networks(tmp_path, capsys, reference, name):
    out = tmp_path / name
    score_cli(capsys, out, "--format", "decoupler")
    opener = gzip.open if name.endswith(".gz") else open
    with opener(out, "rt") as handle:
        assert handle.readline() == "source\ttarget\tweight\n"
    net = pd.read_csv(out, sep="\t")
    same_edges(net, ("source", "target", "weight"), reference)
    assert len(net) == reference["TF"].n_unique() * TOP_K


def test_api_writes_the_same_decoupler_file(tmp_path, capsys):
    cli, api = tmp_path / "cli.tsv", tmp_path / "api.tsv"
    score_cli(capsys, cli, "--format", "decoupler")
    load_model(MODEL, device="cpu", threads=1).write(api, EXPRESSION, top_k=TOP_K, format="decoupler")
    assert api.read_bytes() == cli.read_bytes()


def test_pyscenic_adjacencies_read_back_as_readme_says(tmp_path, capsys, reference):
    out = tmp_path / "mhsc-e-grn.tsv"  # a .tsv name: the TF<TAB>target<TAB>importance layout
    score_cli(capsys, out)
    adjacencies = pd.read_csv(out, sep="\t")  # README: columns TF, target, importance
    same_edges(adjacencies, ("TF", "target", "importance"), reference)
    assert adjacencies["importance"].dtype == np.float64 and adjacencies["TF"].dtype == object
    # pySCENIC's modules_from_adjacencies groups the adjacencies by TF and ranks targets by importance.
    best = adjacencies.sort_values("importance", ascending=False).groupby("TF").head(1)
    assert len(best) == reference["TF"].n_unique()


def test_decoupler_ulm_on_the_shipped_example(tmp_path, capsys):
    dc = pytest.importorskip("decoupler")
    anndata = pytest.importorskip("anndata")
    out = tmp_path / "net.tsv"
    score_cli(capsys, out, "--format", "decoupler")
    net = pd.read_csv(out, sep="\t")
    frame = pl.read_parquet(EXPRESSION)
    adata = anndata.AnnData(X=frame.to_numpy().astype(np.float32))
    adata.var_names = frame.columns
    adata.obs_names = [f"cell{i}" for i in range(adata.n_obs)]
    dc.mt.ulm(adata, net, tmin=5)
    activities = adata.obsm["score_ulm"]
    assert set(activities.columns) == set(net["source"])  # every TF of the network, each with 20 targets
    assert activities.shape == (adata.n_obs, net["source"].nunique())
    assert np.isfinite(activities.to_numpy()).all()
    # Not a constant: the TFs' activities differ between cells.
    assert (activities.to_numpy().std(axis=0) > 0).all()
