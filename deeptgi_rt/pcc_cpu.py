"""CPU backend of the PCC core: numba standardization of gene rows, BLAS for the product.

Pearson's r of two profiles is the dot product of their standardized forms
``z = (x - mean) / sqrt(sum((x - mean)**2))``, so a PCC block is one float32 matrix product
``Z_rows @ Z_cols.T``. This module supplies the standardization (the only part that is not
already a BLAS call) as a parallel numba kernel: statistics in float64, ``z`` written as float32.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


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
    if cells < 2:
        out[:] = 0.0
        return out
    stop = cells - cells % 4
    for g in prange(genes):
        row = values[g]
        z = out[g]
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
        # sum_squares == 0 exactly when every value equals the first: a constant gene.
        centered_sum_squares = sum_squares - shifted_sum * (shifted_sum / cells)
        if sum_squares == 0.0 or centered_sum_squares <= 0.0:
            z[:] = 0.0
            continue
        mean = shift + shifted_sum / cells
        scale = 1.0 / np.sqrt(centered_sum_squares)
        for k in range(cells):
            z[k] = np.float32((np.float64(row[k]) - mean) * scale)
    return out


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


def pcc_block_cpu(row_values: np.ndarray, col_values: np.ndarray | None, block_rows: int,
                  progress=None) -> np.ndarray:
    """PCC of each row gene with each column gene, one block of row genes at a time.

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
    rows = row_values.shape[0]
    z_cols_t = standardize_rows(col_values).T
    out = np.empty((rows, col_values.shape[0]), dtype=np.float32)
    z_block = np.empty((min(block_rows, rows), row_values.shape[1]), dtype=np.float32)
    for start in range(0, rows, block_rows):
        stop = min(start + block_rows, rows)
        z_rows = standardize_rows(row_values[start:stop], z_block[: stop - start])
        # Writing straight into the output rows: BLAS accepts the contiguous row slice as C.
        out_rows = out[start:stop]
        np.matmul(z_rows, z_cols_t, out=out_rows)
        np.clip(out_rows, -1.0, 1.0, out=out_rows)
        if progress is not None:
            progress(stop - start)
    return out


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
