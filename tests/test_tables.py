"""Table files: one answer to "what kind of file is this, how is it separated, which columns
hold TFs and targets" for every reader, including the drifts it replaced."""

from __future__ import annotations

import gzip

import polars as pl
import pytest

from deeptgi_rt.errors import InputError
from deeptgi_rt.pairs import PairSource
from deeptgi_rt.plot import read_edges
from deeptgi_rt.tables import (
    PAIR_COLUMNS,
    TableFormat,
    find_tf_target_columns,
    first_line,
    is_tsv_output,
    table_format,
)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("x.parquet", TableFormat("parquet")),
        ("X.PQ", TableFormat("parquet")),
        ("x.csv", TableFormat("csv")),
        ("X.CSV.GZ", TableFormat("csv", "gzip")),
        ("x.tsv", TableFormat("tsv")),
        ("x.Tab", TableFormat("tsv")),
        ("x.tsv.gz", TableFormat("tsv", "gzip")),
        ("x.H5AD", TableFormat("h5ad")),
        ("x.zarr", TableFormat("zarr")),
    ],
)
def test_kind_and_compression_come_from_the_name_in_any_case(tmp_path, name, expected):
    assert table_format(tmp_path / name) == expected


@pytest.mark.parametrize("first, kind", [("a\tb\n", "tsv"), ("a,b\n", "csv")])
def test_txt_and_unknown_names_take_the_separator_from_the_first_line(tmp_path, first, kind):
    (tmp_path / "x.txt").write_text(first)
    with gzip.open(tmp_path / "x.dat.gz", "wt") as handle:
        handle.write(first)
    assert table_format(tmp_path / "x.txt").kind == kind
    assert table_format(tmp_path / "x.dat.gz", lenient=True) == TableFormat(kind, "gzip")
    with pytest.raises(InputError, match=r"unknown file type '\.dat'"):
        table_format(tmp_path / "x.dat.gz")


@pytest.mark.parametrize(
    "name, message",
    [
        ("x.csv.bz2", "bz2-compressed files are not read"),
        ("x.parquet.gz", "only delimited text is read compressed"),
    ],
)
def test_unreadable_compressions_name_the_fix(tmp_path, name, message):
    with pytest.raises(InputError, match=message):
        table_format(tmp_path / name)


@pytest.mark.parametrize(
    "name, tsv",
    [
        ("grn.tsv", True),
        ("grn.tsv.gz", True),
        ("GRN.TSV", True),
        ("grn.txt", True),
        ("grn.Tab.GZ", True),
        ("grn.parquet", False),
        ("grn.tsv.parquet", False),
        ("grn", False),
        ("grn.csv", False),
    ],
)
def test_tsv_output_names(name, tsv):
    assert is_tsv_output(name) is tsv


@pytest.mark.parametrize(
    "columns",
    [
        ("TF", "Target"),
        ("tf", "target"),
        ("Gene1", "Gene2"),
        ("tf", "gene"),
        ("source", "target"),
        ("SOURCE", "Target"),
        ("regulator", "target"),
        ("Regulator", "Gene"),
    ],
)
def test_pair_columns_are_recognized_in_any_case(columns):
    assert find_tf_target_columns(["weight", *columns], "p.csv") == columns


def test_columns_that_belong_together_win_over_mixed_ones():
    assert find_tf_target_columns(["Gene1", "Gene2", "TF"], "p.csv") == ("Gene1", "Gene2")
    assert find_tf_target_columns(["gene", "TF", "target"], "p.csv") == ("TF", "target")
    with pytest.raises(InputError, match=r"p\.csv: no TF and target columns \(columns found: from, to"):
        find_tf_target_columns(["from", "to"], "p.csv")


def test_pair_files_accept_every_pair_of_column_names(tmp_path):
    for tf, target in PAIR_COLUMNS:
        path = tmp_path / f"{tf}-{target}.csv"
        path.write_text(f"{tf},{target}\nA,B\n")
        source = PairSource(path)
        assert (source.tf_column, source.gene_column) == (tf, target)


def test_regulator_target_pairs_are_scored(tmp_path):
    # Training always read regulator,target; scoring with --pairs refused it.
    path = tmp_path / "pairs.csv"
    path.write_text("regulator,target\nGata1,Klf1\nSpi1,Cebpa\n")
    [(tfs, targets)] = list(PairSource(path).batches())
    assert tfs.to_pylist() == ["Gata1", "Spi1"] and targets.to_pylist() == ["Klf1", "Cebpa"]


@pytest.mark.parametrize("name", ["edges.TSV", "edges.Tsv.gz", "EDGES.PARQUET", "edges.txt"])
def test_edge_lists_are_read_whatever_the_case_of_their_suffix(tmp_path, name):
    frame = pl.DataFrame({"TF": ["A", "A", "B"], "target": ["B", "C", "C"], "score": [0.9, 0.5, 0.7]})
    path = tmp_path / name
    if "parquet" in name.lower():
        frame.write_parquet(path)
    else:
        text = frame.write_csv(separator="\t")
        path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    edges = read_edges(path)
    assert edges["TF"].to_list() == ["A", "A", "B"]
    assert edges["score"].to_list() == pytest.approx([0.9, 0.5, 0.7])


def test_first_line_of_an_error():
    assert first_line(ValueError("one\ntwo")) == "one"
    assert first_line(KeyError()) == "KeyError"
