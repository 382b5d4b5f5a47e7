"""`deeptgi-rt pcc` streamed over chunks of cells equals the whole-matrix `pcc`; its bad inputs fail in one line."""

from __future__ import annotations

import socket

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from deeptgi_rt.cli import main
from deeptgi_rt.pcc.dask_reduce import environment_restored

GENES = [f"G{i}" for i in range(10)]


@pytest.fixture(autouse=True)
def _environment_kept():
    """A dask cluster sets OMP_NUM_THREADS=1 and the like in this process (for its workers)."""
    with environment_restored():
        yield


@pytest.fixture
def counts_h5ad(tmp_path):
    """A small h5ad: raw counts (CSR X, also layer 'counts'), a zero-count cell, a constant gene."""
    import anndata

    rng = np.random.default_rng(3)
    counts = rng.poisson(1.5, size=(50, len(GENES))).astype(np.float32)
    counts[:, 4] = 0  # never expressed
    counts[9] = 0  # no counts at all
    adata = anndata.AnnData(X=sp.csr_matrix(counts), layers={"counts": sp.csr_matrix(counts)})
    adata.var_names = GENES
    path = tmp_path / "counts.h5ad"
    adata.write_h5ad(path)
    return path, counts


def _pcc(path):
    table = pl.read_parquet(path)
    return table["gene"].to_list(), table.columns[1:], table.drop("gene").to_numpy()


def test_streamed_pcc_equals_dense_pcc(tmp_path, counts_h5ad):
    path, _ = counts_h5ad
    (tmp_path / "rows.txt").write_text("G7\nG0\nG4\n")
    dense, streamed = tmp_path / "dense.parquet", tmp_path / "streamed.parquet"
    common = ["--rows", str(tmp_path / "rows.txt"), "--log1p", "--device", "cpu", "--quiet"]
    assert main(["pcc", str(path), "--out", str(dense), *common]) == 0
    assert main(["pcc", str(path), "--out", str(streamed), "--chunk-cells", "7", *common]) == 0
    rows, cols, values = _pcc(streamed)
    assert (rows, cols) == (["G7", "G0", "G4"], GENES)
    assert _pcc(dense)[:2] == (rows, cols)
    assert np.abs(values - _pcc(dense)[2]).max() <= 1e-5
    assert np.all(values[2] == 0) and np.abs(values).max() > 0.1


def test_normalize_total_from_a_layer_equals_dense_pcc_of_normalized_cells(tmp_path, counts_h5ad, capsys):
    path, counts = counts_h5ad
    kept = counts[counts.sum(axis=1) > 0]
    normalized = np.log1p(kept / kept.sum(axis=1, keepdims=True) * 1e4)
    parquet = tmp_path / "normalized.parquet"
    pl.DataFrame({gene: normalized[:, g] for g, gene in enumerate(GENES)}).write_parquet(parquet)
    dense, streamed = tmp_path / "dense.parquet", tmp_path / "streamed.parquet"
    assert main(["pcc", str(parquet), "--out", str(dense), "--device", "cpu", "--quiet"]) == 0
    capsys.readouterr()
    assert (
        main(["pcc", str(path), "--out", str(streamed), "--normalize", "total", "--layer", "counts", "--device", "cpu"])
        == 0
    )
    err = capsys.readouterr().err
    assert "1 of 50 cells have zero total counts" in err
    assert "1 of 10 genes have constant expression" in err
    assert np.abs(_pcc(streamed)[2] - _pcc(dense)[2]).max() <= 1e-5


def test_local_dask_scheduler_equals_in_process(tmp_path, counts_h5ad):
    pytest.importorskip("distributed")
    path, _ = counts_h5ad
    local, in_process = tmp_path / "local.parquet", tmp_path / "in_process.parquet"
    options = ["--normalize", "total", "--chunk-cells", "16", "--quiet"]
    assert main(["pcc", str(path), "--out", str(in_process), "--device", "cpu", *options]) == 0
    assert main(["pcc", str(path), "--out", str(local), "--dask-scheduler", "local", *options]) == 0
    assert np.abs(_pcc(local)[2] - _pcc(in_process)[2]).max() <= 1e-6


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "case", ["unreachable_scheduler", "missing_layer", "negative_counts", "log1p_and_total", "layer_of_parquet"]
)
def test_bad_streaming_input_fails_in_one_line(tmp_path, counts_h5ad, capsys, case):
    path, counts = counts_h5ad
    options, expected = {
        "unreachable_scheduler": (
            ["--dask-scheduler", f"tcp://127.0.0.1:{_closed_port()}"],
            "--dask-scheduler tcp://127.0.0.1:",
        ),
        "missing_layer": (["--layer", "spliced"], "no layer 'spliced' (layers: counts)"),
        "negative_counts": (
            ["--normalize", "total", "--chunk-cells", "4"],
            "negative value -2 for gene 'G3' in cell at row 6",
        ),
        "log1p_and_total": (["--normalize", "total", "--log1p"], "already applies log1p"),
        "layer_of_parquet": (["--layer", "counts"], "not Parquet"),
    }[case]
    if case == "negative_counts":
        import anndata

        counts = counts.copy()
        counts[5, 3] = -2
        path = tmp_path / "negative.h5ad"
        adata = anndata.AnnData(X=sp.csr_matrix(counts))
        adata.var_names = GENES
        adata.write_h5ad(path)
    if case == "layer_of_parquet":
        path = tmp_path / "expr.parquet"
        pl.DataFrame({gene: counts[:, g] for g, gene in enumerate(GENES)}).write_parquet(path)
    out = tmp_path / "pcc.parquet"
    assert main(["pcc", str(path), "--out", str(out), "--quiet", *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err
    assert not out.exists()
