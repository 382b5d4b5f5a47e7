"""What to score and how: a frozen :class:`ScoreRequest`, checked when it is made.

Every option is checked here, before a model or any data is loaded, so a wrong option costs
no waiting. Messages name the Python parameters (``top_k must be ...``); the command line
rewrites them to its flags.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import cast, get_args

import numpy as np

from ._types import ExpressionLike, GeneList, Layout, OutputFormat, PairsLike, Threshold, Transform, UnknownPairs
from .errors import InputError
from .scoring import DEFAULT_BATCH_SIZE
from .thresholds import THRESHOLD_NAMES

# Edge lists up to this size are sorted globally by score (about 32 bytes per edge while sorting).
MAX_SORT_EDGES = 50_000_000


@dataclass(frozen=True, eq=False)
class ScoreRequest:
    """One scoring run's inputs and options (see :meth:`DeepTGIModel.score` for their meaning).

    Attributes:
        expression: the (single-cell) expression.
        bulk: the second modality, for two-modality models.
        tfs: TF names or gene-list file; ``None``: the model's TFs found in the data.
        genes: target names or gene-list file; ``None``: every gene in the data.
        pairs: score only these pairs (then ``tfs`` and ``genes`` stay ``None``).
        top_k: keep the ``top_k`` best targets per TF.
        threshold: keep edges with score >= this; ``"youden"``: the model's threshold at the
            genome-wide base rate, ``"balanced-youden"``: as chosen on balanced pairs,
            ``"density"``: the cut keeping the top share of the run's pairs the training
            network's density gives (all-pairs runs only; see :mod:`deeptgi_rt.thresholds`).
            A numeric string (as typed on a command line) is stored as its float.
        batch_size: pairs per head run.
        layout, bulk_layout: layout of ``expression`` / ``bulk`` (``None``: ``"auto"`` for
            files, ``"cells-by-genes"`` for in-memory data).
        case_insensitive: match gene names ignoring case.
        var_names_column: h5ad/zarr ``expression`` only: the ``var`` column holding gene names.
        transform, bulk_transform: transform of raw counts in ``expression`` / ``bulk`` before
            the model's own preprocessing: ``"none"``, ``"log1p"`` or ``"normalize_total_log1p"``.
        min_coverage: smallest accepted fraction of the model's feature genes in the data.
        unknown_pairs: pairs naming genes absent from the data: ``"skip"`` or ``"error"``.
        format: output format of :meth:`DeepTGIModel.write`.
        max_sort_edges: :meth:`DeepTGIModel.write` sorts globally by score up to this many edges.
        target_prior: add the model's per-target prior (metadata ``target_prior``) to the
            network's scores; ``False`` scores with the network alone (no effect on models
            without the table).
        layer, use_raw, chunk_cells, dask_scheduler: read ``expression`` (an ``.h5ad`` file, an
            AnnData zarr store or a ``.parquet`` file) a chunk of cells at a time, never whole
            (:func:`deeptgi_rt.cells.open_cells`): ``layers/<layer>`` or ``raw/X`` instead of X,
            ``chunk_cells`` cells per chunk, the PCC statistics on the dask scheduler at
            ``dask_scheduler`` (``"local"``: a local cluster). Any of them, ``transform=
            "normalize_total_log1p"`` on such a file, or a file whose dense float32 matrix would
            exceed :data:`deeptgi_rt.sources.DENSE_BYTES_LIMIT` streams the cells (see
            :mod:`deeptgi_rt.sources`). ``layer``, ``use_raw``, ``chunk_cells`` and
            ``var_names_column`` also apply to an in-memory ``anndata.AnnData``, which streams
            the same way, and always when its matrix is sparse or backed
            (:mod:`deeptgi_rt.inmemory`).

    Raises:
        InputError: an invalid option (its ``parameter`` names it).
    """

    expression: ExpressionLike
    bulk: ExpressionLike | None = None
    tfs: GeneList | None = None
    genes: GeneList | None = None
    pairs: PairsLike | None = None
    top_k: int | None = None
    threshold: Threshold | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    layout: Layout | None = None
    bulk_layout: Layout | None = None
    case_insensitive: bool = False
    var_names_column: str | None = None
    transform: Transform = "none"
    bulk_transform: Transform = "none"
    min_coverage: float = 1.0
    unknown_pairs: UnknownPairs = "skip"
    format: OutputFormat = "parquet"
    max_sort_edges: int = MAX_SORT_EDGES
    target_prior: bool = True
    layer: str | None = None
    use_raw: bool = False
    chunk_cells: int | None = None
    dask_scheduler: str | None = None

    def __post_init__(self) -> None:
        if self.top_k is not None:
            _count("top_k", self.top_k)
        object.__setattr__(self, "threshold", _threshold(self.threshold))
        _count("batch_size", self.batch_size)
        if not 0.0 < float(self.min_coverage) <= 1.0:
            raise InputError(
                f"min_coverage must be a fraction in (0, 1], got {self.min_coverage!r}", parameter="min_coverage"
            )
        _choice("unknown_pairs", self.unknown_pairs, UnknownPairs)
        _choice("format", self.format, OutputFormat)
        _choice("transform", self.transform, Transform)
        _choice("bulk_transform", self.bulk_transform, Transform)
        if self.bulk is None and self.bulk_transform != "none":
            raise InputError(
                "bulk_transform= transforms the bulk modality; give bulk= too or drop it", parameter="bulk_transform"
            )
        for name in ("layout", "bulk_layout"):
            if getattr(self, name) is not None:
                _choice(name, getattr(self, name), Layout)
        _count("max_sort_edges", self.max_sort_edges, minimum=0)
        if self.pairs is not None and (self.tfs is not None or self.genes is not None):
            raise InputError(
                "pairs= lists the pairs to score; it cannot be combined with tfs= or genes=", parameter="pairs"
            )
        _check_streaming(self)
        if self.pairs is not None and self.threshold == "density":
            raise InputError(
                "threshold='density' keeps the genome's density of all TF x target pairs, and a listed "
                "pair table's density is not the genome's; use threshold='youden', a "
                "threshold=FLOAT or top_k=K with pairs=",
                parameter="threshold",
            )

    @property
    def streaming_options(self) -> list[str]:
        """The options given that read the cells a chunk at a time (empty: none)."""
        given = {
            "layer": self.layer is not None,
            "use_raw": bool(self.use_raw),
            "chunk_cells": self.chunk_cells is not None,
            "dask_scheduler": self.dask_scheduler is not None,
        }
        return [name for name, present in given.items() if present]

    @property
    def modalities(self) -> list[ExpressionLike]:
        """The expression data given: ``[expression]`` or ``[expression, bulk]``."""
        return [self.expression] + ([self.bulk] if self.bulk is not None else [])

    def score_filter(self, model_threshold: float) -> float | None:
        """The lowest score kept: ``None`` (keep all), the given float, or ``model_threshold``
        (the cut the request's threshold name resolves to, see :mod:`deeptgi_rt.thresholds`)."""
        if self.threshold in THRESHOLD_NAMES:
            return float(model_threshold)
        return None if self.threshold is None else float(self.threshold)

    @property
    def threshold_name(self) -> str:
        """The model threshold this run reports: the named one, else ``"youden"``."""
        return self.threshold if self.threshold in THRESHOLD_NAMES else "youden"


def _check_streaming(request: ScoreRequest) -> None:
    """The chunked-reading options: consistent with each other and with the other reading options."""
    import os

    from .cells import CellChunks, DaskCells

    if request.chunk_cells is not None:
        _count("chunk_cells", request.chunk_cells)
    if request.layer is not None and request.use_raw:
        raise InputError("layer= or use_raw=, not both (raw has no layers)", parameter="layer")
    if _check_in_memory(request):
        return
    given = request.streaming_options
    if not given:
        return
    names = ", ".join(f"{name}=" for name in given)
    if isinstance(request.expression, (CellChunks, DaskCells)):
        if given == ["dask_scheduler"]:
            return
        raise InputError(
            f"{names} apply to an expression file; expression= is already opened by cells", parameter=given[0]
        )
    if not isinstance(request.expression, (str, os.PathLike)):
        raise InputError(
            f"{names} read an expression file (.h5ad, zarr, .parquet) a chunk of cells at a time; "
            "expression= is in memory (an AnnData takes layer=, use_raw= and chunk_cells=)",
            parameter=given[0],
        )
    if request.layout not in (None, "auto") or request.var_names_column is not None:
        raise InputError(
            f"{names} read cells as rows and gene names from var (AnnData) or the columns (Parquet); "
            "drop layout= and var_names_column=",
            parameter=given[0],
        )


def _check_in_memory(request: ScoreRequest) -> bool:
    """Check an in-memory AnnData or ``(scipy.sparse matrix, genes)`` (without reading its matrix)
    and the reading options given with it; ``True`` when ``expression`` is one."""
    from .inmemory import check_anndata, check_sparse_pair, is_anndata, is_sparse_pair

    if request.bulk is not None and is_anndata(request.bulk):
        check_anndata(request.bulk, layer=None, use_raw=False, var_names_column=None)
    if request.bulk is not None and is_sparse_pair(request.bulk):
        check_sparse_pair(request.bulk)
    data = request.expression
    if not (is_anndata(data) or is_sparse_pair(data)):
        return False
    what = "an AnnData" if is_anndata(data) else "a scipy.sparse matrix"
    if request.dask_scheduler is not None:
        raise InputError(
            f"dask_scheduler= has the workers read an expression file; expression= is {what} in this "
            "process: write it to .h5ad (adata.write_h5ad) and pass the path",
            parameter="dask_scheduler",
        )
    if request.layout not in (None, "auto", "cells-by-genes"):
        raise InputError(f"layout={request.layout!r}: {what} is read as cells (rows) x genes", parameter="layout")
    if is_anndata(data):
        check_anndata(
            data, layer=request.layer, use_raw=bool(request.use_raw), var_names_column=request.var_names_column
        )
        return True
    check_sparse_pair(data)
    for name in ("layer", "use_raw", "var_names_column"):
        if getattr(request, name):
            raise InputError(
                f"{name}= applies to an AnnData; expression= is {what} with its gene names", parameter=name
            )
    return True


def _count(name: str, value: object, *, minimum: int = 1) -> None:
    if not isinstance(value, (int, np.integer)) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise InputError(f"{name} must be {kind}, got {value!r}", parameter=name)


def _choice(name: str, value: object, literal: object) -> None:
    choices = get_args(literal)
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(choices)}, got {value!r}", parameter=name)


def _threshold(threshold: object) -> Threshold | None:
    """``threshold`` checked: ``None``, a name of :data:`THRESHOLD_NAMES` (any case) or a float
    in [0, 1] (numeric strings parsed)."""
    if threshold is None:
        return None
    message = (
        f"threshold must be {', '.join(repr(name) for name in THRESHOLD_NAMES)} or a number in [0, 1], "
        f"got {threshold!r}"
    )
    if isinstance(threshold, str):
        name = threshold.strip().lower()
        if name in THRESHOLD_NAMES:
            return cast(Threshold, name)
        try:
            threshold = float(threshold)
        except ValueError:
            raise InputError(message, parameter="threshold") from None
    if not isinstance(threshold, numbers.Real):
        raise InputError(message, parameter="threshold")
    value = float(threshold)
    if not 0.0 <= value <= 1.0:
        raise InputError(message, parameter="threshold")
    return value
