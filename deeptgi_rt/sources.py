"""Where a scoring run's expression comes from: read whole into memory (an
:class:`~deeptgi_rt.expression.Expression`), or a chunk of cells at a time
(:class:`~deeptgi_rt.cells.CellChunks`, or :class:`~deeptgi_rt.cells.DaskCells` on a dask scheduler).

The two give the same PCC features (to float32 rounding; ``tests/test_score_cells.py``). A file
is streamed when it can be (``.h5ad``, an AnnData zarr store, ``.parquet``) and either a
streaming option is given (``layer``, ``use_raw``, ``chunk_cells``, ``dask_scheduler``),
``transform="normalize_total_log1p"`` is asked (per-cell totals come from each chunk), or its
dense matrix would exceed :data:`DENSE_BYTES_LIMIT`. Otherwise the run reads it whole, as before.
An in-memory AnnData or scipy.sparse matrix follows the same rule, except that a sparse or backed
matrix always streams (:mod:`deeptgi_rt.inmemory`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .cells import CellChunks, DaskCells, open_cells
from .errors import InputError

if TYPE_CHECKING:
    from .expression import Expression
    from .request import ScoreRequest

# Dense float32 cells x genes bytes above which a file is streamed without being asked. The
# whole-matrix path peaks at about 1.3x its matrix (4.9 GiB for the 3.7 GiB of 50,000 x 20,000
# cells in benchmarks/results/atlas.md) and is no faster than the streamed one there; 2 GiB
# (about 27,000 cells of 20,000 genes) keeps it near 3 GiB, inside the 4 GiB an atlas run is
# held to, while smaller files keep the in-memory path and its exact behaviour.
DENSE_BYTES_LIMIT = 2 * 2**30
# The per-chunk normalization of cells sources for each request transform.
NORMALIZE_OF_TRANSFORM = {"none": None, "log1p": "log1p", "normalize_total_log1p": "total"}
_STREAMABLE_SUFFIXES = (".h5ad", ".parquet")


def streamable(data) -> bool:
    """Whether ``data`` is a file the cells readers take: ``.h5ad``, ``.parquet`` or a directory
    (an AnnData zarr store)."""
    if not isinstance(data, (str, os.PathLike)):
        return False
    return Path(data).is_dir() or str(data).lower().endswith(_STREAMABLE_SUFFIXES)


def cells_source(
    data, request: ScoreRequest, *, transform: str, what: str, metadata_only: bool = False
) -> CellChunks | DaskCells | None:
    """The cells source ``data`` is scored from, or ``None`` when the run reads it whole.

    Args:
        data: one modality of the request (a path, an opened cells source, in-memory data).
        request: the run's request (its streaming options apply to ``expression`` only).
        transform: the modality's transform (the model's preprocessing, else the request's).
        what: ``"expression"`` or ``"bulk"``.
        metadata_only: open a streamable file's metadata even when the run would read it whole
            (for a plan, which must not read the matrix).

    Raises:
        InputError: streaming options for a file the cells readers cannot take, and whatever
            :func:`~deeptgi_rt.cells.open_cells` raises (no X, no such layer, ...).
    """
    from .inmemory import is_in_memory_cells, memory_cells

    if isinstance(data, DaskCells):
        return data
    if is_in_memory_cells(data):
        return memory_cells(data, request, transform=transform, what=what, metadata_only=metadata_only)
    if isinstance(data, CellChunks):
        if transform != "none" and data.normalize != NORMALIZE_OF_TRANSFORM[transform]:
            raise InputError(
                f"{data.source}: the cells were opened with normalize={data.normalize!r}; this run "
                f"needs {NORMALIZE_OF_TRANSFORM[transform]!r} (open them with it)"
            )
        return data
    asked = request.streaming_options if what == "expression" else []
    if not streamable(data):
        if asked:
            raise InputError(
                f"{data}: {', '.join(f'{name}=' for name in asked)} need an .h5ad file, an AnnData zarr "
                "store or a .parquet file",
                parameter=asked[0],
            )
        return None
    layout = request.layout if what == "expression" else request.bulk_layout
    if not asked and (layout not in (None, "auto") or (what == "expression" and request.var_names_column)):
        return None  # options only the whole-matrix readers know
    cells = open_cells(
        data,
        layer=request.layer if what == "expression" else None,
        use_raw=bool(request.use_raw) and what == "expression",
        normalize=NORMALIZE_OF_TRANSFORM[transform],
        chunk_cells=request.chunk_cells if what == "expression" else None,
    )
    # A sparse matrix always streams, as an in-memory sparse AnnData must (never densified whole):
    # the file and the object then score identically (read whole, the float32 sums differ by ~1e-6).
    if (
        metadata_only
        or asked
        or cells.sparse
        or transform == "normalize_total_log1p"
        or dense_bytes(cells) > DENSE_BYTES_LIMIT
    ):
        return cells
    return None


def streams(data, request: ScoreRequest, *, transform: str, what: str) -> bool:
    """Whether the run scores ``data`` from its cells a chunk at a time (see :func:`cells_source`)."""
    return cells_source(data, request, transform=transform, what=what) is not None


def dense_bytes(cells: CellChunks) -> int:
    """Bytes of the cells' dense float32 matrix."""
    return 4 * cells.n_cells * len(cells.genes)


def for_scheduler(source, request: ScoreRequest):
    """``source`` as the statistics pass takes it: a :class:`CellChunks` becomes a dask array
    when the request names a dask scheduler."""
    if request.dask_scheduler is not None and isinstance(source, CellChunks):
        return source.to_dask()
    return source


def sample_expression(source, transform: str, *, as_stored: bool = False) -> Expression | None:
    """The first chunk of a cells source as an :class:`Expression` (genes x cells), for the
    raw-counts check; ``None`` when the check does not apply (a transform is given) or the
    cells live on a dask cluster. ``as_stored``: the chunk as the file holds it, before the
    source's normalization, whatever ``transform`` (for the check that a transform meets counts)."""
    import numpy as np

    from .expression import Expression

    if isinstance(source, Expression):
        return source
    if (transform != "none" and not as_stored) or not isinstance(source, CellChunks) or source.n_cells == 0:
        return None
    if as_stored:
        chunk = source.stored_head()
    else:
        chunk = next(iter(source.cell_range(0, min(source.chunk_cells, source.n_cells))), None)
    if chunk is None:
        return None
    values = chunk.toarray() if hasattr(chunk, "toarray") else chunk
    return Expression(genes=source.genes, values=np.ascontiguousarray(values.T), source=source.source)


def move_reading_time(sources, stage_seconds: dict[str, float]) -> None:
    """Move the time cells sources spent reading chunks (inside the ``pcc`` stage, where the
    chunks are read) to the ``read`` stage, so the summary shows reading apart from the statistics."""
    seconds = sum(getattr(source, "read_seconds", 0.0) for source in sources)
    stage_seconds["read"] += seconds
    stage_seconds["pcc"] -= seconds
