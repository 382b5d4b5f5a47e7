"""Type aliases shared by the public signatures (``ExpressionLike``, ``GeneList``, ...).

Aliases only: importing this module loads no heavy dependency (the frame and Arrow types are
named as strings for type checkers). The ``Literal`` aliases are also the runtime list of
accepted choices (``typing.get_args(OutputFormat)``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, Union

import numpy as np

if TYPE_CHECKING:
    import anndata
    import pandas
    import polars
    import pyarrow
    import scipy.sparse

    from .expression import Expression

PathLike = Union[str, "os.PathLike[str]"]
"""A file path."""

GeneList = PathLike | Sequence[str]
"""Gene names: a sequence of names or a gene-list file (one name a line)."""

ExpressionLike = Union[
    "Expression",
    PathLike,
    "polars.DataFrame",
    "pandas.DataFrame",
    tuple[np.ndarray, Sequence[str]],
    "anndata.AnnData",
    tuple["scipy.sparse.spmatrix | scipy.sparse.sparray", Sequence[str]],
]
"""Expression data: an ``Expression``, a file, a frame laid out like a file,
``(array [cells, genes], gene_names)``, an ``anndata.AnnData`` (in memory, dense or sparse X, or
backed) or ``(scipy.sparse matrix [cells, genes], gene_names)``."""

PairsLike = Union[PathLike, "polars.DataFrame", "pandas.DataFrame", "pyarrow.Table"]
"""A pairs table with TF and target columns: a Parquet/CSV/TSV file or an in-memory table."""

Device = Literal["auto", "cpu", "cuda"]
Layout = Literal["auto", "cells-by-genes", "genes-by-cells"]
OutputFormat = Literal["parquet", "tsv", "decoupler"]
"""Edge-list output: Parquet (``TF``, ``target``, ``score``), the ``TF<TAB>target<TAB>importance``
adjacency TSV of GRNBoost/pySCENIC, or decoupler's network TSV (``source<TAB>target<TAB>weight``)."""
UnknownPairs = Literal["skip", "error"]
Transform = Literal["none", "log1p", "normalize_total_log1p"]
"""A transform of raw counts: none, ``log1p``, or per-cell total to 10,000 then ``log1p``."""
Threshold = float | Literal["youden", "balanced-youden", "density"]
"""A score filter: a float in [0, 1], ``"youden"`` for the model's threshold at the genome-wide
base rate, or ``"balanced-youden"`` for it as chosen on balanced pairs (see ``thresholds``)."""
