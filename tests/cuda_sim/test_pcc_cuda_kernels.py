"""The CUDA kernels, run by numba's CUDA simulator, against the float64 numpy reference.

This directory needs ``NUMBA_ENABLE_CUDASIM=1`` in the environment before numba.cuda is first
imported, so it runs in a pytest process of its own: ``tests/test_pcc_cuda_sim.py`` starts
one (``tests/conftest.py`` keeps every other run from collecting it). By hand:
``NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/cuda_sim``.
"""

from __future__ import annotations

import numpy as np
import pytest
from reference_pcc import reference_constant, reference_pcc

from deeptgi_rt.pcc import pcc_block, resolve_backend
from deeptgi_rt.pcc.cuda import STANDARDIZE_THREADS, TILE, pcc_block_cuda, simulator_enabled

TOLERANCE = 1e-5


@pytest.fixture(autouse=True, scope="module")
def _simulator_is_on():
    if not simulator_enabled():
        pytest.fail("tests/cuda_sim needs NUMBA_ENABLE_CUDASIM=1 set before numba.cuda is imported")


def _normal(shape, seed, dtype=np.float64):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def _with_constant_rows(values, rows, value):
    values = values.copy()
    values[rows] = value
    return values


# Under the simulator every GPU thread is a Python thread: most cases standardize with 8 threads
# per row instead of STANDARDIZE_THREADS, and one runs the shipped launch sizes.
FEW = 8

# (rows, cols or None for the symmetric matrix, block_rows, threads_per_row), sized against the
# TILE x TILE product tiles the kernel is compiled with and the threads standardizing a row.
CASES = {
    # Rows, columns and cells all straddle tiles, and cells exceed the threads; one constant row.
    "ragged_tiles": lambda: (
        _with_constant_rows(_normal((TILE + 3, TILE + 5), 1), [2], 1.5),
        _normal((TILE + 5, TILE + 5), 2, np.float32),
        10,
        FEW,
    ),
    "exact_tiles": lambda: (_normal((TILE, TILE), 3), _normal((TILE, TILE), 4), TILE, FEW),
    # The shipped threads per row, each standardizing two or three cells.
    "shipped_threads_per_row": lambda: (
        _normal((3, 2 * STANDARDIZE_THREADS + 44), 5, np.float32) + 20.0,
        _normal((1, 2 * STANDARDIZE_THREADS + 44), 6),
        2,
        STANDARDIZE_THREADS,
    ),
    # Fewer cells than threads; the symmetric path standardizes once.
    "symmetric_with_constants": lambda: (
        _with_constant_rows(_normal((12, 5), 7, np.float32), [0, 7], -3.0),
        None,
        5,
        FEW,
    ),
    "strided_input": lambda: (_normal((6, 30), 8)[:, ::3], _normal((5, 10), 9), 6, FEW),
    "offset_symmetric_one_block": lambda: (_normal((3, 9), 10) + 100.0, None, 64, FEW),
}


@pytest.mark.parametrize("case", CASES)
def test_kernels_match_the_reference(case):
    rows, cols, block_rows, threads = CASES[case]()
    result = pcc_block_cuda(rows, rows if cols is None else cols, block_rows, threads_per_row=threads)
    assert result.dtype == np.float32
    assert result.shape == (len(rows), len(rows if cols is None else cols))
    np.testing.assert_allclose(result, reference_pcc(rows, cols), rtol=0, atol=TOLERANCE)
    assert np.all(result[reference_constant(rows)] == 0)
    if cols is None:
        np.testing.assert_array_equal(result, result.T)


@pytest.mark.parametrize(("rows", "block_rows", "expected"), [(19, 7, [7, 7, 5]), (0, 2, [])])
def test_progress_is_reported_per_block(rows, block_rows, expected):
    calls = []
    result = pcc_block_cuda(_normal((rows, 4), 11), _normal((3, 4), 12), block_rows, calls.append, threads_per_row=FEW)
    assert result.shape == (rows, 3)
    assert calls == expected


@pytest.mark.parametrize("threads", [0, 6, 2 * STANDARDIZE_THREADS])
def test_threads_per_row_must_be_a_power_of_two_within_the_shared_memory(threads):
    with pytest.raises(ValueError, match="threads_per_row"):
        pcc_block_cuda(_normal((2, 4), 13), _normal((2, 4), 14), 2, threads_per_row=threads)


def test_pcc_block_runs_the_kernels_when_cuda_is_asked():
    rows, cols = _normal((2, 9), 15), _normal((1, 9), 16)
    np.testing.assert_array_equal(pcc_block(rows, cols, backend="cuda"), pcc_block_cuda(rows, cols, 2))


def test_simulator_is_never_chosen_by_auto_but_accepted_when_cuda_is_asked():
    assert resolve_backend("auto") == "cpu"
    assert resolve_backend("cuda") == "cuda"
