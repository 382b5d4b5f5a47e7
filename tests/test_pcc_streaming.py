"""Streaming PCC statistics over cell chunks equal the dense path (deeptgi_rt.pcc.pcc_block)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from deeptgi_rt.expression import read_expression
from deeptgi_rt.pcc import constant_gene_mask, pcc_block
from deeptgi_rt.pcc.streaming import PccStatistics, streamed_pcc

TOLERANCE = 1e-5
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# densify_density 0 sends every sparse chunk down the BLAS path, 2 (above any density) down
# the sparse kernel: both must give the dense path's answer.
PATHS = {"blas": 0.0, "sparse-kernel": 2.0}


@pytest.fixture(autouse=True)
def one_thread():
    """Many tiny chunks on a shared machine: with 2 threads each parallel call waits for a
    descheduled thread (tens of ms), so these tests run on one; the parallel kernels are
    checked on their own below."""
    import numba
    from threadpoolctl import threadpool_limits

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    with threadpool_limits(1):
        yield
    numba.set_num_threads(before)


def as_format(values: np.ndarray, kind: str):
    return {"dense": np.asarray, "csr": sp.csr_matrix, "csc": sp.csc_matrix}[kind](values)


def streamed(cells_by_genes: np.ndarray, features, *, kind="dense", chunk_cells=64, densify=0.0, entities=None):
    stats = PccStatistics(cells_by_genes.shape[1], entities, features, densify_density=densify)
    for start in range(0, len(cells_by_genes), chunk_cells):
        stats.add(as_format(cells_by_genes[start : start + chunk_cells], kind))
    return stats


@pytest.fixture(scope="module", params=["mhsc-e.parquet", "mdc.parquet"])
def shipped(request):
    expression = read_expression(EXAMPLES / request.param)
    features = np.arange(0, len(expression.genes), 3)
    return expression, features, pcc_block(expression.values, expression.values[features], backend="cpu")


@pytest.mark.parametrize(
    "kind,path",
    [("dense", "blas"), ("csr", "blas"), ("csr", "sparse-kernel"), ("csc", "blas"), ("csc", "sparse-kernel")],
)
@pytest.mark.parametrize("chunk_cells", [7, 257, 100_000])
def test_shipped_data_equals_dense_path(shipped, kind, chunk_cells, path):
    expression, features, expected = shipped
    stats = streamed(expression.values.T, features, kind=kind, chunk_cells=chunk_cells, densify=PATHS[path])
    result = stats.pcc()
    assert result.dtype == np.float32 and result.shape == expected.shape
    np.testing.assert_allclose(result, expected, rtol=0, atol=TOLERANCE)
    assert stats.cells == expression.n_cells
    if kind != "dense":
        assert (stats.chunks_sparse > 0) == (path == "sparse-kernel")


@pytest.mark.parametrize("kind,path", [("dense", "blas"), ("csr", "sparse-kernel"), ("csr", "blas")])
def test_parallel_kernels_equal_one_thread(shipped, kind, path):
    import numba

    expression, features, _ = shipped
    single = streamed(expression.values.T, features, kind=kind, chunk_cells=200, densify=PATHS[path]).pcc()
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    parallel = streamed(expression.values.T, features, kind=kind, chunk_cells=200, densify=PATHS[path]).pcc()
    np.testing.assert_allclose(parallel, single, rtol=0, atol=1e-6)


def test_one_cell_chunks_equal_dense_path(shipped):
    # The shift then comes from a single cell, far from most genes' means.
    expression, features, expected = shipped
    values = expression.values.T[:300]
    expected = pcc_block(values.T, values.T[features], backend="cpu")
    np.testing.assert_allclose(streamed(values, features, chunk_cells=1).pcc(), expected, rtol=0, atol=TOLERANCE)


def test_entity_subset_and_repeated_columns(shipped):
    expression, features, _ = shipped
    entities = np.array([5, 0, 5, len(expression.genes) - 1])
    repeated = np.concatenate([features[:4], features[:2]])
    expected = pcc_block(expression.values[entities], expression.values[repeated], backend="cpu")
    for kind, densify in [("dense", 0.0), ("csr", 2.0), ("csc", 0.0)]:
        result = streamed(expression.values.T, repeated, kind=kind, densify=densify, entities=entities).pcc()
        np.testing.assert_allclose(result, expected, rtol=0, atol=TOLERANCE)


@st.composite
def counts_with_features(draw):
    """float32 ``[cells, genes]`` small counts, often sparse or constant, and feature positions."""
    cells = draw(st.integers(2, 30))
    genes = draw(st.integers(1, 10))
    values = draw(arrays(np.int64, (cells, genes), elements=st.integers(0, 20) | st.just(0)))
    features = draw(st.lists(st.integers(0, genes - 1), min_size=1, max_size=6))
    return values.astype(np.float32), np.array(features)


@settings(max_examples=60, deadline=None)
@given(
    counts_with_features(), st.integers(1, 31), st.sampled_from(["dense", "csr", "csc"]), st.sampled_from(list(PATHS))
)
def test_hypothesis_data_equals_dense_path(data, chunk_cells, kind, path):
    values, features = data
    expected = pcc_block(values.T, values.T[features], backend="cpu")
    result = streamed(values, features, kind=kind, chunk_cells=chunk_cells, densify=PATHS[path]).pcc()
    np.testing.assert_allclose(result, expected, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("kind,path", [("dense", "blas"), ("csr", "sparse-kernel"), ("csc", "blas")])
def test_genes_whose_mean_dwarfs_their_spread(kind, path):
    rng = np.random.default_rng(3)
    base = rng.normal(size=(500, 6))
    base[:, 1] = base[:, 0] * 0.6 + base[:, 1] * 0.8
    # Means 1e4 x the spread, and the first chunk's mean off by several spreads (cells sorted
    # by a covariate), which a fixed shift must survive.
    values = base * 0.01 + np.array([100.0, 300.0, 0.0, 50.0, 100.0, 1.0])
    values[:100, 4] += 0.05
    values = values.astype(np.float32)
    features = np.array([0, 1, 4])
    expected = pcc_block(values.T, values.T[features], backend="cpu")
    assert abs(expected[1, 0]) > 0.5
    for chunk_cells in (7, 100, 500):
        result = streamed(values, features, kind=kind, chunk_cells=chunk_cells, densify=PATHS[path]).pcc()
        np.testing.assert_allclose(result, expected, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("kind", ["dense", "csr"])
@pytest.mark.parametrize("path", list(PATHS))
def test_constant_genes_match_the_dense_convention(kind, path):
    rng = np.random.default_rng(1)
    values = rng.poisson(2.0, size=(40, 7)).astype(np.float32)
    values[:, 1] = 3.0  # constant, non-zero
    values[:, 2] = 0.0  # constant zero (no stored entries)
    values[:20, 3] = 1.0  # constant within each chunk of 20, not overall
    values[20:, 3] = 2.0
    values[:, 4] = 5.0
    values[39, 4] = 5.0 + 2**-20  # differs in one cell only: not constant
    expected = pcc_block(values.T, values.T, backend="cpu")
    stats = streamed(values, np.arange(7), kind=kind, chunk_cells=20, densify=PATHS[path])
    result = stats.pcc()
    np.testing.assert_allclose(result, expected, rtol=0, atol=TOLERANCE)
    np.testing.assert_array_equal(stats.constant_genes(), constant_gene_mask(values.T))
    assert np.all(result[[1, 2]] == 0) and np.all(result[:, [1, 2]] == 0)
    assert result[3, 3] == pytest.approx(1.0) and result[4, 4] == pytest.approx(1.0)


def test_single_cell_means_every_gene_is_constant():
    stats = PccStatistics(3, None, [0, 1])
    stats.add(np.array([[1.0, 2.0, 3.0]], dtype=np.float32))
    assert np.all(stats.pcc() == 0) and stats.constant_genes().all()


def test_parts_with_a_shared_shift_merge_to_the_whole():
    rng = np.random.default_rng(2)
    values = rng.poisson(1.0, size=(90, 12)).astype(np.float32)
    whole = streamed(values, [0, 4, 7], chunk_cells=30)
    shared = dict(shift=whole.shift, reference=whole.reference)
    parts = []
    for start, kind in [(0, "dense"), (30, "csr"), (60, "csc")]:
        part = PccStatistics(12, None, [0, 4, 7], densify_density=2.0, **shared)
        part.add(as_format(values[start : start + 30], kind))
        parts.append(part)
    merged = PccStatistics(12, None, [0, 4, 7], **shared)
    for part in parts:
        merged.merge(part)
    assert merged.cells == 90
    np.testing.assert_allclose(merged.pcc(), whole.pcc(), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="cannot merge"):
        merged.merge(streamed(values[:5], [0, 4, 7]))


def test_streamed_pcc_reports_progress_and_constant_genes():
    values = np.random.default_rng(4).normal(size=(25, 5)).astype(np.float32)
    values[:, 2] = 1.0
    calls = []
    result, constant = streamed_pcc(
        (values[s : s + 10] for s in range(0, 25, 10)), 5, None, [0, 2], progress=calls.append
    )
    assert calls == [10, 10, 5]
    np.testing.assert_array_equal(constant, [False, False, True, False, False])
    np.testing.assert_allclose(result, pcc_block(values.T, values.T[[0, 2]], backend="cpu"), atol=TOLERANCE)


def test_wrong_chunk_width_is_rejected():
    stats = PccStatistics(4, None, [0])
    with pytest.raises(ValueError, match=r"\[cells, 4\]"):
        stats.add(np.zeros((3, 5), dtype=np.float32))
