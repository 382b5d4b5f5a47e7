"""Reading expression data: every format and layout gives the same gene-major matrix."""

from __future__ import annotations

import csv
import gzip

import numpy as np
import polars as pl
import pytest

from deeptgi_rt.errors import InputError
from deeptgi_rt.expression import (
    expression_from_frame,
    read_expression,
    write_expression_parquet,
)
from deeptgi_rt.features import gene_rows
from deeptgi_rt.genes import read_gene_list

GENES = ["Gata1", "Klf1", "Spi1", "Cebpa"]
CELLS = ["c1", "c2", "c3", "c4", "c5"]


@pytest.fixture
def values() -> np.ndarray:
    """float32 [genes, cells]: the truth every file below encodes."""
    rng = np.random.default_rng(7)
    return rng.gamma(2.0, 1.5, size=(len(GENES), len(CELLS))).round(4).astype(np.float32)


def write_text(path, header, rows, separator=","):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", newline="") as handle:
        writer = csv.writer(handle, delimiter=separator)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def cells_by_genes(path, values, *, cell_header=None, separator=","):
    header = ([cell_header] if cell_header else []) + GENES
    rows = [([CELLS[j]] if cell_header else []) + [repr(float(v)) for v in values[:, j]] for j in range(len(CELLS))]
    return write_text(path, header, rows, separator)


def genes_by_cells(path, values, *, first_header="", separator=","):
    rows = [[gene] + [repr(float(v)) for v in values[g]] for g, gene in enumerate(GENES)]
    return write_text(path, [first_header] + CELLS, rows, separator)


def assert_same(expression, values, *, cells=None):
    assert expression.genes == GENES
    assert expression.values.dtype == np.float32
    assert expression.values.flags.c_contiguous
    assert expression.values.shape == (len(GENES), len(CELLS))
    np.testing.assert_array_equal(expression.values, values)
    assert expression.cells == cells


def test_every_text_format_and_layout_reads_to_the_same_matrix(tmp_path, values):
    files = {
        cells_by_genes(tmp_path / "a.csv", values): ("cells-by-genes", None),
        cells_by_genes(tmp_path / "b.tsv", values, separator="\t"): ("cells-by-genes", None),
        cells_by_genes(tmp_path / "c.csv.gz", values, cell_header="cell_id"): ("cells-by-genes", CELLS),
        genes_by_cells(tmp_path / "d.csv", values): ("genes-by-cells", CELLS),
        genes_by_cells(tmp_path / "e.txt", values, first_header="gene", separator="\t"): ("genes-by-cells", CELLS),
        genes_by_cells(tmp_path / "f.tab.gz", values, separator="\t"): ("genes-by-cells", CELLS),
    }
    for path, (layout, cells) in files.items():
        auto = read_expression(path)
        assert auto.layout == layout, path
        assert_same(auto, values, cells=cells)
        assert_same(read_expression(path, layout=layout), values, cells=cells)


def test_parquet_written_by_convert_reads_back_identically(tmp_path, values):
    source = read_expression(genes_by_cells(tmp_path / "x.csv", values))
    write_expression_parquet(source, tmp_path / "x.parquet")
    back = read_expression(tmp_path / "x.parquet")
    assert back.layout == "cells-by-genes"
    assert_same(back, values, cells=CELLS)
    schema = pl.read_parquet_schema(tmp_path / "x.parquet")
    assert list(schema)[0] == "cell_id"
    assert all(dtype == pl.Float32 for dtype in list(schema.values())[1:])
    # Without cell ids the file is all gene columns and still reads back.
    write_expression_parquet(expression_from_frame(values.T, genes=GENES), tmp_path / "y.pq")
    assert_same(read_expression(tmp_path / "y.pq"), values)


def test_parquet_in_genes_by_cells_layout_with_integer_columns(tmp_path):
    frame = pl.DataFrame({"gene": GENES, **{cell: [g * 10 + j for g in range(4)] for j, cell in enumerate(CELLS)}})
    frame.write_parquet(tmp_path / "g.parquet")
    expression = read_expression(tmp_path / "g.parquet")
    assert expression.layout == "genes-by-cells"
    assert expression.cells == CELLS
    assert expression.values[2, 3] == 23.0


@pytest.mark.parametrize("header", ["cell", "Cell_ID", "cells", "barcode", "BARCODES", "obs_names", "cell_name"])
def test_auto_layout_takes_a_cell_id_header_as_cells_by_genes(tmp_path, values, header):
    expression = read_expression(cells_by_genes(tmp_path / "a.csv", values, cell_header=header))
    assert expression.layout == "cells-by-genes"
    assert_same(expression, values, cells=CELLS)


def test_auto_layout_treats_numeric_cell_ids_under_a_cell_header_as_ids(tmp_path, values):
    rows = [[str(j)] + [str(float(v)) for v in values[:, j]] for j in range(len(CELLS))]
    expression = read_expression(write_text(tmp_path / "a.csv", ["barcode"] + GENES, rows))
    assert expression.cells == [str(j) for j in range(len(CELLS))]
    np.testing.assert_array_equal(expression.values, values)


def test_explicit_cells_by_genes_takes_any_text_first_column_as_cell_ids(tmp_path, values):
    path = cells_by_genes(tmp_path / "a.csv", values, cell_header="sample")
    assert read_expression(path).layout == "genes-by-cells"  # what auto guesses without a cell-id header
    assert_same(read_expression(path, layout="cells-by-genes"), values, cells=CELLS)


@pytest.mark.parametrize(
    "name, layout, shape, gene, cell",
    [("mhsc-e", "cells-by-genes", (354, 1071), 347, 535), ("mdc", "genes-by-cells", (821, 383), 814, 3)],
)
def test_shared_data_reads_in_its_layout_with_the_raw_values(shared_data, name, layout, shape, gene, cell):
    path = shared_data / name / "expression.csv"
    expression = read_expression(path)
    assert expression.layout == layout
    assert (len(expression.genes), expression.n_cells) == shape
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if layout == "cells-by-genes":
        assert expression.cells is None
        raw = rows[1 + cell][rows[0].index(expression.genes[gene])]
    else:
        assert expression.cells == rows[0][1:]
        assert expression.genes[gene] == rows[1 + gene][0]
        raw = rows[1 + gene][1 + cell]
    assert float(raw) != 0  # a spot that tells values apart
    assert expression.values[gene, cell] == np.float32(float(raw))


@pytest.mark.parametrize("sparse", [False, True])
def test_h5ad_dense_and_sparse_read_in_chunks(tmp_path, sparse):
    anndata = pytest.importorskip("anndata")
    scipy_sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(3)
    matrix = rng.poisson(0.7, size=(23, 6)).astype(np.float32)  # [cells, genes], mostly zeros
    adata = anndata.AnnData(X=scipy_sparse.csr_matrix(matrix) if sparse else matrix)
    adata.obs_names = [f"cell{i}" for i in range(23)]
    adata.var_names = [f"G{i}" for i in range(6)]
    adata.write_h5ad(tmp_path / "x.h5ad")
    expression = read_expression(tmp_path / "x.h5ad", chunk_cells=5)
    np.testing.assert_array_equal(expression.values, matrix.T)
    assert expression.values.flags.c_contiguous
    assert expression.genes == list(adata.var_names)
    assert expression.cells == list(adata.obs_names)
    write_expression_parquet(expression, tmp_path / "x.parquet")
    np.testing.assert_array_equal(read_expression(tmp_path / "x.parquet").values, matrix.T)


def test_log1p_transforms_every_value(tmp_path, values):
    expression = read_expression(cells_by_genes(tmp_path / "a.csv", values), log1p=True)
    np.testing.assert_allclose(expression.values, np.log1p(values.astype(np.float64)), rtol=1e-6)


def test_normalize_total_scales_each_cell_to_ten_thousand_then_log1p(tmp_path, values):
    counts = np.round(values * 10)  # [genes, cells]
    counts[:, 0] = 0  # a cell without counts stays zero instead of dividing by zero
    expression = read_expression(cells_by_genes(tmp_path / "a.csv", counts), transform="normalize_total_log1p")
    totals = counts.sum(axis=0, keepdims=True)
    expected = np.log1p(np.divide(counts * 1e4, totals, out=np.zeros_like(counts), where=totals > 0))
    np.testing.assert_allclose(expression.values, expected, rtol=1e-5)
    assert np.all(expression.values[:, 0] == 0)
    with pytest.raises(InputError, match="--normalize total needs non-negative counts"):
        read_expression(cells_by_genes(tmp_path / "b.csv", values - 1), transform="normalize_total_log1p")
    with pytest.raises(InputError, match="transform must be one of"):
        read_expression(cells_by_genes(tmp_path / "a.csv", counts), transform="scale")


def test_raw_counts_are_integers_with_a_large_maximum():
    from deeptgi_rt.expression import looks_like_counts

    counts = np.random.default_rng(0).poisson(40.0, (30, 40)).astype(np.float32)
    assert looks_like_counts(counts)
    assert looks_like_counts(counts, block_values=40)  # decided block by block the same way
    assert not looks_like_counts(np.log1p(counts))
    assert not looks_like_counts(np.minimum(counts, 50))  # small integers stay ambiguous
    fractional = counts.copy()
    fractional[-1, -1] += 0.5
    assert not looks_like_counts(fractional, block_values=40)


def test_case_insensitive_lookup_finds_genes_in_any_case(tmp_path, values):
    expression = read_expression(cells_by_genes(tmp_path / "a.csv", values), case_insensitive=True)
    assert list(gene_rows(expression, ["KLF1", "cebpa"], case_insensitive=True)) == [1, 3]
    with pytest.raises(InputError, match="KLF1"):
        gene_rows(expression, ["KLF1"])


def test_case_insensitive_reading_rejects_names_differing_only_in_case(tmp_path, values):
    path = write_text(
        tmp_path / "a.csv",
        ["", *CELLS],
        [["Klf1", *map(str, values[0])], ["KLF1", *map(str, values[1])], ["Spi1", *map(str, values[2])]],
    )
    assert read_expression(path).genes == ["Klf1", "KLF1", "Spi1"]
    with pytest.raises(InputError, match=r"a\.csv: duplicate gene names \(ignoring case\): Klf1/KLF1"):
        read_expression(path, case_insensitive=True)


def test_frames_and_arrays_build_the_same_expression(values):
    polars_frame = pl.DataFrame({gene: values[g] for g, gene in enumerate(GENES)})
    assert_same(expression_from_frame(polars_frame), values)
    pandas = pytest.importorskip("pandas")
    pandas_frame = pandas.DataFrame(values, columns=CELLS)
    pandas_frame.insert(0, "gene", GENES)
    assert_same(expression_from_frame(pandas_frame, layout="genes-by-cells"), values, cells=CELLS)
    assert_same(expression_from_frame(values.astype(np.float64), genes=GENES, layout="genes-by-cells"), values)
    assert_same(expression_from_frame(values.T, genes=GENES, cells=CELLS), values, cells=CELLS)


def test_labelled_pandas_index_holds_cell_ids_or_gene_names(values):
    pandas = pytest.importorskip("pandas")
    by_cell = pandas.DataFrame(values.T, columns=GENES, index=pandas.Index(CELLS, name="obs"))
    assert_same(expression_from_frame(by_cell), values, cells=CELLS)
    by_gene = pandas.DataFrame(values, columns=CELLS, index=GENES)
    assert_same(expression_from_frame(by_gene, layout="genes-by-cells"), values, cells=CELLS)


def test_array_input_is_not_modified_by_log1p(values):
    original = values.copy()
    expression = expression_from_frame(values, genes=GENES, layout="genes-by-cells", log1p=True)
    np.testing.assert_array_equal(values, original)
    np.testing.assert_allclose(expression.values, np.log1p(original), rtol=1e-6)


def test_frames_get_the_same_validation_as_files(values):
    with pytest.raises(InputError, match=r"<memory>: duplicate gene names: Klf1"):
        expression_from_frame(values.T, genes=["Gata1", "Klf1", "Klf1", "Cebpa"])
    with pytest.raises(InputError, match="at least 3"):
        expression_from_frame(values[:, :2], genes=GENES, layout="genes-by-cells")
    bad = values.copy()
    bad[2, 1] = np.nan
    with pytest.raises(InputError, match=r"nan value for gene 'Spi1' in cell 'c2'"):
        expression_from_frame(bad, genes=GENES, cells=CELLS, layout="genes-by-cells")


def test_explicit_layout_accepts_integer_gene_ids_but_not_positions(values):
    ids = ["12345", "67890", "4242", "99"]
    assert expression_from_frame(values, genes=ids, layout="genes-by-cells").genes == ids
    with pytest.raises(InputError, match="gene names look numeric"):
        expression_from_frame(values, genes=["0", "1", "2", "3"], layout="genes-by-cells")


def test_gene_list_plain_text_skips_comments_and_keeps_first_occurrence(tmp_path):
    (tmp_path / "g.txt").write_text("# TFs\nKlf1\n\n  Gata1 \nKlf1\nSpi1\n")
    assert read_gene_list(tmp_path / "g.txt") == ["Klf1", "Gata1", "Spi1"]


def test_gene_list_csv_uses_first_column_after_a_header(tmp_path, shared_data):
    (tmp_path / "g.csv").write_text('Symbol,score\nKlf1,3\n"Gata1",2\n')
    assert read_gene_list(tmp_path / "g.csv") == ["Klf1", "Gata1"]
    (tmp_path / "g.tsv").write_text("Klf1\t3\nGata1\t2\n")
    assert read_gene_list(tmp_path / "g.tsv") == ["Klf1", "Gata1"]
    tfs = read_gene_list(shared_data / "mdc" / "tfs.csv")
    assert len(tfs) == 323 and tfs[0] == "CTBP1"


@pytest.mark.parametrize(
    "text, message",
    [
        (None, "gene list not found"),
        ("", "gene list is empty"),
        ("# only\n\n", "gene list is empty"),
        ("gene\n", "header but no genes"),
        ("Klf1,1\n,2\n", "empty gene name at line 2"),
    ],
)
def test_gene_list_errors_name_the_file(tmp_path, text, message):
    path = tmp_path / "g.csv"
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputError, match=message) as error:
        read_gene_list(path)
    assert str(path) in str(error.value)


def test_expression_never_aliases_the_callers_array(values):
    cells_major = np.asfortranarray(values.T)  # .T of it is already C-contiguous float32
    expression = expression_from_frame(cells_major, genes=GENES, log1p=True)
    assert not np.shares_memory(expression.values, cells_major)
    np.testing.assert_array_equal(cells_major, values.T)


@pytest.mark.parametrize("block_values", [1, 7, 64, 1 << 24])
def test_first_non_finite_matches_numpy_at_any_block_size(block_values):
    from deeptgi_rt.expression import _first_non_finite

    rng = np.random.default_rng(block_values)
    values = rng.normal(size=(17, 9)).astype(np.float32)
    assert _first_non_finite(values, block_values) is None
    values[[4, 11, 11], [8, 2, 5]] = [np.inf, np.nan, -np.inf]
    reference = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
    assert _first_non_finite(values, block_values) == reference == (4, 8)
    # Large finite values whose sum overflows are not reported.
    assert _first_non_finite(np.full((3, 4), 3e38, dtype=np.float32), block_values) is None
