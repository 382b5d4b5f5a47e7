"""Every bad expression input ends as one error line naming the file and the item, exit code 2,
no traceback, and nothing at the output path, through both commands that read expression."""

from __future__ import annotations

import sys

import numpy as np
import polars as pl
import pytest

from deeptgi_rt.cli import main

GOOD_ROWS = ["1.5,2,0.25", "0,3.5,1", "2,1,4", "0.5,0.5,0.5"]


def csv_file(tmp_path, header, rows, name="x.csv"):
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def truncated_parquet(tmp_path):
    path = tmp_path / "x.parquet"
    frame = pl.DataFrame({f"G{i}": np.arange(200, dtype=np.float32) * i for i in range(20)})
    frame.write_parquet(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def duplicate_column_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "x.parquet"
    columns = [pa.array([1.0, 2.0, 3.0]), pa.array([1.0, 0.0, 3.0]), pa.array([3.0, 2.0, 2.5])]
    pq.write_table(pa.Table.from_arrays(columns, names=["Klf1", "Spi1", "Klf1"]), path)
    return path


def string_column_parquet(tmp_path):
    path = tmp_path / "x.parquet"
    pl.DataFrame({"Gata1": [1.0, 2.0, 3.0], "Klf1": ["1", "oops", "3"]}).write_parquet(path)
    return path


# (id, builder(tmp_path) -> input path, extra CLI options, words the message must contain)
CASES = [
    ("missing-file", lambda d: d / "absent.csv", [], ["file not found"]),
    ("zero-bytes", lambda d: (d / "x.csv").write_text("") and None or d / "x.csv", [], ["file is empty"]),
    ("header-only", lambda d: csv_file(d, "Gata1,Klf1,Spi1", []), [], ["no data rows"]),
    ("truncated-parquet", truncated_parquet, [], ["not a readable Parquet file"]),
    ("not-h5ad", lambda d: csv_file(d, "a,b", ["1,2"], name="x.h5ad"), [], ["not a readable h5ad file"]),
    ("unknown-extension", lambda d: csv_file(d, "a,b", ["1,2"], name="x.xlsx"), [], ["unknown file type '.xlsx'"]),
    (
        "non-numeric-cells-by-genes",
        lambda d: csv_file(d, "Gata1,Klf1,Spi1", ["1,2,3", "4,abc,6", "7,8,9"]),
        [],
        ["non-numeric value 'abc'", "column 'Klf1'", "data row 2"],
    ),
    (
        "non-numeric-first-column",
        lambda d: csv_file(d, "Gata1,Klf1,Spi1", ["1,2,3", "4,5,6", "x7,8,9", "1,1,1"]),
        [],
        ["non-numeric value 'x7'", "column 'Gata1'", "data row 3"],
    ),
    (
        "non-numeric-genes-by-cells",
        lambda d: csv_file(d, ",c1,c2,c3", ["Gata1,1,2,3", "Klf1,4,5,NA"]),
        [],
        ["non-numeric value 'NA'", "column 'c3'", "data row 2", "'Klf1'"],
    ),
    ("parquet-string-column", string_column_parquet, [], ["column 'Klf1' is not numeric"]),
    (
        "missing-value",
        lambda d: csv_file(d, "Gata1,Klf1,Spi1", ["1,2,3", "4,,6", "7,8,9"]),
        [],
        ["missing (empty) value", "column 'Klf1'", "data row 2"],
    ),
    (
        "nan",
        lambda d: csv_file(d, ",c1,c2,c3", ["Gata1,1,2,3", "Klf1,4,NaN,6"]),
        [],
        ["nan value", "gene 'Klf1'", "cell 'c2'"],
    ),
    (
        "infinite",
        lambda d: csv_file(d, "Gata1,Klf1,Spi1", ["1,2,3", "4,5,6", "7,8,-inf"]),
        [],
        ["-inf value", "gene 'Spi1'", "data row 3"],
    ),
    ("duplicate-genes", lambda d: csv_file(d, "Gata1,Klf1,Gata1", GOOD_ROWS), [], ["duplicate gene names: Gata1"]),
    ("duplicate-parquet-columns", duplicate_column_parquet, [], ["duplicate gene names: Klf1"]),
    (
        "duplicate-genes-ignoring-case",
        lambda d: csv_file(d, "Gata1,Klf1,GATA1", GOOD_ROWS),
        ["--case-insensitive"],
        ["duplicate gene names (ignoring case): Gata1/GATA1"],
    ),
    ("too-few-cells", lambda d: csv_file(d, "Gata1,Klf1,Spi1", GOOD_ROWS[:2]), [], ["2 cells", "at least 3"]),
    (
        "numeric-gene-names",
        lambda d: csv_file(d, "0,1,2", GOOD_ROWS),
        [],
        ["gene names look numeric", "--layout genes-by-cells|cells-by-genes"],
    ),
    (
        "wrong-layout",
        lambda d: csv_file(d, "Gata1,Klf1,Spi1", GOOD_ROWS),
        ["--layout", "genes-by-cells"],
        ["gene names look numeric (1.5, 0, 2, ...", "read as genes-by-cells"],
    ),
    (
        "empty-gene-name-in-header",
        lambda d: csv_file(d, "Gata1,,Spi1", GOOD_ROWS),
        [],
        ["empty gene name at gene position 2"],
    ),
    (
        "empty-gene-name-in-first-column",
        lambda d: csv_file(d, "gene,c1,c2,c3", ["Gata1,1,2,3", ",4,5,6", "Spi1,1,1,2"]),
        [],
        ["empty gene name in the first column at data row 2"],
    ),
    (
        "ragged-rows",
        lambda d: csv_file(d, "Gata1,Klf1,Spi1", ["1,2,3", "4,5,6,7", "7,8,9"]),
        [],
        ["line 3 has 4 fields but the header has 3"],
    ),
    (
        "log1p-of-negative",
        lambda d: csv_file(d, "Gata1,Klf1,Spi1", ["1,2,3", "4,-5,6", "7,8,9"]),
        ["--log1p"],
        ["negative value -5", "gene 'Klf1'", "log1p"],
    ),
]


def run_cli(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err


def command(name, path, out, options):
    if name == "convert":
        return ["convert", str(path), str(out), *options]
    return ["pcc", str(path), "--out", str(out), "--quiet", *options]


def assert_one_error_line(code, err, path, words):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("deeptgi-rt: error: ")
    assert str(path) in lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in err
    print(lines[0])  # shown with pytest -s: the messages users see


# convert has no --log1p: it stores the data as read.
RUNS = [
    (name, case) for case in CASES for name in ("pcc", "convert") if not (name == "convert" and "--log1p" in case[2])
]


@pytest.mark.parametrize("name, case", RUNS, ids=[f"{name}-{case[0]}" for name, case in RUNS])
def test_bad_expression_input_is_one_line_and_writes_nothing(tmp_path, capsys, name, case):
    _, build, options, words = case
    path = build(tmp_path)
    out = tmp_path / "out.parquet"
    code, err = run_cli(command(name, path, out, options), capsys)
    assert_one_error_line(code, err, path, words)
    assert not out.exists()
    assert not list(tmp_path.glob("*.partial"))


def test_missing_anndata_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    path = csv_file(tmp_path, "a,b", ["1,2"], name="x.h5ad")
    monkeypatch.setitem(sys.modules, "anndata", None)  # makes `import anndata` raise ImportError
    code, err = run_cli(["convert", str(path), str(tmp_path / "out.parquet")], capsys)
    assert_one_error_line(code, err, path, ["pip install 'deeptgi-rt[anndata]'"])


def test_h5ad_refuses_the_genes_by_cells_layout(tmp_path, capsys):
    path = csv_file(tmp_path, "a,b", ["1,2"], name="x.h5ad")
    code, err = run_cli(["convert", str(path), str(tmp_path / "o.parquet"), "--layout", "genes-by-cells"], capsys)
    assert_one_error_line(code, err, path, ["always cells (obs) x genes (var)"])


@pytest.mark.parametrize("name", ["pcc", "convert"])
def test_output_in_a_missing_directory_fails_before_reading(tmp_path, capsys, name):
    out = tmp_path / "nowhere" / "out.parquet"
    # The input does not exist either: the output check must come first.
    code, err = run_cli(command(name, tmp_path / "absent.csv", out, []), capsys)
    assert_one_error_line(code, err, out, ["output directory", "does not exist"])
    assert not out.parent.exists()


def test_failed_run_leaves_an_existing_output_untouched(tmp_path, capsys):
    out = tmp_path / "out.parquet"
    out.write_bytes(b"previous result")
    path = csv_file(tmp_path, "Gata1,Klf1,Gata1", GOOD_ROWS)
    code, _ = run_cli(["convert", str(path), str(out)], capsys)
    assert code == 2
    assert out.read_bytes() == b"previous result"


@pytest.mark.parametrize("name", ["pcc", "convert"])
def test_output_not_named_parquet_is_refused_before_reading(tmp_path, capsys, name):
    out = tmp_path / "out.csv"
    code, err = run_cli(command(name, tmp_path / "absent.csv", out, []), capsys)
    assert_one_error_line(code, err, out, ["written as Parquet; name it .parquet"])
    assert not out.exists()
