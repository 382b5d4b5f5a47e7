"""In-memory cells x genes objects as expression input: ``anndata.AnnData`` (dense or sparse X, or
opened in backed mode) and ``(scipy.sparse matrix, gene_names)``.

They take the route the same data would take as an ``.h5ad`` file (:mod:`deeptgi_rt.sources`), so a
notebook's object scores exactly as ``adata.write_h5ad(path)`` followed by scoring ``path``:

* streamed by cell chunks (:class:`~deeptgi_rt.cells.CellChunks`, the engine of ``.h5ad`` files)
  whenever the file would be (``layer``, ``use_raw``, ``chunk_cells``, ``transform=
  "normalize_total_log1p"``, or a dense matrix over :data:`~deeptgi_rt.sources.DENSE_BYTES_LIMIT`),
  and always for a sparse or backed matrix, which is never densified whole (each chunk of cells
  is, at most, as the file's chunks are);
* otherwise (a dense X of moderate size) copied whole into an :class:`~deeptgi_rt.expression.Expression`,
  as the file reader does.

A backed AnnData's X is read from its file by the h5ad reader itself (CSC included), with the gene
names of the object. Nothing here imports anndata or scipy: an object of theirs can only exist
when they are installed, so the checks look them up in ``sys.modules``. Nothing here changes the
object: chunks are converted and normalized as copies.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError, preview

if TYPE_CHECKING:
    from .expression import Expression
    from .request import ScoreRequest

ANNDATA_INSTALL = "pip install 'deeptgi-rt[anndata]'"


def is_anndata(data) -> bool:
    """Whether ``data`` is an ``anndata.AnnData`` (a view or backed included)."""
    module = sys.modules.get("anndata")
    return module is not None and isinstance(data, module.AnnData)


def is_sparse(matrix) -> bool:
    """Whether ``matrix`` is a scipy sparse matrix or array."""
    module = sys.modules.get("scipy.sparse")
    return module is not None and module.issparse(matrix)


def is_sparse_pair(data) -> bool:
    """Whether ``data`` is ``(scipy sparse matrix, gene_names)``."""
    return isinstance(data, tuple) and len(data) == 2 and is_sparse(data[0])


def is_in_memory_cells(data) -> bool:
    """Whether ``data`` is one of the objects this module reads (an AnnData or a sparse pair)."""
    return is_anndata(data) or is_sparse_pair(data)


def require_anndata(what: str) -> None:
    """Import anndata or raise an :class:`InputError` naming the extra that brings it."""
    try:
        import anndata  # noqa: F401
    except ImportError:
        raise InputError(f"{what} needs anndata, which is not installed: {ANNDATA_INSTALL}") from None


def matrix_name(layer: str | None, use_raw: bool) -> str:
    """How messages name the matrix read: ``adata.X``, ``adata.layers['counts']`` or ``adata.raw.X``."""
    if use_raw:
        return "adata.raw.X"
    return f"adata.layers[{layer!r}]" if layer is not None else "adata.X"


def check_anndata(adata, *, layer: str | None, use_raw: bool, var_names_column: str | None) -> None:
    """Everything checkable about ``adata`` without reading its matrix.

    Raises:
        InputError: no cells, no such layer, ``use_raw`` without ``adata.raw``, no X, a missing
            ``var_names_column``, empty or duplicate gene names; ``parameter`` names the option
            at fault (``expression`` for the object itself).
    """
    if adata.n_obs == 0:
        raise InputError(
            f"adata: an AnnData with 0 cells (shape {adata.shape}); nothing to correlate", parameter="expression"
        )
    if layer is not None and use_raw:
        raise InputError("layer= or use_raw=, not both (adata.raw has no layers)", parameter="layer")
    if layer is not None and layer not in adata.layers:
        found = preview(list(adata.layers.keys())) or "none"
        raise InputError(f"layer={layer!r}: adata has no such layer (layers: {found})", parameter="layer")
    if use_raw and adata.raw is None:
        raise InputError("use_raw=True: adata has no raw (adata.raw is None)", parameter="use_raw")
    if layer is None and not use_raw and adata.X is None:
        raise InputError("adata: adata.X is None; give layer= or use_raw=True", parameter="expression")
    gene_names(adata, use_raw=use_raw, var_names_column=var_names_column)


def gene_names(adata, *, use_raw: bool, var_names_column: str | None) -> list[str]:
    """The gene names of the matrix read: ``var_names`` (of ``adata.raw`` with ``use_raw``) or the
    ``var`` column ``var_names_column``; checked for empty and duplicate names.

    Raises:
        InputError: a missing column, an empty name, duplicate names.
    """
    from .names import duplicate_names

    var = adata.raw.var if use_raw else adata.var
    where = "adata.raw.var" if use_raw else "adata.var"
    if var_names_column is None:
        names = [str(name) for name in var.index]
        what, parameter = f"{where}_names", "expression"
    else:
        if var_names_column not in var.columns:
            found = preview(list(var.columns)) or "(none)"
            raise InputError(
                f"var_names_column={var_names_column!r}: no such column in {where} (columns: {found})",
                parameter="var_names_column",
            )
        column = var[var_names_column]
        empty = column.isna().to_numpy() | (column.astype(str).str.strip() == "").to_numpy()
        if empty.any():
            row = int(np.argmax(empty))
            raise InputError(
                f"var_names_column={var_names_column!r}: no gene name for var {str(var.index[row])!r} "
                f"({int(empty.sum())} of {len(column)} empty)",
                parameter="var_names_column",
            )
        names = [str(name) for name in column]
        what, parameter = f"{where}[{var_names_column!r}]", "var_names_column"
    blank = [i for i, name in enumerate(names) if not name.strip()]
    if blank:
        raise InputError(f"{what}: empty gene name at gene position {blank[0] + 1}", parameter=parameter)
    repeated = duplicate_names(names)
    if repeated:
        hint = " (adata.var_names_make_unique() makes them unique)" if var_names_column is None else ""
        raise InputError(f"{what}: duplicate gene names: {preview(repeated)}{hint}", parameter=parameter)
    return names


def check_sparse_pair(data) -> None:
    """``(matrix, gene_names)``: a 2-D matrix with one name per column, names unique."""
    from .names import duplicate_names

    matrix, genes = data
    if matrix.ndim != 2:
        raise InputError(
            f"<sparse matrix>: expected 2-D cells x genes, got shape {matrix.shape}", parameter="expression"
        )
    genes = [str(name) for name in genes]
    if len(genes) != matrix.shape[1]:
        raise InputError(
            f"<sparse matrix>: {len(genes)} gene names for {matrix.shape[1]} genes (columns; cells are rows)",
            parameter="expression",
        )
    if matrix.shape[0] == 0:
        raise InputError("<sparse matrix>: 0 cells; nothing to correlate", parameter="expression")
    repeated = duplicate_names(genes)
    if repeated:
        raise InputError(f"<sparse matrix>: duplicate gene names: {preview(repeated)}", parameter="expression")


def memory_cells(data, request: ScoreRequest, *, transform: str, what: str, metadata_only: bool = False):
    """The cells source of an in-memory object, or ``None`` when the run copies it whole (see the
    module docs for which); ``metadata_only`` opens it as a source whatever the decision (a plan).

    Args:
        data: an AnnData or ``(sparse matrix, gene_names)``.
        request: the run's request (``layer``, ``use_raw``, ``var_names_column``, ``chunk_cells``
            apply to ``expression`` only).
        transform: the modality's transform (the model's preprocessing, else the request's).
        what: ``"expression"`` or ``"bulk"``.
    """
    from .cells import array_chunks
    from .sources import DENSE_BYTES_LIMIT, NORMALIZE_OF_TRANSFORM

    expression = what == "expression"
    layer = request.layer if expression else None
    use_raw = bool(request.use_raw) and expression
    chunk_cells = request.chunk_cells if expression else None
    normalize = NORMALIZE_OF_TRANSFORM[transform]
    if is_sparse_pair(data):
        matrix, genes = data
        check_sparse_pair(data)
        cells = array_chunks(
            matrix,
            [str(g) for g in genes],
            chunk_cells=chunk_cells,
            normalize=normalize,
            source=f"<{what} sparse matrix>",
        )
        cells.stored_entries, cells.sparse = int(matrix.nnz), True
        return cells
    column = request.var_names_column if expression else None
    check_anndata(data, layer=layer, use_raw=use_raw, var_names_column=column)
    genes = gene_names(data, use_raw=use_raw, var_names_column=column)
    source = matrix_name(layer, use_raw) if expression else f"bulk {matrix_name(None, False)}"
    if data.isbacked and not data.is_view and layer is None:
        # X (or raw/X) stays on disk: the h5ad reader's chunks, the object's gene names.
        from .cells import anndata_chunks

        cells = anndata_chunks(data.filename, use_raw=use_raw, chunk_cells=chunk_cells, normalize=normalize)
        if len(cells.genes) != len(genes):
            raise InputError(
                f"{source}: the backing file {data.filename} has {len(cells.genes)} genes, the object {len(genes)}"
            )
        cells.genes, cells.source = genes, f"{source} (backed {data.filename})"
        return cells
    matrix = _matrix(data, layer, use_raw)
    sparse = is_sparse(matrix)
    asked = expression and (layer is not None or use_raw or chunk_cells is not None)
    dense_bytes = 4 * matrix.shape[0] * matrix.shape[1]
    stream = (
        metadata_only
        or sparse
        or data.isbacked
        or asked
        or transform == "normalize_total_log1p"
        or dense_bytes > DENSE_BYTES_LIMIT
    )
    if not stream:
        return None
    if not sparse:
        matrix = np.asarray(matrix)
        if not (np.issubdtype(matrix.dtype, np.number) or matrix.dtype == np.bool_):
            raise InputError(f"{source}: non-numeric dtype {matrix.dtype}", parameter="expression")
    cells = array_chunks(matrix, genes, chunk_cells=chunk_cells, normalize=normalize, source=source)
    cells.stored_entries = int(matrix.nnz) if sparse else dense_bytes // 4
    cells.sparse = sparse
    return cells


def anndata_expression(
    adata, *, transform: str, case_insensitive: bool, what: str, var_names_column: str | None
) -> Expression:
    """A dense in-memory AnnData's X as a whole :class:`Expression` (float32 ``[genes, cells]``,
    a copy), checked and transformed as the ``.h5ad`` reader does for the same data."""
    from .expression import _finish

    check_anndata(adata, layer=None, use_raw=False, var_names_column=var_names_column)
    genes = gene_names(adata, use_raw=False, var_names_column=var_names_column)
    matrix = np.asarray(_matrix(adata, None, False))
    source = "adata.X" if what == "expression" else "bulk adata.X"
    if not (np.issubdtype(matrix.dtype, np.number) or matrix.dtype == np.bool_):
        raise InputError(f"{source}: non-numeric dtype {matrix.dtype}", parameter=what)
    values = np.array(matrix.T, dtype=np.float32, order="C", copy=True)
    return _finish(
        genes,
        values,
        [str(c) for c in adata.obs_names],
        source,
        "cells-by-genes",
        False,
        transform,
        case_insensitive,
        numeric_hint="the var_names are not gene names; set adata.var_names to gene symbols or name the var "
        "column holding them with var_names_column=",
    )


def _matrix(adata, layer: str | None, use_raw: bool):
    """The matrix read, as the object holds it (never copied here)."""
    if use_raw:
        return adata.raw.X
    return adata.layers[layer] if layer is not None else adata.X


__all__: Sequence[str] = [
    "ANNDATA_INSTALL",
    "anndata_expression",
    "check_anndata",
    "gene_names",
    "is_anndata",
    "is_in_memory_cells",
    "is_sparse",
    "is_sparse_pair",
    "matrix_name",
    "memory_cells",
    "require_anndata",
]
