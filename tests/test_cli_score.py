"""`deeptgi-rt score` and `deeptgi-rt info`: outputs, formats, atomic writes, and every bad input."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from onnx_models import build_model, save_model, synthetic_expression, write_genes_by_cells_csv

from deeptgi_rt.cli import main

GENES, VALUES = synthetic_expression(40, 60)
FEATURES = GENES[:15]
TFS = GENES[:6]


@pytest.fixture()
def files(tmp_path):
    expr = write_genes_by_cells_csv(tmp_path / "expr.csv", GENES, VALUES)
    model = save_model(
        build_model(FEATURES, head="mlp", tfs=TFS + ["NOT_IN_DATA"], threshold=0.55), tmp_path / "model.onnx"
    )
    return tmp_path, expr, model


def score(capsys, *argv):
    code = main(["score", *map(str, argv), "--quiet"])
    return code, capsys.readouterr().err


def assert_input_error(capsys, out, *argv, match=""):
    code, err = score(capsys, *argv, "--out", out)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("deeptgi-rt: error: "), err
    assert match.lower() in lines[0].lower(), lines[0]
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


def test_parquet_output_schema_and_content(files, capsys):
    tmp, expr, model = files
    out = tmp / "grn.parquet"
    code, err = score(capsys, expr, "--model", model, "--out", out)
    assert code == 0, err
    schema = pq.read_schema(out)
    assert schema.field("TF").type == pa.dictionary(pa.int32(), pa.string())
    assert schema.field("target").type == pa.dictionary(pa.int32(), pa.string())
    assert schema.field("score").type == pa.float32()
    frame = pl.read_parquet(out)
    assert len(frame) == 6 * 39  # the model's TFs found in the data, every other gene
    assert set(frame["TF"].cast(pl.String)) == set(TFS)
    assert np.all(np.diff(frame["score"].to_numpy()) <= 0)


def test_tsv_format_is_the_adjacency_format(files, capsys):
    tmp, expr, model = files
    out_parquet, out_tsv = tmp / "a.parquet", tmp / "a.tsv"
    assert score(capsys, expr, "--model", model, "--out", out_parquet)[0] == 0
    assert score(capsys, expr, "--model", model, "--out", out_tsv, "--format", "tsv")[0] == 0
    lines = out_tsv.read_text().splitlines()
    assert lines[0] == "TF\ttarget\timportance"
    tsv = pl.read_csv(out_tsv, separator="\t")
    parquet = pl.read_parquet(out_parquet)
    assert tsv["TF"].to_list() == parquet["TF"].cast(pl.String).to_list()
    np.testing.assert_allclose(tsv["importance"].to_numpy(), parquet["score"].to_numpy(), rtol=1e-6)


def test_tsv_gz_output_is_gzipped_tsv(files, capsys):
    import gzip

    tmp, expr, model = files
    out_tsv, out_gz = tmp / "grn.tsv", tmp / "grn.tsv.gz"
    assert score(capsys, expr, "--model", model, "--out", out_tsv)[0] == 0
    assert score(capsys, expr, "--model", model, "--out", out_gz)[0] == 0
    assert out_gz.read_bytes()[:2] == b"\x1f\x8b"  # gzip magic, not Parquet's PAR1
    assert gzip.decompress(out_gz.read_bytes()).decode() == out_tsv.read_text()
    assert_input_error(capsys, tmp / "grn.tsv.zst", expr, "--model", model, match=".tsv.gz")


@pytest.fixture()
def counts_files(tmp_path):
    counts = np.round(np.expm1(VALUES * 2)).astype(np.float32)  # integers, maxima in the hundreds
    assert counts.max() > 50
    return (
        write_genes_by_cells_csv(tmp_path / "counts.csv", GENES, counts),
        write_genes_by_cells_csv(tmp_path / "logged.csv", GENES, np.log1p(counts)),
    )


def test_raw_counts_warn_and_log1p_scores_them_like_logged_data(files, counts_files, capsys):
    tmp, _, model = files
    counts, logged = counts_files
    code, err = score(capsys, counts, "--model", model, "--out", tmp / "raw.parquet")
    assert code == 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "look like raw counts" in lines[0] and "--normalize total" in lines[0]
    assert "--log1p" in lines[0]
    code, err = score(capsys, counts, "--model", model, "--log1p", "--out", tmp / "log1p.parquet")
    assert code == 0 and "raw counts" not in err
    assert score(capsys, logged, "--model", model, "--out", tmp / "logged.parquet")[0] == 0
    ours, logged_edges = (
        pl.read_parquet(tmp / name).cast({"TF": pl.String, "target": pl.String}).sort("TF", "target")
        for name in ("log1p.parquet", "logged.parquet")
    )
    assert ours.select("TF", "target").equals(logged_edges.select("TF", "target"))
    # The same up to the CSV's printed digits of the logged values.
    np.testing.assert_allclose(ours["score"].to_numpy(), logged_edges["score"].to_numpy(), atol=1e-5)
    assert score(capsys, counts, "--model", model, "--normalize", "total", "--out", tmp / "norm.parquet")[0] == 0


@pytest.mark.parametrize("transform", [["--normalize", "total"], ["--log1p"]])
def test_a_counts_transform_on_values_that_are_not_counts_warns_once_naming_the_check(
    files, counts_files, capsys, transform
):
    from deeptgi_rt.expression import Expression, write_expression_parquet

    tmp, expr, model = files  # expr: fractional, log-scale-like values
    counts, _ = counts_files
    cells = write_expression_parquet(Expression(GENES, VALUES, "cells"), tmp / "cells.parquet")
    # The CSV is read whole; the Parquet file with --normalize total is streamed a chunk of cells at a time.
    for data in (expr, cells):
        code, err = score(capsys, data, "--model", model, *transform, "--out", tmp / "g.parquet")
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 0 and len(lines) == 1, err
        assert lines[0].startswith(f"warning: {data}: raw-counts check: the values are not whole numbers")
        assert " ".join(transform) in lines[0]
    code, err = score(capsys, counts, "--model", model, *transform, "--out", tmp / "c.parquet")
    assert code == 0 and err.strip() == ""


def test_raw_counts_are_refused_by_a_model_that_learned_from_other_values(files, counts_files, capsys):
    tmp, _, _ = files
    counts, _ = counts_files
    model = save_model(build_model(FEATURES, tfs=TFS, expression_transform=["none"]), tmp / "logmodel.onnx")
    assert_input_error(
        capsys,
        tmp / "g.parquet",
        counts,
        "--model",
        model,
        match="add --normalize total (per-cell total to 10,000 then log1p, as scanpy) or --log1p",
    )
    assert score(capsys, counts, "--model", model, "--normalize", "total", "--out", tmp / "g.parquet")[0] == 0
    raw = save_model(build_model(FEATURES, tfs=TFS, expression_transform=["raw_counts"]), tmp / "rawmodel.onnx")
    code, err = score(capsys, counts, "--model", raw, "--out", tmp / "r.parquet")
    assert code == 0 and "raw counts" not in err


def test_a_transform_the_model_applies_itself_is_refused(files, counts_files, capsys):
    tmp, _, _ = files
    counts, _ = counts_files
    model = save_model(build_model(FEATURES, tfs=TFS, preprocessing=["log1p"]), tmp / "m.onnx")
    assert_input_error(
        capsys, tmp / "g.parquet", counts, "--model", model, "--normalize", "total", match="applies log1p itself"
    )


def test_var_names_column_takes_symbols_from_an_h5ad(files, capsys):
    anndata = pytest.importorskip("anndata")
    import pandas as pd

    tmp, expr, model = files
    adata = anndata.AnnData(
        VALUES.T.copy(), var=pd.DataFrame({"symbol": GENES}, index=[f"ENSG{i:011d}" for i in range(len(GENES))])
    )
    adata.write_h5ad(tmp / "e.h5ad")
    assert score(capsys, expr, "--model", model, "--out", tmp / "csv.parquet")[0] == 0
    code, err = score(
        capsys, tmp / "e.h5ad", "--model", model, "--var-names-column", "symbol", "--out", tmp / "h.parquet"
    )
    assert code == 0, err
    from_h5ad, from_csv = (
        pl.read_parquet(tmp / name).cast({"TF": pl.String, "target": pl.String}).sort("TF", "target")
        for name in ("h.parquet", "csv.parquet")
    )
    assert from_h5ad.select("TF", "target").equals(from_csv.select("TF", "target"))
    np.testing.assert_allclose(from_h5ad["score"].to_numpy(), from_csv["score"].to_numpy(), atol=1e-5)


def test_top_k_and_threshold_options(files, capsys):
    tmp, expr, model = files
    out = tmp / "top.parquet"
    assert score(capsys, expr, "--model", model, "--out", out, "--top-k", "3")[0] == 0
    top = pl.read_parquet(out)
    assert top.group_by("TF").len()["len"].to_list() == [3] * 6
    out2 = tmp / "thr.parquet"
    assert score(capsys, expr, "--model", model, "--out", out2, "--threshold", "youden")[0] == 0
    assert pl.read_parquet(out2)["score"].min() >= 0.55


def test_tfs_and_genes_files_select_the_pairs(files, capsys):
    tmp, expr, model = files
    (tmp / "tfs.txt").write_text("G010\nG011\nNOPE\n")
    (tmp / "genes.txt").write_text("gene\nG001\nG002\nG010\n")
    out = tmp / "sel.parquet"
    assert (
        score(capsys, expr, "--model", model, "--out", out, "--tfs", tmp / "tfs.txt", "--genes", tmp / "genes.txt")[0]
        == 0
    )
    pairs = set(pl.read_parquet(out).select(pl.all().exclude("score").cast(pl.String)).iter_rows())
    assert pairs == {("G010", "G001"), ("G010", "G002"), ("G011", "G001"), ("G011", "G002"), ("G011", "G010")}


def test_pairs_file_with_unknown_genes_is_skipped_with_a_count_or_fails(files, capsys):
    tmp, expr, model = files
    pairs = tmp / "pairs.tsv"
    pairs.write_text("source\ttarget\nG001\tG002\nG003\tUNKNOWN1\nG004\tG005\n")
    out = tmp / "p.parquet"
    code, err = score(capsys, expr, "--model", model, "--out", out, "--pairs", pairs)
    assert code == 0
    assert "1 of 3 pairs" in err and "UNKNOWN1" in err
    assert len(pl.read_parquet(out)) == 2
    assert_input_error(
        capsys,
        tmp / "p2.parquet",
        expr,
        "--model",
        model,
        "--pairs",
        pairs,
        "--unknown-pairs",
        "error",
        match="1 of 3 pairs",
    )


def test_interrupted_streaming_write_leaves_nothing_and_keeps_an_existing_file(files, monkeypatch):
    tmp, expr, model = files
    out = tmp / "grn.parquet"
    out.write_bytes(b"previous result")
    import deeptgi_rt.edges as edges

    calls = {"n": 0}
    original = edges.ParquetEdgeWriter.write

    def failing_write(self, block):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        original(self, block)

    monkeypatch.setattr(edges.ParquetEdgeWriter, "write", failing_write)
    # --max-sort-edges 0: edges stream to the output file block by block.
    code = main(
        [
            "score",
            str(expr),
            "--model",
            str(model),
            "--out",
            str(out),
            "--batch-size",
            "40",
            "--max-sort-edges",
            "0",
            "--quiet",
        ]
    )
    assert code == 130
    assert calls["n"] == 3
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp.iterdir()) == ["expr.csv", "grn.parquet", "model.onnx"]


@pytest.mark.parametrize("fmt", ["parquet", "tsv"])
def test_failure_after_the_data_is_written_leaves_nothing(files, monkeypatch, fmt):
    tmp, expr, model = files
    out = tmp / f"grn.{fmt}"
    import deeptgi_rt.edges as edges

    original = edges.write_tsv if fmt == "tsv" else edges.ParquetEdgeWriter.close
    written = {}

    def write_then_fail(*args, **kwargs):
        original(*args, **kwargs)
        written["bytes"] = sum(p.stat().st_size for p in tmp.iterdir() if p.name.startswith(f".{out.name}."))
        raise RuntimeError("disk vanished")

    if fmt == "tsv":
        monkeypatch.setattr(edges, "write_tsv", write_then_fail)
    else:
        monkeypatch.setattr(edges.ParquetEdgeWriter, "close", write_then_fail)
    with pytest.raises(RuntimeError, match="disk vanished"):
        main(["score", str(expr), "--model", str(model), "--out", str(out), "--quiet"])
    assert written["bytes"] > 0  # the complete temporary file existed ...
    assert sorted(p.name for p in tmp.iterdir()) == ["expr.csv", "model.onnx"]  # ... and is gone


def test_info_prints_the_metadata_and_json(files, capsys):
    tmp, expr, model = files
    assert main(["info", str(model)]) == 0
    text = capsys.readouterr().out
    assert "15" in text and "G000" in text and "single_cell" in text and "0.55" in text and "tf_state" in text
    assert "expression transform" in text and "unknown" in text
    assert "calibration" in text and "none recorded" in text
    assert main(["info", str(model), "--json"]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["feature_genes"] == FEATURES and meta["threshold"] == 0.55 and meta["state_tensors"]["tf"] == "tf_state"


@pytest.mark.parametrize(
    "case",
    [
        "missing_model",
        "text_model",
        "no_metadata",
        "bulk_model",
        "missing_features",
        "tfs_not_in_data",
        "pairs_without_columns",
        "top_k_zero",
        "threshold_high",
        "threshold_word",
        "device_cuda",
        "missing_expression",
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_output(files, capsys, case):
    import onnx

    tmp, expr, model = files
    out = tmp / "out.parquet"
    argv = [expr, "--model", model]
    match = ""
    if case == "missing_model":
        argv[2], match = tmp / "nope.onnx", "not found"
    elif case == "text_model":
        (tmp / "text.onnx").write_text("this is not a model\n" * 20)
        argv[2], match = tmp / "text.onnx", "not an ONNX model"
    elif case == "no_metadata":
        proto = onnx.load(str(model))
        del proto.metadata_props[:]
        onnx.save(proto, str(tmp / "plain.onnx"))
        argv[2], match = tmp / "plain.onnx", "not a DeepTGI model"
    elif case == "bulk_model":
        save_model(build_model(FEATURES, modalities=("single_cell", "bulk"), tfs=TFS), tmp / "bulk.onnx")
        argv[2], match = tmp / "bulk.onnx", "bulk.onnx: the model expects 2"
    elif case == "missing_features":
        save_model(build_model(FEATURES[:10] + ["ABSENT1", "ABSENT2"], tfs=TFS), tmp / "feat.onnx")
        argv[2], match = tmp / "feat.onnx", "2 of 12 feature genes"
    elif case == "tfs_not_in_data":
        (tmp / "tfs.txt").write_text("X1\nX2\n")
        argv += ["--tfs", tmp / "tfs.txt"]
        match = "none is in the expression data"
    elif case == "pairs_without_columns":
        (tmp / "pairs.csv").write_text("a,b\nG001,G002\n")
        argv += ["--pairs", tmp / "pairs.csv"]
        match = "no TF and target columns"
    elif case == "top_k_zero":
        argv += ["--top-k", "0"]
        match = "--top-k"
    elif case == "threshold_high":
        argv += ["--threshold", "1.5"]
        match = "--threshold"
    elif case == "threshold_word":
        argv += ["--threshold", "high"]
        match = "--threshold"
    elif case == "device_cuda":
        argv += ["--device", "cuda"]
        match = "--device cuda requested but"
    elif case == "missing_expression":
        argv[0], match = tmp / "nope.csv", "nope.csv"
    assert_input_error(capsys, out, *argv, match=match)


def test_missing_feature_genes_are_accepted_above_the_coverage(files, capsys):
    tmp, expr, model = files
    save_model(build_model(FEATURES[:14] + ["ABSENT1"], tfs=TFS), tmp / "feat.onnx")
    out = tmp / "cov.parquet"
    code, err = score(capsys, expr, "--model", tmp / "feat.onnx", "--out", out, "--allow-missing-features", "0.9")
    assert code == 0
    assert "1 of 15 feature genes missing" in err
    assert len(pl.read_parquet(out)) == 6 * 39
    assert_input_error(
        capsys,
        tmp / "cov2.parquet",
        expr,
        "--model",
        tmp / "feat.onnx",
        "--allow-missing-features",
        "0.99",
        match="coverage",
    )


@pytest.mark.parametrize("fmt", ["parquet", "tsv"])
def test_outputs_over_the_sort_budget_are_grouped_per_tf(files, capsys, fmt):
    tmp, expr, model = files
    ranked, grouped = tmp / f"ranked.{fmt}", tmp / f"grouped.{fmt}"
    assert score(capsys, expr, "--model", model, "--out", ranked)[0] == 0
    code, err = (
        main(["score", str(expr), "--model", str(model), "--out", str(grouped), "--max-sort-edges", "10"]),
        capsys.readouterr().err,
    )
    assert code == 0 and "grouped per TF" in err

    def read(path):
        if fmt == "tsv":
            return pl.read_csv(path, separator="\t").rename({"importance": "score"})
        return pl.read_parquet(path).with_columns(pl.col("TF", "target").cast(pl.String))

    by_tf = read(grouped)
    assert by_tf["TF"].to_list() == sorted(by_tf["TF"].to_list(), key=TFS.index)  # TFs in the given order
    for _, group in by_tf.group_by("TF", maintain_order=True):
        assert np.all(np.diff(group["score"].to_numpy()) <= 0)
    assert by_tf.sort("TF", "target").equals(read(ranked).sort("TF", "target"))


def test_summary_shows_the_load_time_and_the_pairs_scored(files, capsys):
    tmp, expr, model = files
    code = main(["score", str(expr), "--model", str(model), "--out", str(tmp / "summary.parquet")])
    err = capsys.readouterr().err
    assert code == 0
    assert "time: load" in err and "time: total" in err
    assert "39 targets each" in err


def test_threads_option_caps_the_numba_pcc_kernels_too(tmp_path):
    import numba

    before = numba.get_num_threads()
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here, so a cap to 1 cannot be told apart")
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    out = tmp_path / "grn.parquet"
    try:
        numba.set_num_threads(2)
        code = main(
            [
                "score",
                str(repo / "examples" / "mhsc-e.parquet"),
                "--model",
                str(repo / "deeptgi_rt" / "models" / "mhsc-e-lite.onnx"),
                "--top-k",
                "2",
                "--threads",
                "1",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        assert code == 0 and out.exists()
        assert numba.get_num_threads() == 1
    finally:
        numba.set_num_threads(before)
