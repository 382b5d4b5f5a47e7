"""Cell-chunk sources: every input form yields the same cells x genes values, checked and normalized."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from deeptgi_rt.cells import anndata_chunks, array_chunks, parquet_chunks
from deeptgi_rt.errors import InputError
from deeptgi_rt.expression import read_expression
from deeptgi_rt.pcc import pcc_block
from deeptgi_rt.pcc.streaming import streamed_pcc

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GENES = [f"Gene{i}" for i in range(9)]


def counts(cells=23, genes=9, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.negative_binomial(2, 0.6, size=(cells, genes)).astype(np.float32)
    values[values < 2] = 0  # sparse, like raw counts
    values[:, 0] += 1  # every cell has a count
    return values


def stacked(chunks) -> np.ndarray:
    return np.vstack([chunk.toarray() if hasattr(chunk, "toarray") else chunk for chunk in chunks])


def scanpy_total_log1p(values: np.ndarray) -> np.ndarray:
    """normalize_total(target_sum=1e4) + log1p written out in numpy, float64."""
    values = values.astype(np.float64)
    return np.log1p(values / values.sum(axis=1, keepdims=True) * 1e4)


def write_h5ad(path: Path, x, *, layers=None, raw=None) -> Path:
    import anndata

    adata = anndata.AnnData(X=x, layers=layers or {})
    adata.var_names = GENES[: x.shape[1]]
    if raw is not None:
        adata.raw = anndata.AnnData(X=raw, var=adata.var.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if path.suffix == ".zarr":
            adata.write_zarr(path)
        else:
            adata.write_h5ad(path)
    return path


@pytest.mark.parametrize("form", ["dense", "csr", "csc", "coo"])
@pytest.mark.parametrize("chunk_cells", [1, 5, 100])
def test_array_chunks_cover_every_cell_in_order(form, chunk_cells):
    values = counts()
    matrix = {"dense": np.asarray, "csr": sp.csr_matrix, "csc": sp.csc_matrix, "coo": sp.coo_matrix}[form](values)
    chunks = array_chunks(matrix, GENES, chunk_cells=chunk_cells)
    parts = list(chunks)
    assert all(part.dtype == np.float32 and part.shape[1] == 9 for part in parts)
    assert all(part.shape[0] <= chunk_cells for part in parts)
    np.testing.assert_array_equal(stacked(parts), values)
    assert chunks.n_cells == 23 and chunks.genes == GENES


@pytest.mark.parametrize("form", ["dense", "csr"])
def test_normalize_total_equals_scanpy_formula(form):
    values = counts()
    matrix = values if form == "dense" else sp.csr_matrix(values)
    result = stacked(array_chunks(matrix, GENES, chunk_cells=4, normalize="total"))
    np.testing.assert_allclose(result, scanpy_total_log1p(values), rtol=1e-6, atol=1e-6)


def test_cells_with_zero_total_are_excluded_and_counted():
    values = counts()
    values[[3, 4, 17]] = 0
    chunks = array_chunks(sp.csr_matrix(values), GENES, chunk_cells=4, normalize="total")
    result = stacked(chunks)
    keep = np.ones(23, dtype=bool)
    keep[[3, 4, 17]] = False
    np.testing.assert_allclose(result, scanpy_total_log1p(values[keep]), rtol=1e-6, atol=1e-6)
    assert chunks.excluded_cells == 3
    # Iterating again counts afresh, not twice.
    list(chunks)
    assert chunks.excluded_cells == 3


@pytest.mark.parametrize("form", ["dense", "csr"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_name_the_gene_and_cell(form, bad):
    values = counts()
    values[14, 6] = bad
    matrix = values if form == "dense" else sp.csr_matrix(values)
    with pytest.raises(InputError, match=rf"^data.h5ad: {bad} value for gene 'Gene6' in cell at row 15$"):
        list(array_chunks(matrix, GENES, chunk_cells=4, source="data.h5ad"))


@pytest.mark.parametrize("form", ["dense", "csc"])
def test_negative_counts_are_an_error_with_normalize_total(form):
    values = counts()
    values[9, 2] = -1
    matrix = values if form == "dense" else sp.csc_matrix(values)
    with pytest.raises(InputError, match=r"^x.zarr: negative value -1 for gene 'Gene2' in cell at row 10; "):
        list(array_chunks(matrix, GENES, chunk_cells=6, normalize="total", source="x.zarr"))
    # Without normalization negative values are ordinary data.
    assert stacked(array_chunks(matrix, GENES, chunk_cells=6)).min() == -1


@pytest.mark.parametrize("x_form", ["dense", "csr", "csc"])
@pytest.mark.parametrize("store", [".h5ad", ".zarr"])
def test_anndata_x_read_in_chunks(tmp_path, x_form, store):
    values = counts()
    x = {"dense": values, "csr": sp.csr_matrix(values), "csc": sp.csc_matrix(values)}[x_form]
    path = write_h5ad(tmp_path / f"data{store}", x)
    chunks = anndata_chunks(path, chunk_cells=5)
    parts = list(chunks)
    assert chunks.genes == GENES and chunks.n_cells == 23 and len(parts) == 5
    assert all(sp.issparse(part) == (x_form != "dense") for part in parts)
    np.testing.assert_array_equal(stacked(parts), values)


def test_anndata_layer_and_raw(tmp_path):
    values = counts()
    raw = counts(seed=1)
    path = write_h5ad(
        tmp_path / "data.h5ad", np.log1p(values), layers={"counts": sp.csr_matrix(values)}, raw=sp.csr_matrix(raw)
    )
    np.testing.assert_array_equal(stacked(anndata_chunks(path, layer="counts", chunk_cells=7)), values)
    np.testing.assert_array_equal(stacked(anndata_chunks(path, use_raw=True, chunk_cells=7)), raw)
    normalized = stacked(anndata_chunks(path, layer="counts", chunk_cells=7, normalize="total"))
    np.testing.assert_allclose(normalized, scanpy_total_log1p(values), rtol=1e-6, atol=1e-6)


def test_anndata_input_errors(tmp_path):
    values = counts()
    values[2, 5] = np.nan
    path = write_h5ad(tmp_path / "data.h5ad", sp.csr_matrix(values), layers={"counts": values})
    with pytest.raises(InputError, match=r"data.h5ad: no layer 'spliced' \(layers: counts\)$"):
        anndata_chunks(path, layer="spliced")
    with pytest.raises(InputError, match=r"data.h5ad: use_raw was asked but the file has no raw"):
        anndata_chunks(path, use_raw=True)
    with pytest.raises(InputError, match=r"data.h5ad: nan value for gene 'Gene5' in cell at row 3$"):
        list(anndata_chunks(path, chunk_cells=10))
    not_h5 = tmp_path / "plain.h5ad"
    not_h5.write_text("not hdf5")
    with pytest.raises(InputError, match=r"plain.h5ad: not a readable h5ad file"):
        anndata_chunks(not_h5)


def test_zarr_store_without_x_is_an_error(tmp_path):
    import shutil

    path = write_h5ad(tmp_path / "data.zarr", counts())
    shutil.rmtree(path / "X")
    with pytest.raises(InputError, match=r"data.zarr: no X matrix in the AnnData store$"):
        anndata_chunks(path)


def test_parquet_read_in_batches(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    values = counts()
    table = pa.table({"cell_id": [f"c{i}" for i in range(23)], **{g: values[:, i] for i, g in enumerate(GENES)}})
    path = tmp_path / "data.parquet"
    pq.write_table(table, path, row_group_size=10)
    chunks = parquet_chunks(path, chunk_cells=4)
    parts = list(chunks)
    assert chunks.genes == GENES and chunks.n_cells == 23
    assert max(part.shape[0] for part in parts) <= 4
    np.testing.assert_array_equal(stacked(parts), values)
    values[11, 3] = np.nan
    pq.write_table(pa.table({g: values[:, i] for i, g in enumerate(GENES)}), path, row_group_size=10)
    with pytest.raises(InputError, match=r"data.parquet: nan value for gene 'Gene3' in cell at row 12$"):
        list(parquet_chunks(path, chunk_cells=4))


def test_shipped_parquet_streams_to_the_dense_pcc():
    path = EXAMPLES / "mdc.parquet"
    expression = read_expression(path)
    chunks = parquet_chunks(path, chunk_cells=100)
    assert chunks.genes == expression.genes
    features = np.arange(0, len(chunks.genes), 5)
    result, _ = streamed_pcc(chunks, len(chunks.genes), None, features)
    np.testing.assert_allclose(
        result, pcc_block(expression.values, expression.values[features], backend="cpu"), rtol=0, atol=1e-5
    )


@pytest.mark.parametrize("store", [".h5ad", ".zarr"])
def test_stored_csc_is_read_in_slabs_and_windows(tmp_path, monkeypatch, store):
    import deeptgi_rt.cells as cells_module

    values = counts(cells=41)
    values[30:33] = 0  # cells without entries at a window's edge
    path = write_h5ad(tmp_path / f"data{store}", sp.csc_matrix(values))
    # A few genes per slab and a window of a few chunks: every boundary is crossed.
    monkeypatch.setattr(cells_module, "CSC_SLAB_ENTRIES", 7)
    monkeypatch.setattr(cells_module, "CSC_WINDOW_BYTES", 8 * 3 * 12)
    parts = list(anndata_chunks(path, chunk_cells=4))
    assert [part.shape[0] for part in parts] == [4] * 10 + [1]
    np.testing.assert_array_equal(stacked(parts), values)


def test_open_cells_names_what_it_can_stream(tmp_path):
    from deeptgi_rt.cells import open_cells
    from deeptgi_rt.errors import InputError

    table = tmp_path / "expr.csv"
    table.write_text("A,B\n1,2\n")
    with pytest.raises(InputError, match=r"expr\.csv: chunked reading needs an \.h5ad file, an AnnData zarr store"):
        open_cells(table)
