"""`deeptgi-rt convert`: any input becomes the canonical Parquet layout, and reads back the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from deeptgi_rt.cli import main
from deeptgi_rt.expression import read_expression

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_convert_genes_by_cells_csv_round_trips_with_cell_ids(tmp_path, shared_data):
    source = shared_data / "mdc" / "expression.csv"
    out = tmp_path / "mdc.parquet"
    assert main(["convert", str(source), str(out), "--quiet"]) == 0
    original, converted = read_expression(source), read_expression(out)
    assert converted.layout == "cells-by-genes"
    assert converted.genes == original.genes
    assert converted.cells == original.cells
    np.testing.assert_array_equal(converted.values, original.values)
    schema = pl.read_parquet_schema(out)
    assert list(schema)[0] == "cell_id" and schema["cell_id"] == pl.String
    assert set(list(schema.values())[1:]) == {pl.Float32}


def test_convert_cells_by_genes_csv_without_cell_ids(tmp_path, shared_data):
    source = shared_data / "mhsc-e" / "expression.csv"
    out = tmp_path / "mhsc-e.parquet"
    assert main(["convert", str(source), str(out), "--quiet"]) == 0
    converted = read_expression(out)
    assert converted.cells is None
    assert list(pl.read_parquet_schema(out))[:2] == converted.genes[:2]
    np.testing.assert_array_equal(converted.values, read_expression(source).values)


def test_convert_h5ad_and_parquet_inputs(tmp_path):
    anndata = pytest.importorskip("anndata")
    rng = np.random.default_rng(5)
    matrix = rng.random((9, 4)).astype(np.float32)
    adata = anndata.AnnData(X=matrix)
    adata.obs_names = [f"bc{i}" for i in range(9)]
    adata.var_names = ["Gata1", "Klf1", "Spi1", "Cebpa"]
    adata.write_h5ad(tmp_path / "x.h5ad")
    assert main(["convert", str(tmp_path / "x.h5ad"), str(tmp_path / "a.parquet"), "--quiet"]) == 0
    # Parquet to Parquet is a fixed point.
    assert main(["convert", str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet"), "--quiet"]) == 0
    for name in ("a.parquet", "b.parquet"):
        expression = read_expression(tmp_path / name)
        np.testing.assert_array_equal(expression.values, matrix.T)
        assert expression.cells == list(adata.obs_names)
        assert expression.genes == list(adata.var_names)


def test_convert_honours_an_explicit_layout(tmp_path):
    source = tmp_path / "x.tsv"
    source.write_text("sample\tGata1\tKlf1\ns1\t1\t2\ns2\t3\t4\ns3\t5\t7\n")
    out = tmp_path / "x.parquet"
    assert main(["convert", str(source), str(out), "--layout", "cells-by-genes", "--quiet"]) == 0
    expression = read_expression(out)
    assert expression.genes == ["Gata1", "Klf1"]
    assert expression.cells == ["s1", "s2", "s3"]
    np.testing.assert_array_equal(expression.values, [[1, 3, 5], [2, 4, 7]])


@pytest.mark.parametrize("name", ["mhsc-e", "mdc"])
def test_shipped_examples_hold_the_reference_data(shared_data, name):
    example = read_expression(EXAMPLES / f"{name}.parquet")
    reference = read_expression(shared_data / name / "expression.csv")
    assert example.genes == reference.genes
    assert example.cells == reference.cells
    np.testing.assert_array_equal(example.values, reference.values)
