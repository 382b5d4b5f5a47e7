"""Cells x genes inputs read a chunk of cells at a time, never whole.

Every source here yields chunks of consecutive cells with all genes, float32, either a dense
C-contiguous ``[cells, genes]`` array or a scipy CSR (or CSC) matrix (sparse storage stays sparse), with
the gene names known before the first chunk. Sources: in-memory numpy and scipy sparse
matrices, h5ad files read in backed mode (X dense, CSR or CSC, a layer, or raw/X), AnnData zarr
stores, and Parquet files in the canonical cells-by-genes layout, by record batches.

Each chunk is checked (NaN/inf are an :class:`~deeptgi_rt.errors.InputError` naming the file, the
gene and the cell) and optionally normalized with ``normalize="total"``: each cell scaled to a
total of 10,000 then ``log1p``, as scanpy's ``normalize_total(target_sum=1e4)`` + ``log1p``;
or ``normalize="log1p"`` (``log1p`` alone, a model's preprocessing, as ``read_expression(log1p=True)``).
A chunk holds every gene of its cells, so the per-cell totals come from the chunk itself. Cells
whose total is zero cannot be normalized; they are left out and counted in
:attr:`CellChunks.excluded_cells` (the caller warns).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError, preview, require_file

NORMALIZATIONS = (None, "total", "log1p")
# Per-cell total after normalize="total" (scanpy's conventional target_sum).
TARGET_TOTAL = 1e4
# Dense bytes of one chunk (cells x genes float32) when the caller gives no chunk size: large
# enough for BLAS to run at full speed over the chunk, small against an atlas.
CHUNK_BYTES = 64 * 2**20
# CSC stored matrices: entries read per slab of whole genes, and bytes of entries gathered per
# window of cells (one scan of the file per window).
CSC_SLAB_ENTRIES = 1 << 22
CSC_WINDOW_BYTES = 256 * 2**20


@dataclass
class CellChunks:
    """A cells x genes input, iterated a chunk of cells at a time.

    Attributes:
        genes: gene names, one per column of every chunk.
        n_cells: cells in the input (before any are excluded).
        source: where it came from, for messages.
        chunk_cells: cells per chunk (the last may be shorter).
        normalize: ``None``, ``"total"`` or ``"log1p"``.
        excluded_cells: cells left out so far because their total count is zero
            (``normalize="total"`` only); complete after a full iteration.
        stored_entries: values stored in the file (the non-zeros of a sparse matrix, cells x
            genes of a dense one), known from its metadata: what reading costs.
        sparse: whether the stored matrix is sparse (chunks arrive as CSR/CSC).
        read_seconds: wall seconds spent reading, checking and normalizing chunks so far.
    """

    genes: list[str]
    n_cells: int
    source: str
    chunk_cells: int
    normalize: str | None
    _raw_chunks: Callable[[int, int], Iterator] = field(repr=False)
    excluded_cells: int = 0
    stored_entries: int = 0
    sparse: bool = False
    read_seconds: float = 0.0

    def __iter__(self) -> Iterator:
        """Yield float32 chunks ``[cells, genes]``: dense C-contiguous arrays or scipy CSR/CSC."""
        self.excluded_cells = 0
        self.read_seconds = 0.0
        yield from self.cell_range(0, self.n_cells)

    def cell_range(self, start: int, stop: int) -> Iterator:
        """Yield the checked, normalized chunks of cells ``start:stop`` (as :meth:`__iter__`;
        zero-count cells add to :attr:`excluded_cells`)."""
        first_cell = start
        raw = self._raw_chunks(start, stop)
        while True:
            started = time.perf_counter()
            chunk = next(raw, None)
            if chunk is None:
                return
            cells = chunk.shape[0]
            chunk = _as_float32(chunk)
            self._check_finite(chunk, first_cell)
            if self.normalize == "total":
                chunk = self._normalize_total(chunk, first_cell)
            elif self.normalize == "log1p":
                chunk = self._log1p(chunk, first_cell)
            first_cell += cells
            self.read_seconds += time.perf_counter() - started
            if chunk.shape[0]:
                yield chunk

    def stored_head(self):
        """The first chunk of cells as stored, before ``normalize`` and any check (float32
        ``[cells, genes]``, dense or scipy CSR/CSC), or ``None`` without cells: for checks of
        what the file holds (are these raw counts?)."""
        if self.n_cells == 0:
            return None
        return next((_as_float32(chunk) for chunk in self._raw_chunks(0, min(self.chunk_cells, self.n_cells))), None)

    def to_dask(self) -> DaskCells:
        """The same cells as a dask array of one block per chunk, each read (and normalized)
        where the scheduler runs it: for a ``distributed`` cluster, the workers open the file
        themselves, so it must be at the same path on every machine. Zero-count cells are left
        out as in :meth:`__iter__` (blocks then have unknown lengths); the result's ``n_cells``
        lets the statistics count them."""
        import dask
        import dask.array as da

        blocks = []
        for start in range(0, self.n_cells, self.chunk_cells):
            stop = min(start + self.chunk_cells, self.n_cells)
            rows = np.nan if self.normalize == "total" else stop - start
            blocks.append(
                da.from_delayed(
                    dask.delayed(_block)(self, start, stop), shape=(rows, len(self.genes)), dtype=np.float32
                )
            )
        return DaskCells(da.concatenate(blocks, axis=0), self.genes, self.source, n_cells=self.n_cells)

    def _check_finite(self, chunk, first_cell: int) -> None:
        values = chunk.data if _is_sparse(chunk) else chunk
        # One float64 sum is NaN/inf exactly when some value is (or when finite values
        # overflow, which the exact mask then rules out): the common clean chunk costs one pass.
        if np.isfinite(values.sum(dtype=np.float64)):
            return
        cell, gene = _first_where(chunk, ~np.isfinite(values))
        if cell is not None and gene is not None:
            value = chunk[cell, gene]
            raise InputError(
                f"{self.source}: {value} value for gene {self.genes[gene]!r} in {_cell(first_cell + cell)}"
            )

    def _check_counts(self, chunk, first_cell: int) -> None:
        values = chunk.data if _is_sparse(chunk) else chunk
        if values.size and values.min() < 0:
            cell, gene = _first_where(chunk, values < 0)
            assert cell is not None and gene is not None  # min() < 0 found one
            raise InputError(
                f"{self.source}: negative value {chunk[cell, gene]:g} for gene {self.genes[gene]!r} in "
                f"{_cell(first_cell + cell)}; normalize={self.normalize!r} needs non-negative counts"
            )

    def _log1p(self, chunk, first_cell: int):
        self._check_counts(chunk, first_cell)
        if _is_sparse(chunk):
            chunk = chunk.copy()
            chunk.data = np.log1p(chunk.data)
            return chunk
        return np.log1p(chunk)

    def _normalize_total(self, chunk, first_cell: int):
        self._check_counts(chunk, first_cell)
        totals = np.asarray(chunk.sum(axis=1, dtype=np.float64)).ravel()
        empty = totals == 0
        if empty.any():
            self.excluded_cells += int(np.count_nonzero(empty))
            chunk = chunk[~empty]
            totals = totals[~empty]
        scale = TARGET_TOTAL / totals
        if _is_sparse(chunk):
            chunk = chunk.tocsr(copy=True) if chunk.format != "csr" else chunk.copy()
            chunk.data = np.log1p(chunk.data * np.repeat(scale, np.diff(chunk.indptr))).astype(np.float32)
            return chunk
        chunk = np.multiply(chunk, scale[:, None]).astype(np.float32)
        return np.log1p(chunk, out=chunk)


def array_chunks(
    values,
    genes: Sequence[str],
    *,
    chunk_cells: int | None = None,
    normalize: str | None = None,
    source: str = "<memory>",
) -> CellChunks:
    """Chunks of an in-memory cells x genes matrix.

    Args:
        values: ``[cells, genes]`` numpy array (any real dtype) or scipy sparse matrix.
        genes: gene names, one per column.
        chunk_cells: cells per chunk; ``None`` picks about :data:`CHUNK_BYTES` of dense float32.
        normalize: ``None``, ``"total"`` or ``"log1p"``.
        source: name used in messages.
    """
    if values.ndim != 2:
        raise InputError(f"{source}: expected a 2-D cells x genes matrix, got shape {values.shape}")
    if not _is_sparse(values):
        values = np.asarray(values)
    elif values.format not in ("csr", "csc"):
        values = values.tocsr()
    step = _chunk_cells(chunk_cells, values.shape[1])
    return _chunks(
        genes,
        values.shape[0],
        source,
        step,
        normalize,
        lambda first, last: (values[start : min(start + step, last)] for start in range(first, last, step)),
    )


def anndata_chunks(
    path,
    *,
    layer: str | None = None,
    use_raw: bool = False,
    chunk_cells: int | None = None,
    normalize: str | None = None,
) -> CellChunks:
    """Chunks of an AnnData file or store: ``.h5ad`` (read through h5py) or a zarr store
    (a directory), without loading the matrix.

    Args:
        path: an ``.h5ad`` file or an AnnData zarr store.
        layer: read ``layers/<layer>`` instead of X.
        use_raw: read ``raw/X`` (with ``raw/var`` gene names) instead of X.
        chunk_cells, normalize: as for :func:`array_chunks`.

    Raises:
        InputError: unreadable file, no X (or no such layer / no raw), a non-numeric matrix,
            ``layer`` together with ``use_raw``.
    """
    source = str(path)
    if layer is not None and use_raw:
        raise InputError(f"{source}: give a layer or use_raw, not both (raw has no layers)")
    opened = _open_anndata(path, source)
    try:
        matrix_key, var_key = ("raw/X", "raw/var") if use_raw else (f"layers/{layer}" if layer else "X", "var")
        if use_raw and "raw" not in opened:
            raise InputError(f"{source}: use_raw was asked but the file has no raw (raw/X)")
        if layer is not None and layer not in opened.get("layers", {}):
            layers = list(opened["layers"].keys()) if "layers" in opened else []
            raise InputError(f"{source}: no layer {layer!r} (layers: {preview(layers) if layers else 'none'})")
        if matrix_key not in opened:
            raise InputError(f"{source}: no {matrix_key} matrix in the AnnData store")
        genes = _var_names(opened, var_key, source)
        matrix = _matrix(opened[matrix_key], source, matrix_key)
        n_cells, n_genes = matrix.shape
        sparse = "indptr" in getattr(opened[matrix_key], "keys", lambda: ())()
        stored = int(opened[matrix_key]["data"].shape[0]) if sparse else n_cells * n_genes
    finally:
        _close(opened)
    if n_genes != len(genes):
        raise InputError(f"{source}: {matrix_key} has {n_genes} genes but {var_key} names {len(genes)}")
    step = _chunk_cells(chunk_cells, n_genes)

    def raw_chunks(first: int, last: int):
        store = _open_anndata(path, source)
        try:
            data = _matrix(store[matrix_key], source, matrix_key)
            if isinstance(data, _StoredCsc):
                yield from data.row_chunks(step, first, last)
                return
            for start in range(first, last, step):
                yield data[start : min(start + step, last)]
        finally:
            _close(store)

    chunks = _chunks(genes, n_cells, source, step, normalize, raw_chunks)
    chunks.stored_entries, chunks.sparse = stored, sparse
    return chunks


def parquet_chunks(path, *, chunk_cells: int | None = None, normalize: str | None = None) -> CellChunks:
    """Chunks of a Parquet file in the canonical cells-by-genes layout (an optional first string
    column of cell ids, then one numeric column per gene), read a record batch at a time.

    Raises:
        InputError: unreadable file, no numeric columns, a non-numeric gene column, duplicate genes.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = str(path)
    file = require_file(path, expected="a Parquet file")
    try:
        parquet = pq.ParquetFile(file)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"{source}: not a readable Parquet file: {_first_line(exc)}") from None
    schema = parquet.schema_arrow
    names = list(schema.names)
    first = (
        1
        if names and (pa.types.is_string(schema.field(0).type) or pa.types.is_large_string(schema.field(0).type))
        else 0
    )
    genes = names[first:]
    if not genes:
        raise InputError(f"{source}: no gene columns")
    for name in genes:
        kind = schema.field(name).type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_boolean(kind)):
            raise InputError(f"{source}: column {name!r} is not numeric ({kind}); expected the cells-by-genes layout")
    repeated = sorted({name for name in genes if genes.count(name) > 1}) if len(set(genes)) < len(genes) else []
    if repeated:
        raise InputError(f"{source}: duplicate gene names: {preview(repeated)}")
    step = _chunk_cells(chunk_cells, len(genes))

    def raw_chunks(first: int, last: int):
        reader = pq.ParquetFile(file)
        # Whole row groups are read from the one holding cell ``first``; rows before it are skipped.
        ends = np.cumsum([reader.metadata.row_group(i).num_rows for i in range(reader.num_row_groups)])
        group = int(np.searchsorted(ends, first, side="right"))
        cell = int(ends[group - 1]) if group else 0
        groups = list(range(group, reader.num_row_groups))
        for batch in reader.iter_batches(batch_size=step, columns=genes, row_groups=groups):
            lo, hi = max(first - cell, 0), min(last - cell, batch.num_rows)
            cell += batch.num_rows
            if hi <= lo:
                if cell >= last:
                    return
                continue
            chunk = np.empty((hi - lo, len(genes)), dtype=np.float32)
            for g, column in enumerate(batch.columns):
                # Missing values arrive as NaN and are reported by the finiteness check.
                chunk[:, g] = column.slice(lo, hi - lo).to_numpy(zero_copy_only=False)
            yield chunk
            if cell >= last:
                return

    chunks = _chunks(genes, parquet.metadata.num_rows, source, step, normalize, raw_chunks)
    chunks.stored_entries = chunks.n_cells * len(genes)
    return chunks


def open_cells(
    path,
    *,
    layer: str | None = None,
    use_raw: bool = False,
    normalize: str | None = None,
    chunk_cells: int | None = None,
) -> CellChunks:
    """A cells x genes file opened for reading a chunk of cells at a time: the one entry the
    CLI and the scoring engine use.

    Args:
        path: an ``.h5ad`` file or AnnData zarr store (a directory), read in backed mode, or a
            ``.parquet`` file in the cells-by-genes layout, read by record batches.
        layer, use_raw: AnnData only (see :func:`anndata_chunks`).
        normalize: ``None``, ``"total"`` or ``"log1p"``.
        chunk_cells: cells per chunk; ``None`` picks about :data:`CHUNK_BYTES` of dense float32.

    Raises:
        InputError: another file type, a layer or use_raw for Parquet, and everything the
            readers raise.
    """
    from pathlib import Path

    source = str(path)
    if Path(path).is_dir() or source.lower().endswith(".h5ad"):
        return anndata_chunks(path, layer=layer, use_raw=use_raw, chunk_cells=chunk_cells, normalize=normalize)
    if source.lower().endswith(".parquet"):
        if layer is not None or use_raw:
            raise InputError(f"{source}: layer and use_raw apply to AnnData (.h5ad, zarr), not Parquet")
        return parquet_chunks(path, chunk_cells=chunk_cells, normalize=normalize)
    raise InputError(f"{source}: chunked reading needs an .h5ad file, an AnnData zarr store or a .parquet file")


@dataclass
class DaskCells:
    """A dask array of cells x genes with its gene names: a modality whose PCC statistics are
    computed by :func:`deeptgi_rt.pcc.dask_reduce.dask_pcc_statistics` on the active scheduler.

    Attributes:
        array: dask array ``[cells, genes]`` (already preprocessed: no normalization is applied).
        genes: gene names, one per column.
        source: name used in messages.
        n_cells: cells before any were left out as zero-count (known when made by
            :meth:`CellChunks.to_dask`), else ``None``.
    """

    array: object
    genes: list[str]
    source: str = "<dask array>"
    n_cells: int | None = None

    def __post_init__(self):
        if self.array.ndim != 2 or self.array.shape[1] != len(self.genes):
            raise InputError(
                f"{self.source}: a dask array of cells x {len(self.genes)} genes is needed, "
                f"got shape {self.array.shape}"
            )
        self.genes = [str(g) for g in self.genes]


def _chunks(genes, n_cells: int, source: str, step: int, normalize, raw_chunks) -> CellChunks:
    if normalize not in NORMALIZATIONS:
        raise InputError(f"unknown normalize {normalize!r}; use None, 'total' or 'log1p'")
    return CellChunks(
        genes=[str(g) for g in genes],
        n_cells=int(n_cells),
        source=source,
        chunk_cells=step,
        normalize=normalize,
        _raw_chunks=raw_chunks,
    )


def _chunk_cells(chunk_cells: int | None, n_genes: int) -> int:
    if chunk_cells is None:
        return max(1, CHUNK_BYTES // (4 * max(int(n_genes), 1)))
    if int(chunk_cells) < 1:
        raise InputError(f"chunk_cells must be a positive integer, got {chunk_cells!r}")
    return int(chunk_cells)


def _open_anndata(path, source: str):
    """The root group of an h5ad file (h5py) or a zarr store."""
    from pathlib import Path

    from .inmemory import require_anndata

    # h5py, zarr and anndata's element readers all come with the anndata extra.
    require_anndata(f"{source}: reading an AnnData file (.h5ad, zarr) a chunk of cells at a time")

    if Path(path).is_dir():
        try:
            import zarr

            try:
                # Consolidated metadata can list elements deleted since it was written (a store
                # without X would look whole): read what is in the store itself.
                return zarr.open_group(str(path), mode="r", use_consolidated=False)
            except TypeError:  # zarr 2 has no use_consolidated and reads the store itself
                return zarr.open_group(str(path), mode="r")
        except Exception as exc:  # zarr raises many types for a directory that is not a store
            raise InputError(f"{source}: not a readable AnnData zarr store: {_first_line(exc)}") from None
    file = require_file(path, expected="an h5ad file or a zarr store")
    try:
        import h5py

        return h5py.File(file, "r")
    except OSError as exc:
        raise InputError(f"{source}: not a readable h5ad file: {_first_line(exc)}") from None


def _close(store) -> None:
    close = getattr(store, "close", None)
    if close is not None:
        close()


def _var_names(store, var_key: str, source: str) -> list[str]:
    read_elem = _anndata_io().read_elem
    if var_key not in store:
        raise InputError(f"{source}: no {var_key} (gene names) in the AnnData store")
    return [str(name) for name in read_elem(store[var_key]).index]


def _matrix(element, source: str, key: str):
    """A row-sliceable view of a stored matrix: a dense array, or anndata's backed sparse dataset
    (row slices of which are scipy CSR/CSC matrices)."""
    encoding = element.attrs.get("encoding-type", "")
    if encoding == "csc_matrix":
        return _StoredCsc(element)
    if encoding == "csr_matrix":
        return _anndata_io().sparse_dataset(element)
    if not hasattr(element, "dtype") or getattr(element, "ndim", 0) != 2:
        raise InputError(f"{source}: {key} is not a matrix (encoding {encoding or 'unknown'!r})")
    if not (np.issubdtype(element.dtype, np.number) or element.dtype == np.bool_):
        raise InputError(f"{source}: {key} has non-numeric dtype {element.dtype}")
    return element


class _StoredCsc:
    """A CSC matrix in an h5ad/zarr group, read by cells in bounded memory.

    Cells of a CSC matrix are scattered over every gene's column, so a block of cells costs a
    scan of the whole index (anndata's backed row slice instead loads the whole matrix per
    slice). The scan reads :data:`CSC_SLAB_ENTRIES` entries at a time and gathers a window of
    cells holding up to :data:`CSC_WINDOW_BYTES` of entries, so the file is read once per
    window, not once per chunk; CSR is the layout for atlases (read once in all).
    """

    def __init__(self, group):
        self.group = group
        self.shape = tuple(int(n) for n in group.attrs["shape"])
        self.indptr = np.asarray(group["indptr"][:], dtype=np.int64)

    def row_chunks(self, step: int, first: int, last: int):
        """Yield float32 CSR chunks of ``step`` consecutive cells of ``first:last``, in order."""
        entries_per_cell = max(1.0, self.indptr[-1] / max(self.shape[0], 1))
        window = max(step, int(CSC_WINDOW_BYTES / (8 * entries_per_cell)) // step * step)
        for w0 in range(first, last, window):
            block = self.rows(w0, min(w0 + window, last))
            for start in range(0, block.shape[0], step):
                yield block[start : start + step]

    def rows(self, start: int, stop: int):
        """Cells ``start:stop`` as a float32 CSR matrix ``[stop - start, genes]``."""
        import scipy.sparse as sp

        n_genes = self.shape[1]
        rows, cols, values = [], [], []
        gene = 0
        while gene < n_genes:
            end = int(np.searchsorted(self.indptr, self.indptr[gene] + CSC_SLAB_ENTRIES, side="right")) - 1
            end = min(max(end, gene + 1), n_genes)
            lo, hi = self.indptr[gene], self.indptr[end]
            cells = np.asarray(self.group["indices"][lo:hi])
            keep = (cells >= start) & (cells < stop)
            if keep.any():
                genes = np.repeat(np.arange(gene, end), np.diff(self.indptr[gene : end + 1]))
                rows.append(cells[keep] - start)
                cols.append(genes[keep])
                values.append(np.asarray(self.group["data"][lo:hi])[keep])
            gene = end
        if not rows:
            return sp.csr_matrix((stop - start, n_genes), dtype=np.float32)
        coo = sp.coo_matrix(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(stop - start, n_genes)
        )
        return coo.tocsr()


def _anndata_io():
    """anndata's element readers: ``anndata.io`` (0.11+) or ``anndata.experimental`` (0.10).

    Raises:
        InputError: anndata is not installed (naming the extra that brings it).
    """
    from .inmemory import require_anndata

    require_anndata("reading an AnnData file (.h5ad, zarr)")
    try:
        import anndata.io as io

        _ = io.sparse_dataset, io.read_elem  # the 0.11 names, or AttributeError
    except (ImportError, AttributeError):
        import anndata.experimental as io
    return io


def _block(cells: CellChunks, start: int, stop: int):
    """One dask block of :meth:`CellChunks.to_dask`: cells ``start:stop``, checked and normalized,
    as one float32 array or CSR matrix."""
    chunks = list(cells.cell_range(start, stop))
    if len(chunks) == 1:
        return chunks[0]
    if not chunks:
        return np.empty((0, len(cells.genes)), dtype=np.float32)
    if _is_sparse(chunks[0]):
        import scipy.sparse as sp

        return sp.vstack(chunks, format="csr")
    return np.concatenate(chunks)


def _as_float32(chunk):
    if _is_sparse(chunk):
        chunk = chunk.tocsr() if chunk.format not in ("csr", "csc") else chunk
        return chunk.astype(np.float32) if chunk.dtype != np.float32 else chunk
    return np.ascontiguousarray(chunk, dtype=np.float32)


def _first_where(chunk, mask: np.ndarray) -> tuple[int | None, int | None]:
    """(cell, gene) within ``chunk`` of the first True of ``mask`` in cell order; ``mask`` is
    over the dense values, or over ``chunk.data`` for a sparse chunk."""
    if not _is_sparse(chunk):
        hits = np.argwhere(mask)
        return (int(hits[0][0]), int(hits[0][1])) if len(hits) else (None, None)
    # tocoo() keeps the stored order of the entries, so ``mask`` indexes its rows and columns.
    coo = chunk.tocoo()
    entries = np.flatnonzero(mask)
    if not len(entries):
        return None, None
    first = entries[np.lexsort((coo.col[entries], coo.row[entries]))[0]]
    return int(coo.row[first]), int(coo.col[first])


def _is_sparse(chunk) -> bool:
    return hasattr(chunk, "tocsr") and hasattr(chunk, "nnz")


def _cell(index: int) -> str:
    return f"cell at row {index + 1}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
