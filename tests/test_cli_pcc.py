"""`deeptgi-rt pcc`: output equals numpy's corrcoef, gene lists pick rows and columns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from deeptgi_rt.cli import main

GENES = [f"G{i}" for i in range(12)]


@pytest.fixture
def expression_file(tmp_path) -> tuple[Path, np.ndarray]:
    """A genes-by-cells CSV and its float32 values [genes, cells]."""
    rng = np.random.default_rng(11)
    values = rng.normal(size=(len(GENES), 40)).astype(np.float32)
    values[5] = values[2] * 2 + 1  # perfectly correlated pair
    path = tmp_path / "expr.csv"
    header = ",".join(["gene"] + [f"cell{j}" for j in range(values.shape[1])])
    lines = [",".join([gene] + [repr(float(v)) for v in values[g]]) for g, gene in enumerate(GENES)]
    path.write_text("\n".join([header, *lines]) + "\n")
    return path, values


def test_pcc_of_all_genes_equals_numpy_corrcoef(tmp_path, expression_file, capsys):
    path, values = expression_file
    out = tmp_path / "pcc.parquet"
    assert main(["pcc", str(path), "--out", str(out), "--device", "cpu"]) == 0
    table = pl.read_parquet(out)
    assert table.columns == ["gene", *GENES]
    assert table["gene"].to_list() == GENES
    assert all(dtype == pl.Float32 for dtype in table.drop("gene").dtypes)
    np.testing.assert_allclose(table.drop("gene").to_numpy(), np.corrcoef(values.astype(np.float64)), atol=1e-5)
    assert "read " in capsys.readouterr().err


def test_pcc_respects_row_and_column_gene_lists(tmp_path, expression_file):
    path, values = expression_file
    (tmp_path / "rows.txt").write_text("G5\nG0\n# a comment\nG9\n")
    (tmp_path / "cols.csv").write_text("gene,note\nG2,x\nG11,y\n")
    out = tmp_path / "pcc.parquet"
    assert (
        main(
            [
                "pcc",
                str(path),
                "--rows",
                str(tmp_path / "rows.txt"),
                "--cols",
                str(tmp_path / "cols.csv"),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    table = pl.read_parquet(out)
    assert table.columns == ["gene", "G2", "G11"]
    assert table["gene"].to_list() == ["G5", "G0", "G9"]
    full = np.corrcoef(values.astype(np.float64))
    np.testing.assert_allclose(table.drop("gene").to_numpy(), full[np.ix_([5, 0, 9], [2, 11])], atol=1e-5)
    assert table["G2"][0] == pytest.approx(1.0, abs=1e-5)


def test_pcc_with_log1p_and_case_insensitive_lists(tmp_path, expression_file):
    path, values = expression_file
    positive = np.abs(values)
    parquet = tmp_path / "expr.parquet"
    pl.DataFrame({gene: positive[g] for g, gene in enumerate(GENES)}).write_parquet(parquet)
    (tmp_path / "rows.txt").write_text("g3\ng7\n")
    out = tmp_path / "pcc.parquet"
    assert (
        main(
            [
                "pcc",
                str(parquet),
                "--rows",
                str(tmp_path / "rows.txt"),
                "--out",
                str(out),
                "--log1p",
                "--case-insensitive",
                "--quiet",
            ]
        )
        == 0
    )
    table = pl.read_parquet(out)
    assert table["gene"].to_list() == ["G3", "G7"]
    expected = np.corrcoef(np.log1p(positive.astype(np.float64)))[[3, 7]]
    np.testing.assert_allclose(table.drop("gene").to_numpy(), expected, atol=1e-5)


def test_genes_missing_from_the_data_are_counted_and_named(tmp_path, expression_file, capsys):
    path, _ = expression_file
    rows = tmp_path / "rows.txt"
    rows.write_text("G1\nNotAGene\nG2\nAlsoMissing\n")
    out = tmp_path / "pcc.parquet"
    assert main(["pcc", str(path), "--rows", str(rows), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert str(path) in err and str(rows) in err
    assert "2 of 4" in err and "NotAGene, AlsoMissing" in err
    assert not out.exists()


def test_constant_genes_are_reported_once_with_their_count(tmp_path, capsys):
    path = tmp_path / "expr.csv"
    path.write_text("A,B,C,D\n1,5,2,7\n2,5,9,7\n3,5,1,7\n4,5,0,7\n")
    out = tmp_path / "pcc.parquet"
    assert main(["pcc", str(path), "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.count("warning:") == 1
    assert "2 of 4 genes have constant expression" in err
    table = pl.read_parquet(out)
    assert table["B"].to_list() == [0.0] * 4


def test_console_script_prints_one_line_and_no_traceback(tmp_path):
    bad = tmp_path / "expr.csv"
    bad.write_text("A,B,C\n1,2,3\n4,oops,6\n7,8,9\n")
    out = tmp_path / "pcc.parquet"
    script = Path(sys.executable).with_name("deeptgi-rt")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "import sys; from deeptgi_rt.cli import main; sys.exit(main())"]
    )
    result = subprocess.run(
        [*command, "pcc", str(bad), "--out", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"deeptgi-rt: error: {bad}: non-numeric value 'oops' in column 'B' at data row 2 (line 3)"
    ]
    assert not out.exists()


def test_unusable_cuda_device_fails_before_reading(tmp_path, capsys):
    from deeptgi_rt.pcc import resolve_backend

    if resolve_backend("auto") == "cuda":
        pytest.skip("a working GPU is present")
    out = tmp_path / "pcc.parquet"
    # The input does not exist: the device error must come first.
    assert main(["pcc", str(tmp_path / "absent.csv"), "--out", str(out), "--device", "cuda", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--device cuda" in err[0] and "absent.csv" not in err[0]
    assert not out.exists()
