"""The blocked PCC core (CPU backend) against the float64 numpy reference."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from reference_pcc import reference_constant, reference_pcc

from deeptgi_rt.errors import InputError
from deeptgi_rt.pcc import constant_gene_mask, pcc_block, resolve_backend
from deeptgi_rt.pcc.cpu import standardize_rows

TOLERANCE = 1e-5


def _random(shape, seed, dtype=np.float32):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


@pytest.mark.parametrize(
    ("rows", "cols", "cells", "block_rows"),
    [(1, 1, 2, None), (17, 5, 31, 4), (5, 23, 8, 1), (64, 40, 300, 7), (40, 40, 3, 16)],
)
def test_matches_reference_on_random_float32(rows, cols, cells, block_rows):
    row_values = _random((rows, cells), seed=rows)
    col_values = _random((cols, cells), seed=cols + 1000)
    result = pcc_block(row_values, col_values, backend="cpu", block_rows=block_rows)
    assert result.dtype == np.float32
    assert result.shape == (rows, cols)
    np.testing.assert_allclose(result, reference_pcc(row_values, col_values), rtol=0, atol=TOLERANCE)


def test_float64_input_with_large_offset_matches_reference():
    # An offset of 1e4 over a spread of ~1 would lose digits in float32 statistics.
    row_values = _random((12, 50), seed=1, dtype=np.float64) + 1e4
    col_values = _random((9, 50), seed=2, dtype=np.float64) * 1e-3 - 7.5
    result = pcc_block(row_values, col_values, backend="cpu", block_rows=5)
    np.testing.assert_allclose(result, reference_pcc(row_values, col_values), rtol=0, atol=TOLERANCE)


def test_non_contiguous_and_fancy_indexed_inputs_match_reference():
    data = _random((60, 90), seed=3, dtype=np.float64)
    strided = data[::2, 1::3]  # a view, neither C nor F contiguous
    fancy = data[[5, 0, 33, 33, 59]]
    cells_major = np.ascontiguousarray(data[:20].T).T  # F-ordered [genes, cells] view
    assert not strided.flags.c_contiguous and not cells_major.flags.c_contiguous
    expected = reference_pcc(strided, fancy[:, 1::3])
    np.testing.assert_allclose(
        pcc_block(strided, fancy[:, 1::3], backend="cpu", block_rows=4), expected, rtol=0, atol=TOLERANCE
    )
    np.testing.assert_allclose(
        pcc_block(cells_major, backend="cpu"), reference_pcc(cells_major), rtol=0, atol=TOLERANCE
    )


def test_integer_counts_are_accepted():
    counts = np.random.default_rng(4).poisson(3.0, size=(8, 40))
    np.testing.assert_allclose(pcc_block(counts, backend="cpu"), reference_pcc(counts), rtol=0, atol=TOLERANCE)


def test_constant_genes_correlate_zero_even_with_themselves():
    values = _random((6, 25), seed=5)
    values[1] = 3.25
    values[4] = 0.0
    cols = np.vstack([values[:3], np.full((1, 25), -2.0, dtype=np.float32)])
    result = pcc_block(values, cols, backend="cpu", block_rows=2)
    assert np.all(result[[1, 4]] == 0)
    assert np.all(result[:, 3] == 0)
    assert result[1, 1] == 0
    np.testing.assert_allclose(result, reference_pcc(values, cols), rtol=0, atol=TOLERANCE)
    np.testing.assert_array_equal(constant_gene_mask(values), [False, True, False, False, True, False])


def test_constant_gene_mask_agrees_with_reference_including_tiny_spreads():
    values = np.ones((5, 7))
    values[1, 3] = 1 + 1e-12  # not constant, however close
    values[2] = np.arange(7)
    values[4, 0] = 0
    np.testing.assert_array_equal(constant_gene_mask(values), reference_constant(values))
    assert constant_gene_mask(values.astype(np.float32)).tolist() == [True, True, False, True, False]


def test_standardized_rows_have_zero_mean_and_unit_norm():
    values = _random((9, 301), seed=6, dtype=np.float64) * 5 + 100
    z = standardize_rows(values)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.astype(np.float64).sum(axis=1), 0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(z.astype(np.float64), axis=1), 1, atol=1e-6)


def test_one_cell_or_no_genes():
    assert np.all(pcc_block(np.arange(4.0).reshape(4, 1), backend="cpu") == 0)
    assert pcc_block(np.empty((0, 5)), _random((3, 5), seed=7), backend="cpu").shape == (0, 3)
    assert pcc_block(_random((3, 5), seed=7), np.empty((0, 5)), backend="cpu").shape == (3, 0)


def test_progress_counts_each_row_gene_once_per_block():
    calls = []
    pcc_block(_random((23, 10), seed=8), _random((4, 10), seed=9), backend="cpu", block_rows=5, progress=calls.append)
    assert calls == [5, 5, 5, 5, 3]
    calls.clear()
    pcc_block(_random((23, 10), seed=8), backend="cpu", block_rows=10, progress=calls.append)
    assert calls == [10, 10, 3]


def test_real_mhsc_e_full_matrix_matches_reference(shared_data):
    # cells x genes with gene names as the header: transpose to [genes, cells].
    values = pl.read_csv(shared_data / "mhsc-e" / "expression.csv").to_numpy().T
    result = pcc_block(values.astype(np.float32), backend="cpu", block_rows=100)
    assert result.shape == (354, 354)
    np.testing.assert_allclose(result, reference_pcc(values), rtol=0, atol=TOLERANCE)
    np.testing.assert_array_equal(result, result.T)


def test_real_mdc_rows_against_other_genes_match_reference(shared_data):
    frame = pl.read_csv(shared_data / "mdc" / "expression.csv")
    values = frame.drop(frame.columns[0]).to_numpy()  # genes x cells, gene names in column 0
    tfs, targets = values[::3], values[np.arange(0, len(values), 7)]
    result = pcc_block(tfs, targets, backend="cpu", block_rows=64)
    assert result.shape == (len(tfs), len(targets))
    np.testing.assert_allclose(result, reference_pcc(tfs, targets), rtol=0, atol=TOLERANCE)


def test_mismatched_cells_and_bad_block_rows_are_rejected():
    with pytest.raises(ValueError, match="cells"):
        pcc_block(np.zeros((2, 3)), np.zeros((2, 4)), backend="cpu")
    with pytest.raises(ValueError, match="block_rows"):
        pcc_block(np.zeros((2, 3)), backend="cpu", block_rows=0)
    with pytest.raises(ValueError, match="2-D"):
        pcc_block(np.zeros(3), backend="cpu")


def test_unknown_backend_is_an_input_error():
    with pytest.raises(InputError, match="unknown PCC backend 'tpu'"):
        pcc_block(np.zeros((2, 3)), backend="tpu")


def test_cuda_without_gpu_is_an_input_error_and_auto_falls_back_to_cpu():
    try:
        resolve_backend("cuda")
    except InputError as error:
        assert re.fullmatch("device='cuda' requested but no working CUDA GPU was found: .+", str(error))
    else:
        pytest.skip("a working CUDA GPU is present")
    with pytest.raises(InputError):
        pcc_block(np.zeros((2, 3)), backend="cuda")
    assert resolve_backend("auto") == "cpu"
    assert resolve_backend("cpu") == "cpu"


def test_without_importable_cuda_support_auto_is_cpu_and_cuda_names_the_import_failure(monkeypatch):
    import deeptgi_rt.pcc as pcc

    monkeypatch.setitem(sys.modules, "deeptgi_rt.pcc.cuda", None)  # makes importing it fail
    monkeypatch.setattr(pcc, "_probe_cache", {})
    assert resolve_backend("auto") == "cpu"
    with pytest.raises(InputError, match="^device='cuda' requested but .*numba CUDA support cannot be imported"):
        resolve_backend("cuda")


def test_importing_the_package_and_the_cpu_backend_loads_no_cuda():
    # numba.cuda takes seconds to import; only probing or using the CUDA backend may load it.
    code = (
        "import sys, numpy, deeptgi_rt, deeptgi_rt.pcc, deeptgi_rt.pcc.cpu; "
        "deeptgi_rt.pcc.pcc_block(numpy.ones((2, 3)), backend='cpu'); "
        "print(sorted(m for m in sys.modules if m == 'numba.cuda' or m.startswith(('torch', 'numba.cuda.'))))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def test_float32_rows_far_from_zero_are_standardized_before_the_product():
    # float32 C-contiguous rows take the raw-product path; a mean 1000x the spread would lose
    # digits there, so such rows must be detected and computed from standardized values.
    rng = np.random.default_rng(11)
    row_values = rng.normal(size=(9, 400)).astype(np.float32)
    row_values[[1, 6]] += np.float32(1000.0)
    row_values[4] *= np.float32(1e-3)  # tiny spread, mean near zero: still fine raw
    col_values = rng.normal(size=(7, 400)).astype(np.float32) + np.float32(5.0)
    result = pcc_block(row_values, col_values, backend="cpu", block_rows=4)
    np.testing.assert_allclose(result, reference_pcc(row_values, col_values), rtol=0, atol=TOLERANCE)


def test_auto_probes_cuda_only_on_a_machine_with_a_cuda_device(monkeypatch):
    import deeptgi_rt.devices as devices
    import deeptgi_rt.pcc as pcc

    probes = []

    def probe(allow_simulator):
        probes.append(allow_simulator)
        return "no test GPU"

    monkeypatch.setattr(pcc, "_cuda_unavailable_reason", probe)
    monkeypatch.setattr(pcc, "_probe_cache", {})
    monkeypatch.setattr(devices, "cuda_device_present", lambda: False)
    assert resolve_backend("auto") == "cpu"
    assert probes == []  # no device: numba.cuda is not imported to find that out
    with pytest.raises(InputError, match="no test GPU"):
        resolve_backend("cuda")  # an explicit request still probes (and may accept the simulator)
    assert probes == [True]
    monkeypatch.setattr(pcc, "_probe_cache", {})
    monkeypatch.setattr(devices, "cuda_device_present", lambda: True)
    assert resolve_backend("auto") == "cpu"
    assert probes == [True, False]
