"""Blocked Pearson correlation (PCC) between gene expression profiles: the public entry point.

STUB: a plain numpy placeholder with the final signature; the numba CPU and CUDA backends
replace its body.
"""

from __future__ import annotations

import numpy as np


def pcc_block(row_values: np.ndarray, col_values: np.ndarray | None = None, *, backend: str = "auto",
              block_rows: int | None = None, progress=None) -> np.ndarray:
    """PCC of every row gene with every column gene over cells.

    Args:
        row_values: float32 or float64 ``[row_genes, cells]``.
        col_values: float32 or float64 ``[col_genes, cells]``; ``None`` means ``row_values``.
        backend: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        block_rows: row genes per block (memory bound); ``None`` picks a default.
        progress: optional callable ``advance(n_row_genes_done)``.

    Returns:
        float32 ``[row_genes, col_genes]``; constant genes correlate 0 with everything.
    """
    if col_values is None:
        col_values = row_values
    def z(v):
        v = np.asarray(v, dtype=np.float64)
        c = v - v.mean(axis=1, keepdims=True)
        norm = np.sqrt((c * c).sum(axis=1, keepdims=True))
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(norm > 0, c / norm, 0.0)
        return out
    result = (z(row_values) @ z(col_values).T).astype(np.float32)
    if progress is not None:
        progress(len(result))
    return np.clip(result, -1.0, 1.0)
