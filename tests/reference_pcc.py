"""Plain numpy float64 reference for the PCC core (what deeptgi_rt.pcc must reproduce)."""

from __future__ import annotations

import numpy as np


def reference_pcc(row_values: np.ndarray, col_values: np.ndarray | None = None) -> np.ndarray:
    """float64 ``[row_genes, col_genes]`` Pearson correlations by ``np.corrcoef``.

    Genes with a constant profile (or fewer than 2 cells) correlate 0 with everything, which
    ``np.corrcoef`` would leave as NaN.
    """
    rows = np.asarray(row_values, dtype=np.float64)
    cols = rows if col_values is None else np.asarray(col_values, dtype=np.float64)
    n_rows, n_cols = len(rows), len(cols)
    result = np.zeros((n_rows, n_cols))
    row_ok = ~reference_constant(rows)
    col_ok = ~reference_constant(cols)
    if row_ok.any() and col_ok.any():
        full = np.corrcoef(rows[row_ok], cols[col_ok])
        result[np.ix_(row_ok, col_ok)] = full[: row_ok.sum(), row_ok.sum() :]
    return np.clip(result, -1.0, 1.0)


def reference_constant(values: np.ndarray) -> np.ndarray:
    """bool ``[genes]``: all values of the gene equal (or fewer than 2 cells)."""
    values = np.asarray(values)
    if values.shape[1] < 2:
        return np.ones(len(values), dtype=bool)
    return (values == values[:, :1]).all(axis=1)
