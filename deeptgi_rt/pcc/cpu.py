"""CPU backend of the PCC core: numba standardization of gene rows, BLAS for the product.

Pearson's r of two profiles is the dot product of their standardized forms
``z = (x - mean) / sqrt(sum((x - mean)**2))``, so a PCC block is one float32 matrix product
``Z_rows @ Z_cols.T``. This module supplies the standardization (the only part that is not
already a BLAS call) as a parallel numba kernel: statistics in float64, ``z`` written as float32.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


# Reassociation lets LLVM vectorize the float64 sums (the four accumulators become SIMD lanes);
# the result differs from the sequential order only by float64 rounding.
@njit(cache=True, fastmath={"reassoc", "contract"})
def _row_statistics(row):
    """``(mean, inv_norm)`` of one profile, both float64; ``inv_norm`` is
    ``1 / sqrt(sum((x - mean)**2))``, or 0 for a constant profile (or fewer than 2 cells)."""
    cells = row.shape[0]
    if cells < 2:
        return 0.0, 0.0
    stop = cells - cells % 4
    # One read of the row for both statistics: sums of d = x - x[0] and of d**2 in float64.
    # The shift by a sample value keeps the variance formula free of cancellation for data
    # far from zero; four independent accumulators avoid a chain of dependent additions
    # without fastmath reordering.
    shift = np.float64(row[0])
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    q0 = 0.0
    q1 = 0.0
    q2 = 0.0
    q3 = 0.0
    for k in range(0, stop, 4):
        d0 = np.float64(row[k]) - shift
        d1 = np.float64(row[k + 1]) - shift
        d2 = np.float64(row[k + 2]) - shift
        d3 = np.float64(row[k + 3]) - shift
        s0 += d0
        s1 += d1
        s2 += d2
        s3 += d3
        q0 += d0 * d0
        q1 += d1 * d1
        q2 += d2 * d2
        q3 += d3 * d3
    for k in range(stop, cells):
        d0 = np.float64(row[k]) - shift
        s0 += d0
        q0 += d0 * d0
    shifted_sum = (s0 + s1) + (s2 + s3)
    sum_squares = (q0 + q1) + (q2 + q3)
    mean = shift + shifted_sum / cells
    # sum_squares == 0 exactly when every value equals the first: a constant gene.
    centered_sum_squares = sum_squares - shifted_sum * (shifted_sum / cells)
    if sum_squares == 0.0 or centered_sum_squares <= 0.0:
        return mean, 0.0
    return mean, 1.0 / np.sqrt(centered_sum_squares)


@njit(parallel=True, cache=True, fastmath=False)
def standardize_rows_into(values, out):
    """Standardize each gene row of ``values`` into ``out``.

    Args:
        values: float32 or float64 ``[genes, cells]``, C-contiguous.
        out: float32 ``[genes, cells]``, C-contiguous; overwritten with
            ``z = (x - mean) / sqrt(sum((x - mean)**2))`` per row, so that ``z @ z.T`` is the PCC,
            and with zeros for constant rows (all values equal, or fewer than 2 cells).

    Returns:
        ``out``.
    """
    genes, cells = values.shape
    for g in prange(genes):
        row = values[g]
        z = out[g]
        mean, scale = _row_statistics(row)
        if scale == 0.0:
            z[:] = 0.0
            continue
        for k in range(cells):
            z[k] = np.float32((np.float64(row[k]) - mean) * scale)
    return out


@njit(parallel=True, cache=True, fastmath=False)
def row_statistics(values):
    """Per-row ``(mean, inv_norm)``, float64 ``[genes]`` each, of float32/float64 ``[genes, cells]``
    (``inv_norm`` is 0 for constant rows); see :func:`_row_statistics`."""
    genes = values.shape[0]
    means = np.empty(genes, dtype=np.float64)
    inv_norms = np.empty(genes, dtype=np.float64)
    for g in prange(genes):
        means[g], inv_norms[g] = _row_statistics(values[g])
    return means, inv_norms


@njit(parallel=True, cache=True, fastmath=False)
def center_scale_products(products, means, inv_norms, col_sums):
    """Turn raw products into PCCs in place.

    ``products[i, j] = x_i . z_j`` for raw rows ``x_i`` and standardized columns ``z_j``; since
    ``sum(z_j)`` is (up to rounding, carried in ``col_sums``) zero, ``(x_i - mean_i) . z_j`` is
    ``products[i, j] - mean_i * col_sums[j]``, and dividing by the row's norm gives r.

    Args:
        products: float32 ``[rows, cols]``, overwritten with r clipped to [-1, 1].
        means, inv_norms: float64 ``[rows]`` from :func:`row_statistics`.
        col_sums: float64 ``[cols]``: sums of the float32 standardized column rows.
    """
    rows, cols = products.shape
    for i in prange(rows):
        mean = means[i]
        scale = inv_norms[i]
        for j in range(cols):
            r = (np.float64(products[i, j]) - mean * col_sums[j]) * scale
            products[i, j] = np.float32(min(1.0, max(-1.0, r)))


@njit(parallel=True, cache=True, fastmath=False)
def constant_rows(values):
    """bool ``[genes]``: True where a row of ``values`` (float32/float64 ``[genes, cells]``) is constant."""
    genes, cells = values.shape
    mask = np.empty(genes, dtype=np.bool_)
    for g in prange(genes):
        row = values[g]
        constant = True
        for k in range(1, cells):
            if row[k] != row[0]:
                constant = False
                break
        mask[g] = constant or cells < 2
    return mask


def kernel_input(values: np.ndarray) -> np.ndarray:
    """``values`` as float32 or float64 C-contiguous ``[genes, cells]`` (a copy only when needed).

    Restricting the kernels to these two layouts keeps numba at two compiled signatures.
    """
    dtype = values.dtype if values.dtype in (np.float32, np.float64) else np.float64
    return np.ascontiguousarray(values, dtype=dtype)


def standardize_rows(values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Standardized rows of ``values`` (any real ``[genes, cells]``) as float32 ``[genes, cells]``.

    ``out`` (float32 C-contiguous, same shape) is reused when given; see :func:`standardize_rows_into`.
    """
    values = kernel_input(values)
    if out is None:
        out = np.empty(values.shape, dtype=np.float32)
    return standardize_rows_into(values, out)


def pcc_block_cpu(row_values: np.ndarray, col_values: np.ndarray | None, block_rows: int, progress=None) -> np.ndarray:
    """PCC of each row gene with each column gene, one block of row genes at a time.

    Float32 C-contiguous rows (what the expression reader gives) are multiplied raw against
    the standardized columns and centered and scaled afterwards (:func:`center_scale_products`):
    no standardized copy of the row genes is written, so the product runs at the speed of a
    bare GEMM on the caller's array. Rows whose mean is large against their spread would lose
    digits that way and are standardized first, like every row of other dtypes and layouts.

    Args:
        row_values: real ``[row_genes, cells]``, any layout or dtype.
        col_values: real ``[col_genes, cells]``, or ``None`` for the symmetric ``row_values`` case.
        block_rows: row genes standardized and multiplied per step.
        progress: optional ``advance(n)`` called with the row genes finished by each block.

    Returns:
        float32 ``[row_genes, col_genes]`` clipped to ``[-1, 1]``.
    """
    if col_values is None:
        return _pcc_symmetric(row_values, block_rows, progress)
    rows, cells = row_values.shape
    z_cols = standardize_rows(col_values)
    z_cols_t = z_cols.T
    col_sums = z_cols.sum(axis=1, dtype=np.float64)
    out = np.empty((rows, col_values.shape[0]), dtype=np.float32)
    raw = row_values.dtype == np.float32 and row_values.flags.c_contiguous
    z_block = None if raw else np.empty((min(block_rows, rows), cells), dtype=np.float32)
    for start in range(0, rows, block_rows):
        stop = min(start + block_rows, rows)
        # Writing straight into the output rows: BLAS accepts the contiguous row slice as C.
        out_rows = out[start:stop]
        if raw:
            _raw_rows_product(row_values[start:stop], z_cols_t, col_sums, out_rows)
        else:
            assert z_block is not None
            z_rows = standardize_rows(row_values[start:stop], z_block[: stop - start])
            np.matmul(z_rows, z_cols_t, out=out_rows)
            np.clip(out_rows, -1.0, 1.0, out=out_rows)
        if progress is not None:
            progress(stop - start)
    return out


# Raw products lose about 3e-8 x |mean| / sd of the row in r (float32 rounding of the large
# uncentered terms); beyond this ratio a row is standardized first, keeping errors near 1e-6.
_MAX_RAW_MEAN_OVER_SD = 32.0


def _raw_rows_product(rows: np.ndarray, z_cols_t: np.ndarray, col_sums: np.ndarray, out: np.ndarray) -> None:
    """PCC of float32 C-contiguous ``rows`` ``[r, cells]`` with the standardized columns
    (``z_cols_t`` float32 ``[cells, c]``), written into ``out`` float32 ``[r, c]``."""
    means, inv_norms = row_statistics(rows)
    np.matmul(rows, z_cols_t, out=out)
    center_scale_products(out, means, inv_norms, col_sums)
    # |mean| / sd = |mean| * sqrt(cells) * inv_norm; constant rows (inv_norm 0) are exact zeros already.
    far_from_zero = np.abs(means) * np.sqrt(rows.shape[1]) * inv_norms > _MAX_RAW_MEAN_OVER_SD
    if far_from_zero.any():
        index = np.flatnonzero(far_from_zero)
        z_rows = standardize_rows(rows[index])
        exact = z_rows @ z_cols_t
        np.clip(exact, -1.0, 1.0, out=exact)
        out[index] = exact


def _pcc_symmetric(values: np.ndarray, block_rows: int, progress) -> np.ndarray:
    """The ``genes x genes`` PCC matrix of ``values``, computing only the upper block triangle.

    Each block of rows multiplies only against the rows after it (half the flops of the full
    product) and takes the part left of its diagonal block from the transposed blocks already
    computed above it. The diagonal block is a product of the block with itself, for which numpy
    calls SYRK (one triangle, mirrored), so the whole result is exactly symmetric.
    """
    genes = values.shape[0]
    z = standardize_rows(values)
    out = np.empty((genes, genes), dtype=np.float32)
    for start in range(0, genes, block_rows):
        stop = min(start + block_rows, genes)
        z_block = z[start:stop]
        out[start:stop, :start] = out[:start, start:stop].T
        np.matmul(z_block, z_block.T, out=out[start:stop, start:stop])
        np.matmul(z_block, z[stop:].T, out=out[start:stop, stop:])
        upper = out[start:stop, start:]
        np.clip(upper, -1.0, 1.0, out=upper)
        if progress is not None:
            progress(stop - start)
    return out
