"""`deeptgi-rt score` from cells read a chunk at a time (h5ad, zarr, Parquet; in process or on a
Dask cluster) equals scoring the same data whole; `--plan` estimates without writing; bad input
fails in one line."""

from __future__ import annotations

import socket

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from onnx_models import build_model, save_model

from deeptgi_rt.api import ScoreRequest, load_model
from deeptgi_rt.cli import main
from deeptgi_rt.pcc.dask_reduce import environment_restored

GENES = [f"G{i}" for i in range(24)]
FEATURES = GENES[2:14]
TFS = GENES[:5]


@pytest.fixture(autouse=True)
def _environment_kept():
    """A dask cluster sets OMP_NUM_THREADS=1 and the like in this process (for its workers)."""
    with environment_restored():
        yield


def raw_counts(cells: int = 80, seed: int = 4) -> np.ndarray:
    """float32 ``[cells, genes]`` sparse-ish counts with one zero-count cell."""
    rng = np.random.default_rng(seed)
    counts = rng.negative_binomial(1, 0.6, size=(cells, len(GENES))).astype(np.float32)
    counts[rng.random(counts.shape) < 0.4] = 0
    counts[:, 7] += rng.integers(0, 40, size=cells)  # varying depth, large values
    counts[11] = 0
    return counts


def write_h5ad(path, matrix, **layers):
    import anndata

    adata = anndata.AnnData(X=matrix, layers=layers or None)
    adata.var_names = GENES
    adata.obs_names = [f"c{i}" for i in range(matrix.shape[0])]
    adata.write_h5ad(path)
    return path


def write_parquet(path, values: np.ndarray):
    pl.DataFrame({gene: values[:, g] for g, gene in enumerate(GENES)}).write_parquet(path)
    return path


@pytest.fixture()
def model(tmp_path):
    return save_model(build_model(FEATURES, head="mlp", tfs=TFS, threshold=0.5), tmp_path / "model.onnx")


def edges(path) -> dict[tuple[str, str], float]:
    table = pl.read_parquet(path)
    return dict(zip(zip(table["TF"].cast(str), table["target"].cast(str)), table["score"].to_list()))


def assert_same_edges(a, b, atol=1e-5):
    ea, eb = edges(a), edges(b)
    assert ea.keys() == eb.keys() and len(ea) > 0
    diff = max(abs(ea[k] - eb[k]) for k in ea)
    assert diff <= atol, diff


def run(capsys, *argv) -> tuple[int, str]:
    code = main(["score", *map(str, argv), "--device", "cpu", "--quiet"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("layout", ["csr", "csc"])
@pytest.mark.parametrize("pairs", [False, True])
def test_streamed_score_equals_dense_score(tmp_path, model, capsys, layout, pairs):
    values = np.log1p(raw_counts())
    matrix = sp.csr_matrix(values) if layout == "csr" else sp.csc_matrix(values)
    h5ad = write_h5ad(tmp_path / "cells.h5ad", matrix)
    dense, streamed = tmp_path / "dense.parquet", tmp_path / "streamed.parquet"
    extra = []
    if pairs:
        pl.DataFrame({"TF": ["G0", "G3", "G1", "G4"], "target": ["G9", "G20", "G0", "G4"]}).write_parquet(
            tmp_path / "pairs.parquet"
        )
        extra = ["--pairs", tmp_path / "pairs.parquet"]
    assert run(capsys, h5ad, "--model", model, "--out", dense, *extra)[0] == 0
    code, err = run(capsys, h5ad, "--model", model, "--out", streamed, "--chunk-cells", "13", *extra)
    assert code == 0, err
    assert_same_edges(dense, streamed)
    assert len(edges(dense)) == (4 if pairs else 5 * 23)


def test_normalize_total_streamed_equals_dense_normalize_then_score(tmp_path, model, capsys):
    counts = raw_counts()
    kept = counts[counts.sum(axis=1) > 0]
    normalized = np.log1p(kept / kept.sum(axis=1, keepdims=True) * 1e4).astype(np.float32)
    dense = write_parquet(tmp_path / "normalized.parquet", normalized)
    h5ad = write_h5ad(tmp_path / "counts.h5ad", sp.csr_matrix(counts))
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert run(capsys, dense, "--model", model, "--out", a)[0] == 0
    code, err = run(capsys, h5ad, "--model", model, "--out", b, "--normalize", "total")
    assert code == 0, err
    assert "1 of 80 cells have zero total counts; they are left out" in err
    assert_same_edges(a, b)


def test_api_equals_cli_and_summary_splits_reading(tmp_path, model, capsys):
    h5ad = write_h5ad(tmp_path / "counts.h5ad", sp.csr_matrix(raw_counts()), counts=sp.csr_matrix(raw_counts()))
    out = tmp_path / "cli.parquet"
    assert run(capsys, h5ad, "--model", model, "--out", out, "--normalize", "total", "--layer", "counts")[0] == 0
    deeptgi = load_model(model, device="cpu")
    request = ScoreRequest(str(h5ad), transform="normalize_total_log1p", layer="counts")
    frame = deeptgi.prepare(request).frame()
    api = {(str(t), str(g)): s for t, g, s in frame.iter_rows()}
    cli = edges(out)
    assert api.keys() == cli.keys() and max(abs(api[k] - cli[k]) for k in api) == 0.0
    summary = deeptgi.last_summary
    assert summary.plan is not None and summary.plan.inputs.streamed and summary.plan.inputs.cells == 80
    assert summary.stage_seconds["read"] > 0 and summary.stage_seconds["pcc"] >= 0


def test_dask_local_cluster_equals_in_process(tmp_path, model, capsys):
    pytest.importorskip("distributed")
    h5ad = write_h5ad(tmp_path / "counts.h5ad", sp.csr_matrix(raw_counts()))
    local, in_process = tmp_path / "local.parquet", tmp_path / "in_process.parquet"
    options = ["--normalize", "total", "--chunk-cells", "20"]
    assert run(capsys, h5ad, "--model", model, "--out", in_process, *options)[0] == 0
    code, err = run(capsys, h5ad, "--model", model, "--out", local, *options, "--dask-scheduler", "local")
    assert code == 0, err
    # The zero-count cell is counted on the workers' path too.
    assert "1 of 80 cells have zero total counts; they are left out" in err
    assert_same_edges(local, in_process, atol=1e-6)


def test_plan_writes_nothing_and_prints_the_figures(tmp_path, model, capsys):
    h5ad = write_h5ad(tmp_path / "counts.h5ad", sp.csr_matrix(raw_counts()))
    out = tmp_path / "grn.parquet"
    code = main(
        [
            "score",
            str(h5ad),
            "--model",
            str(model),
            "--out",
            str(out),
            "--normalize",
            "total",
            "--chunk-cells",
            "16",
            "--plan",
            "--device",
            "cpu",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0 and not out.exists()
    assert "80 x 24" in printed and "16 cells per chunk (5 chunks)" in printed
    assert "5, 24, 24 x 12 feature genes" in printed and "120, 115 (sorted in memory)" in printed
    for stage in ("read", "pcc", "encode", "score", "write", "total"):
        assert f"time: {stage}" in printed
    assert "peak memory (RSS)" in printed


def test_plan_reads_no_matrix(tmp_path, model, monkeypatch):
    h5ad = write_h5ad(tmp_path / "counts.h5ad", sp.csr_matrix(raw_counts()))
    import deeptgi_rt.cells as cells

    def no_reading(*args, **kwargs):
        raise AssertionError("the plan read a chunk")

    monkeypatch.setattr(cells.CellChunks, "cell_range", no_reading)
    summary = load_model(model, device="cpu").plan(ScoreRequest(str(h5ad)))
    assert summary.plan.inputs.stored_entries == sp.csr_matrix(raw_counts()).nnz
    assert summary.plan.inputs.streamed  # a sparse matrix always streams, however small


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "case", ["nan", "negative_total", "missing_layer", "zarr_without_x", "unreachable", "layer_of_csv"]
)
def test_bad_cells_input_fails_in_one_line(tmp_path, model, capsys, case):
    counts = raw_counts()
    path = tmp_path / "cells.h5ad"
    options, expected = [], ""
    if case == "nan":
        values = np.log1p(counts)
        values[30, 5] = np.nan
        write_h5ad(path, sp.csr_matrix(values))
        options, expected = ["--chunk-cells", "16"], "nan value for gene 'G5' in cell at row 31"
    elif case == "negative_total":
        counts[6, 2] = -3
        write_h5ad(path, sp.csr_matrix(counts))
        options, expected = ["--normalize", "total"], "negative value -3 for gene 'G2' in cell at row 7"
    elif case == "missing_layer":
        write_h5ad(path, sp.csr_matrix(counts), counts=sp.csr_matrix(counts))
        options, expected = ["--layer", "spliced"], "no layer 'spliced' (layers: counts)"
    elif case == "zarr_without_x":
        import shutil

        import anndata

        adata = anndata.AnnData(X=sp.csr_matrix(counts))
        adata.var_names = GENES
        path = tmp_path / "cells.zarr"
        adata.write_zarr(path)
        shutil.rmtree(path / "X")
        options, expected = ["--normalize", "total"], "no X matrix"
    elif case == "unreachable":
        write_h5ad(path, sp.csr_matrix(counts))
        options = ["--dask-scheduler", f"tcp://127.0.0.1:{_closed_port()}"]
        expected = "--dask-scheduler tcp://127.0.0.1:"
    elif case == "layer_of_csv":
        path = tmp_path / "cells.csv"
        pl.DataFrame({gene: counts[:, g] for g, gene in enumerate(GENES)}).write_csv(path)
        options, expected = ["--layer", "counts"], "--layer need an .h5ad file"
    out = tmp_path / "grn.parquet"
    code, err = run(capsys, path, "--model", model, "--out", out, *options)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and expected in lines[0], err
    assert not out.exists()


def test_large_file_streams_without_options(tmp_path, model, monkeypatch):
    import deeptgi_rt.sources as sources

    h5ad = write_h5ad(tmp_path / "cells.h5ad", np.log1p(raw_counts()).astype(np.float32))
    request = ScoreRequest(str(h5ad))
    assert not sources.streams(str(h5ad), request, transform="none", what="expression")
    monkeypatch.setattr(sources, "DENSE_BYTES_LIMIT", 4 * 80 * 24 - 1)
    assert sources.streams(str(h5ad), request, transform="none", what="expression")


def test_sparse_file_always_streams_like_a_sparse_object(tmp_path):
    import deeptgi_rt.sources as sources

    h5ad = write_h5ad(tmp_path / "cells.h5ad", sp.csr_matrix(np.log1p(raw_counts())))
    request = ScoreRequest(str(h5ad))
    assert sources.streams(str(h5ad), request, transform="none", what="expression")
