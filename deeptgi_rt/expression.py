"""Expression matrices: reading Parquet, CSV/TSV and h5ad in either layout.

STUB: minimal reader with the final API; the full reader (layouts, validation, h5ad,
errors) replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Expression:
    """An expression matrix, gene-major.

    Attributes:
        genes: gene names, one per row of ``values``.
        values: float32 ``[genes, cells]``, C-contiguous (each gene's profile is contiguous).
        source: where it came from (a file path), used in error messages.
        cells: cell (or sample) ids, or ``None`` if the file had none.
    """

    genes: list[str]
    values: np.ndarray
    source: str
    cells: list[str] | None = None

    @property
    def n_cells(self) -> int:
        return int(self.values.shape[1])


def read_expression(path, *, layout: str = "auto", log1p: bool = False) -> Expression:
    """Read an expression file (Parquet, CSV/TSV, h5ad) into an :class:`Expression`."""
    import polars as pl

    frame = pl.read_csv(path) if str(path).endswith(".csv") else pl.read_parquet(path)
    first = frame.columns[0]
    if frame[first].dtype == pl.String:
        genes = frame[first].to_list()
        values = frame.drop(first).to_numpy().astype(np.float32)
    else:
        genes = frame.columns
        values = np.ascontiguousarray(frame.to_numpy().T.astype(np.float32))
    if log1p:
        values = np.log1p(values)
    return Expression(genes=list(genes), values=np.ascontiguousarray(values), source=str(path))
