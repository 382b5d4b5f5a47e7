"""Gene-name matching (exact or ignoring case) and the errors that name the fix."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from deeptgi_rt.cli import main
from deeptgi_rt.errors import InputError
from deeptgi_rt.expression import expression_from_frame, read_expression
from deeptgi_rt.features import feature_gene_columns, gene_rows
from deeptgi_rt.names import GeneMatcher, duplicate_names, looks_like_ensembl, shared_genes

GENES = ["Gata1", "Klf1", "Spi1", "Cebpa"]


@pytest.mark.parametrize("case_insensitive", [False, True])
def test_vectorized_lookup_agrees_with_match(case_insensitive):
    matcher = GeneMatcher(GENES + ["Straße"], case_insensitive)
    names = ["GATA1", "Klf1", "spi1", "x", "STRASSE", "Cebpa", "Gata1", "STRAßE"]
    rows, missing = matcher.match(names)
    # Batches with and without non-ASCII names take different paths in lookup.
    arrow_rows = np.concatenate(
        [matcher.lookup(pa.chunked_array([names[:3], names[3:7] + [None]])), matcher.lookup(pa.array(names[4:]))]
    )
    assert arrow_rows.tolist() == rows[:7].tolist() + [-1] + rows[4:].tolist()
    expected = [0, 1, 2, -1, 4, 3, 0, 4] if case_insensitive else [-1, 1, -1, -1, -1, 3, 0, -1]
    assert rows.tolist() == expected
    assert missing == [name for name, row in zip(names, expected) if row < 0]


def test_duplicates_and_first_occurrence_under_the_key():
    assert duplicate_names(["A", "b", "a", "B", "A"]) == ["A"]
    assert duplicate_names(["A", "b", "a", "B"], case_insensitive=True) == ["A/a", "b/B"]
    matcher = GeneMatcher(["A", "a"], case_insensitive=True)
    assert matcher.position("a") == 0 and matcher.spelling("a") == "A" and "A" in matcher


def test_shared_genes_keep_the_first_lists_order_and_spelling():
    assert shared_genes([GENES, ["cebpa", "GATA1", "Spi1"]]) == ["Spi1"]
    assert shared_genes([GENES, ["cebpa", "GATA1", "Spi1"]], case_insensitive=True) == ["Gata1", "Spi1", "Cebpa"]
    assert shared_genes([GENES, GENES[1:], ["Cebpa", "Klf1"]]) == ["Klf1", "Cebpa"]
    with pytest.raises(InputError, match=r"^bulk\.csv: no gene in common with sc\.csv$"):
        shared_genes([GENES, ["X"]], sources=["sc.csv", "bulk.csv"])


def _expression(genes, source="data.csv"):
    values = np.random.default_rng(0).random((len(genes), 5)).astype(np.float32)
    return expression_from_frame(values, genes=genes, layout="genes-by-cells", source=source)


def test_feature_genes_differing_only_in_case_name_case_insensitive():
    expression = _expression([name.upper() for name in GENES])
    with pytest.raises(
        InputError,
        match=r"4 of 4 feature genes.*found when case is ignored: Gata1, Klf1, Spi1, \.\.\. \(4 in all\); "
        r"match ignoring case with --case-insensitive "
        r"\(case_insensitive=True\)",
    ):
        feature_gene_columns(expression, GENES)
    columns, rows = feature_gene_columns(expression, GENES, case_insensitive=True)
    assert columns.tolist() == rows.tolist() == [0, 1, 2, 3]


def test_missing_feature_genes_name_allow_missing_features_with_the_coverage_met():
    expression = _expression(GENES[:3] + ["Other"])
    with pytest.raises(
        InputError,
        match=r"1 of 4 feature genes.*Cebpa; coverage 75\.0%.*"
        r"--allow-missing-features 0\.75 \(min_coverage=0\.75\)",
    ):
        feature_gene_columns(expression, GENES)
    columns, _ = feature_gene_columns(expression, GENES, min_coverage=0.75)
    assert columns.tolist() == [0, 1, 2]
    with pytest.raises(InputError, match=r"coverage 75\.0% < required 90\.0%"):
        feature_gene_columns(expression, GENES, min_coverage=0.9)


def test_ensembl_ids_against_symbols_name_var_names_column():
    ids = ["ENSMUSG00000031162", "ENSMUSG00000054191", "ENSMUSG00000002111", "ENSMUSG00000034957"]
    assert looks_like_ensembl(ids) and not looks_like_ensembl(GENES)
    with pytest.raises(InputError, match=r"Ensembl ids.*--var-names-column COL \(var_names_column=\.\.\.\)"):
        feature_gene_columns(_expression(ids), GENES)
    with pytest.raises(InputError, match=r"2 of 2 TFs are not in the data.*--var-names-column"):
        gene_rows(_expression(ids), ["Gata1", "Spi1"], what="TFs")


def test_pcc_row_genes_in_another_case_name_case_insensitive(tmp_path, capsys):
    pl.DataFrame({name: np.arange(5.0) * (i + 1) % 3 for i, name in enumerate(GENES)}).write_parquet(
        tmp_path / "x.parquet"
    )
    (tmp_path / "rows.txt").write_text("gata1\nKlf1\n")
    code = main(
        [
            "pcc",
            str(tmp_path / "x.parquet"),
            "--rows",
            str(tmp_path / "rows.txt"),
            "--out",
            str(tmp_path / "o.parquet"),
            "-q",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "gata1" in err and "--case-insensitive" in err
    assert not (tmp_path / "o.parquet").exists()


def _anndata_file(tmp_path, suffix=".h5ad"):
    anndata = pytest.importorskip("anndata")
    import pandas as pd

    matrix = np.random.default_rng(1).random((6, 4)).astype(np.float32)
    var = pd.DataFrame({"symbol": GENES}, index=["ENSMUSG0000003116" + str(i) for i in range(4)])
    adata = anndata.AnnData(X=matrix, var=var, obs=pd.DataFrame(index=[f"c{i}" for i in range(6)]))
    path = tmp_path / f"x{suffix}"
    adata.write_h5ad(path) if suffix == ".h5ad" else adata.write_zarr(path)
    return path, matrix


@pytest.mark.filterwarnings("ignore:Writing zarr v2")
@pytest.mark.parametrize("suffix", [".h5ad", ".zarr"])
def test_var_names_column_takes_gene_names_from_var(tmp_path, suffix):
    path, matrix = _anndata_file(tmp_path, suffix)
    by_id = read_expression(path)
    by_symbol = read_expression(path, var_names_column="symbol", chunk_cells=4)
    assert by_id.genes[0].startswith("ENSMUSG") and by_symbol.genes == GENES
    np.testing.assert_array_equal(by_symbol.values, matrix.T)
    with pytest.raises(InputError, match=r"no var column 'gene_symbols' for --var-names-column; var columns: symbol"):
        read_expression(path, var_names_column="gene_symbols")


def test_var_names_column_on_the_command_line(tmp_path, capsys):
    path, matrix = _anndata_file(tmp_path)
    assert main(["convert", str(path), str(tmp_path / "o.parquet"), "--var-names-column", "symbol", "-q"]) == 0
    assert read_expression(tmp_path / "o.parquet").genes == GENES
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    code = main(["convert", str(tmp_path / "x.csv"), str(tmp_path / "p.parquet"), "--var-names-column", "symbol"])
    assert code == 2 and "applies to h5ad/zarr files only" in capsys.readouterr().err


def test_numeric_gene_ids_under_a_gene_header_ask_for_the_layout(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("gene,c1,c2,c3\n2623,1,2,3\n16600,4,5,6.5\n20375,0,1,0\n")
    with pytest.raises(
        InputError,
        match=r"first column 'gene' holds numbers \(2623, 16600, 20375\).*"
        r"--layout genes-by-cells",
    ):
        read_expression(path)
    expression = read_expression(path, layout="genes-by-cells")
    assert expression.genes == ["2623", "16600", "20375"] and expression.cells == ["c1", "c2", "c3"]
    pl.DataFrame({"Gene_ID": [2623, 16600], "c1": [1.0, 2.0], "c2": [0.0, 1.0], "c3": [3.0, 1.0]}).write_parquet(
        tmp_path / "x.parquet"
    )
    with pytest.raises(InputError, match="first column 'Gene_ID' holds numbers"):
        read_expression(tmp_path / "x.parquet")
