"""PCC of entity genes with feature genes, accumulated over chunks of cells.

The Pearson correlation of two genes needs only sums over cells: per gene the sum and the sum
of squares, per (entity, feature) pair the sum of products. All of them add up over cells, so
the cell axis can be streamed (one chunk in memory at a time) or split across machines, and the
PCC block is formed at the end from float64 statistics. Memory holds the statistics
(``[entities, features]`` float64 products plus a few vectors), one chunk and the output, never
cells x genes.

Numerics: one pass with a fixed per-gene shift. Every gene is shifted by its mean over the
first chunk (``shift``), so the sums are of ``x - shift`` and the covariance
``sum((x - shift_e)(y - shift_f)) - s_e s_f / n`` cancels only the small remainder of the
shift's error rather than ``n * mean_e * mean_f``; genes whose mean is many times their spread
stay exact. One pass rather than two because a second pass re-reads the whole input (a
compressed h5ad twice), and because fixed shifts keep every statistic a plain sum, so parts
computed on different machines with the same shift merge by addition (:meth:`merge`).
How the product is formed per chunk:

* dense chunks: both operands shifted into float32 copies, one float32 BLAS product per chunk
  (as the dense path does over all cells), added into the float64 products;
* sparse chunks: the entity operand stays sparse and unshifted, the feature operand (a few
  hundred to a thousand genes) is shifted dense; a numba kernel accumulates
  ``x_e * (y_f - shift_f)`` in float64 (each term exact), and ``shift_e * sum(y_f - shift_f)``
  is subtracted once at the end. Float64 accumulation is what keeps large-mean genes exact
  without shifting (and so densifying) the sparse operand.

Constant genes follow :func:`deeptgi_rt.pcc.pcc_block` exactly: a gene all of whose values
equal its first cell's value (counted exactly, not inferred from a rounded variance), or one
seen in fewer than 2 cells, correlates 0 with everything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange

if TYPE_CHECKING:
    from .cuda import DeviceProducts

# Sparse chunks at or above this fraction of non-zeros are densified and multiplied by BLAS.
# Measured (benchmarks/atlas.py, results/atlas.md) on the 2-core AMD EPYC (Zen 5, AVX-512)
# development machine, one thread, a chunk of 1,024 cells x 20,000 entity genes x 1,000 feature
# genes, CPU seconds in three runs: the float64 sparse kernel grows with the density (0.03-0.06 s
# at 1 %, 0.20-0.21 s at 6 %, 0.37-0.48 s at 15 %, 0.49-0.75 s at 20 %), densify + shift +
# float32 GEMM stays near 0.46-0.57 s (0.60-0.72 s at 100 %, where densifying itself costs);
# they cross between 15 % and 20 % in every run. Below, the sparse kernel wins (2.3x at 6 %, the
# density of 10x data); above, BLAS does.
DENSIFY_DENSITY = 0.18

# Genes handled together by the per-gene statistics kernel on row-major chunks: a block's
# float64 accumulators stay in L1 while the chunk's rows stream past.
_GENE_BLOCK = 256


@njit(parallel=True, cache=True, fastmath=False)
def _dense_statistics(chunk, shift, reference, sums, squares, differing):
    """Add one dense chunk's per-gene sums into the accumulators.

    chunk: float32 ``[cells, genes]`` C-contiguous; shift, reference: float64 ``[genes]``;
    sums, squares: float64 ``[genes]`` (+= sum(x - shift), sum((x - shift)**2));
    differing: int64 ``[genes]`` (+= number of cells with x != reference).
    """
    cells, genes = chunk.shape
    for block in prange((genes + _GENE_BLOCK - 1) // _GENE_BLOCK):
        start = block * _GENE_BLOCK
        stop = min(start + _GENE_BLOCK, genes)
        for c in range(cells):
            for g in range(start, stop):
                x = np.float64(chunk[c, g])
                d = x - shift[g]
                sums[g] += d
                squares[g] += d * d
                if x != reference[g]:
                    differing[g] += 1


@njit(parallel=True, cache=True, fastmath=False)
def _shifted_columns(chunk, columns, shift, out):
    """out[c, j] = float32(chunk[c, columns[j]] - shift[columns[j]]) for float32 ``[cells, genes]``
    ``chunk`` and float32 ``[cells, len(columns)]`` ``out``."""
    cells = chunk.shape[0]
    width = columns.shape[0]
    for c in prange(cells):
        for j in range(width):
            g = columns[j]
            out[c, j] = np.float32(np.float64(chunk[c, g]) - shift[g])


@njit(cache=True, fastmath=False)
def _sparse_statistics(indptr, indices, data, by_gene, cells, shift, reference, sums, squares, differing):
    """Add one sparse chunk's per-gene sums (implicit zeros count as values) into the accumulators.

    ``indptr``/``indices``/``data`` are CSC (``by_gene``: majors are genes) or CSR (majors are
    cells) arrays of a ``[cells, genes]`` chunk; accumulators as in :func:`_dense_statistics`.
    One serial pass over the non-zeros: it is a small fraction of the product's work.
    """
    genes = shift.shape[0]
    stored = np.zeros(genes, dtype=np.int64)
    for major in range(indptr.shape[0] - 1):
        for p in range(indptr[major], indptr[major + 1]):
            g = major if by_gene else indices[p]
            x = np.float64(data[p])
            d = x - shift[g]
            sums[g] += d
            squares[g] += d * d
            if x != reference[g]:
                differing[g] += 1
            stored[g] += 1
    for g in range(genes):
        zeros = cells - stored[g]
        sums[g] -= zeros * shift[g]
        squares[g] += zeros * shift[g] * shift[g]
        if reference[g] != 0.0:
            differing[g] += zeros


@njit(cache=True, fastmath=False)
def _sparse_shifted_columns(indptr, indices, data, by_gene, columns, slot_ptr, slots, shift, out):
    """Densify the chunk's genes ``columns`` shifted: float32 ``out[c, j] = x - shift[columns[j]]``
    (``[cells, len(columns)]``), ``-shift`` where the chunk holds no value.

    Gene ``g`` fills the columns ``slots[slot_ptr[g]:slot_ptr[g + 1]]`` (a gene may be listed
    more than once). Sparse layout as in :func:`_sparse_statistics`.
    """
    cells, width = out.shape
    fill = np.empty(width, dtype=np.float32)
    for j in range(width):
        fill[j] = np.float32(-shift[columns[j]])
    for c in range(cells):
        out[c, :] = fill
    for major in range(indptr.shape[0] - 1):
        for p in range(indptr[major], indptr[major + 1]):
            g = major if by_gene else indices[p]
            if slot_ptr[g] == slot_ptr[g + 1]:
                continue
            c = indices[p] if by_gene else major
            value = np.float32(np.float64(data[p]) - shift[g])
            for k in range(slot_ptr[g], slot_ptr[g + 1]):
                out[c, slots[k]] = value


# fastmath only for reassociation and FMA contraction: it lets LLVM vectorize the float64 row
# update across features (each term x * y of two float32 values is exact in float64 anyway).
@njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _sparse_products(indptr, indices, data, entity_columns, shifted_features, products):
    """products[e, :] += sum over the non-zeros x of entity column ``entity_columns[e]`` of the
    CSC chunk of ``x * shifted_features[cell, :]``, accumulated in float64.

    shifted_features: float32 ``[cells, features]`` C-contiguous; products: float64
    ``[entities, features]``. Entities run in parallel; each owns its output row.
    """
    features = shifted_features.shape[1]
    for e in prange(entity_columns.shape[0]):
        g = entity_columns[e]
        row = products[e]
        for p in range(indptr[g], indptr[g + 1]):
            x = np.float64(data[p])
            y = shifted_features[indices[p]]
            for f in range(features):
                row[f] += x * np.float64(y[f])


@njit(parallel=True, cache=True, fastmath=False)
def _correlations(
    products, entity_shift, feature_sums, entity_sums, feature_sums_all, entity_scale, feature_scale, cells, out
):
    """float32 ``out[e, f]`` = PCC from the accumulated statistics, clipped to [-1, 1].

    products: float64 ``[E, F]`` (sum of (x_e - shift_e or x_e) * (y_f - shift_f));
    entity_shift: float64 ``[E]``; feature_sums: float64 ``[F]`` (sum of the shifted features
    over sparse chunks, where x_e was left unshifted); entity_sums / feature_sums_all: float64
    ``[E]`` / ``[F]`` sums of shifted values over all cells; entity_scale / feature_scale: float64
    1/sqrt(centered sum of squares), 0 for constant genes.
    """
    entities, features = products.shape
    for e in prange(entities):
        a = entity_shift[e]
        s_e = entity_sums[e] / cells
        scale_e = entity_scale[e]
        for f in range(features):
            centered = products[e, f] - a * feature_sums[f] - s_e * feature_sums_all[f]
            r = centered * scale_e * feature_scale[f]
            out[e, f] = np.float32(min(1.0, max(-1.0, r)))


def _same_vector(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Whether two optional gene vectors are both absent or equal."""
    return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))


class PccStatistics:
    """Additive PCC statistics of entity genes x feature genes over the cells added so far.

    Chunks are cells x genes (all genes of the chunk's cells, in a fixed gene order), dense or
    scipy sparse. Typical use::

        stats = PccStatistics(n_genes, entity_columns, feature_columns)
        for chunk in chunks:
            stats.add(chunk)
        block = stats.pcc()          # float32 [entities, features]

    Args:
        n_genes: genes per chunk (columns of every chunk).
        entity_columns: int ``[E]`` gene positions of the entity genes (rows of the result);
            ``None`` means every gene in order.
        feature_columns: int ``[F]`` gene positions of the feature genes (columns of the result).
        shift, reference: float64 ``[n_genes]`` each; fixed per-gene shift and constant-test
            reference value. ``None`` (the default) takes them from the first chunk (its
            per-gene mean and its first cell). Give both to compute parts that :meth:`merge`.
        backend: ``"cpu"`` or ``"cuda"`` (dense chunk products on the GPU; sparse chunks are
            densified there).
        densify_density: sparse chunks with at least this fraction of non-zeros take the dense
            BLAS path (see :data:`DENSIFY_DENSITY`).

    Attributes:
        cells: cells added so far.
        chunks_dense, chunks_sparse: chunks multiplied by BLAS (or the GPU; densified sparse
            chunks included) and by the sparse kernel.
        sums, squares: float64 ``[n_genes]`` sums of ``x - shift`` and of its square.
        differing: int64 ``[n_genes]`` cells whose value differs from ``reference``.
        products: float64 ``[E, F]`` sums of entity x shifted feature values (entity values
            shifted in dense chunks, not in sparse ones; ``feature_sums`` corrects for those).
    """

    def __init__(
        self,
        n_genes: int,
        entity_columns=None,
        feature_columns=None,
        *,
        shift=None,
        reference=None,
        backend: str = "cpu",
        densify_density: float = DENSIFY_DENSITY,
    ):
        self.n_genes = int(n_genes)
        self.entity_columns = _columns(entity_columns, self.n_genes, "entity_columns")
        self.feature_columns = _columns(feature_columns, self.n_genes, "feature_columns")
        if backend not in ("cpu", "cuda"):
            raise ValueError(f"backend must be 'cpu' or 'cuda', got {backend!r}")
        self.backend = backend
        self.densify_density = float(densify_density)
        self.shift: np.ndarray | None = None if shift is None else _gene_vector(shift, self.n_genes, "shift")
        self.reference: np.ndarray | None = (
            None if reference is None else _gene_vector(reference, self.n_genes, "reference")
        )
        if (self.shift is None) != (self.reference is None):
            raise ValueError("give both shift and reference, or neither")
        self.cells = 0
        self.sums = np.zeros(self.n_genes)
        self.squares = np.zeros(self.n_genes)
        self.differing = np.zeros(self.n_genes, dtype=np.int64)
        self.feature_sums = np.zeros(len(self.feature_columns))
        self.products = np.zeros((len(self.entity_columns), len(self.feature_columns)))
        self.chunks_dense = 0
        self.chunks_sparse = 0
        self._device: DeviceProducts | None = None

    def add(self, chunk) -> None:
        """Add the cells of one chunk: a float ``[cells, n_genes]`` numpy array or scipy sparse
        matrix (CSR or CSC; other formats are converted)."""
        if chunk.ndim != 2 or chunk.shape[1] != self.n_genes:
            raise ValueError(f"chunk must be [cells, {self.n_genes}], got shape {chunk.shape}")
        if chunk.shape[0] == 0:
            return
        if _is_sparse(chunk):
            self._add_sparse(_canonical(chunk))
        else:
            chunk = np.ascontiguousarray(chunk, dtype=np.float32)
            self._start(chunk.mean(axis=0, dtype=np.float64), chunk[0].astype(np.float64))
            _dense_statistics(chunk, self.shift, self.reference, self.sums, self.squares, self.differing)
            entities = self._buffer("entity", chunk.shape[0], len(self.entity_columns))
            features = self._buffer("feature", chunk.shape[0], len(self.feature_columns))
            _shifted_columns(chunk, self.entity_columns, self.shift, entities)
            _shifted_columns(chunk, self.feature_columns, self.shift, features)
            self._add_dense_products(entities, features)
        self.cells += chunk.shape[0]

    def merge(self, other: PccStatistics) -> PccStatistics:
        """Add ``other``'s statistics into these (same genes, entities, features, shift and
        reference, as parts of one input split by cells); returns ``self``."""
        if self._device is not None or other._device is not None:
            self._collect_device()
            other._collect_device()
        if other.cells == 0:
            return self
        if self.cells == 0 and self.shift is None:
            assert other.shift is not None and other.reference is not None  # other has cells
            self.shift, self.reference = other.shift.copy(), other.reference.copy()
        same = (
            self.n_genes == other.n_genes
            and np.array_equal(self.entity_columns, other.entity_columns)
            and np.array_equal(self.feature_columns, other.feature_columns)
            and _same_vector(self.shift, other.shift)
            and _same_vector(self.reference, other.reference)
        )
        if not same:
            raise ValueError("statistics differ in genes, entities, features, shift or reference; cannot merge")
        self.cells += other.cells
        for name in ("sums", "squares", "differing", "feature_sums", "products"):
            getattr(self, name).__iadd__(getattr(other, name))
        self.chunks_dense += other.chunks_dense
        self.chunks_sparse += other.chunks_sparse
        return self

    def constant_genes(self) -> np.ndarray:
        """bool ``[n_genes]``: genes constant over the cells added (or fewer than 2 cells), the
        ones whose correlations are 0."""
        scale = self._inverse_norms()
        return scale == 0.0

    def pcc(self) -> np.ndarray:
        """float32 ``[entities, features]``: the PCC of each entity gene with each feature gene
        over all cells added, clipped to ``[-1, 1]``; constant genes give 0."""
        self._collect_device()
        scale = self._inverse_norms()
        out = np.empty(self.products.shape, dtype=np.float32)
        if out.size == 0:
            return out
        ent, feat = self.entity_columns, self.feature_columns
        shift = self.shift if self.shift is not None else np.zeros(self.n_genes)
        _correlations(
            self.products,
            shift[ent],
            self.feature_sums,
            self.sums[ent],
            self.sums[feat],
            scale[ent],
            scale[feat],
            float(max(self.cells, 1)),
            out,
        )
        return out

    # ----------------------------------------------------------------- internals

    def _inverse_norms(self) -> np.ndarray:
        """float64 ``[n_genes]``: 1 / sqrt(centered sum of squares), 0 for constant genes."""
        if self.cells < 2:
            return np.zeros(self.n_genes)
        centered = self.squares - self.sums * (self.sums / self.cells)
        varies = (self.differing > 0) & (centered > 0.0)
        scale = np.zeros(self.n_genes)
        scale[varies] = 1.0 / np.sqrt(centered[varies])
        # Non-finite input makes the sums NaN: keep NaN (as the dense path does), not 0.
        scale[np.isnan(centered)] = np.nan
        return scale

    def _start(self, shift: np.ndarray, reference: np.ndarray) -> None:
        if self.shift is None:
            self.shift, self.reference = shift, reference

    def _add_sparse(self, chunk) -> None:
        cells = chunk.shape[0]
        by_gene = chunk.format == "csc"
        if self.shift is None:
            mean = np.asarray(chunk.sum(axis=0, dtype=np.float64)).ravel() / cells
            self._start(mean, chunk[[0]].toarray().ravel().astype(np.float64))
        indptr = chunk.indptr.astype(np.int64, copy=False)
        _sparse_statistics(
            indptr,
            chunk.indices,
            chunk.data,
            by_gene,
            cells,
            self.shift,
            self.reference,
            self.sums,
            self.squares,
            self.differing,
        )
        features = self._shifted(chunk, indptr, by_gene, "feature")
        if self.backend == "cuda" or chunk.nnz >= self.densify_density * cells * self.n_genes:
            self._add_dense_products(self._shifted(chunk, indptr, by_gene, "entity"), features)
            return
        csc = chunk if by_gene else chunk.tocsc()
        self.feature_sums += features.sum(axis=0, dtype=np.float64)
        _sparse_products(
            csc.indptr.astype(np.int64, copy=False), csc.indices, csc.data, self.entity_columns, features, self.products
        )
        self.chunks_sparse += 1

    def _add_dense_products(self, entities: np.ndarray, features: np.ndarray) -> None:
        """products += entities.T @ features for float32 shifted ``[cells, E]`` and ``[cells, F]``."""
        if self.backend == "cuda":
            if self._device is None:
                from .cuda import DeviceProducts

                self._device = DeviceProducts(self.products.shape)
            self._device.add(entities, features)
        else:
            # float32 per chunk (BLAS speed), float64 across chunks: the rounding of one
            # chunk's sum never grows with the number of cells. The reused output buffer
            # spares a fresh [E, F] allocation (and its page faults) per chunk.
            block = self._buffer("block", *self.products.shape)
            np.matmul(entities.T, features, out=block)
            self.products += block
        self.chunks_dense += 1

    def _buffer(self, name: str, rows: int, cols: int) -> np.ndarray:
        """A float32 ``[rows, cols]`` scratch array, reused across chunks of the same size."""
        buffers = self.__dict__.setdefault("_buffers", {})
        buffer = buffers.get(name)
        if buffer is None or buffer.shape != (rows, cols):
            buffer = buffers[name] = np.empty((rows, cols), dtype=np.float32)
        return buffer

    def _shifted(self, chunk, indptr, by_gene: bool, which: str) -> np.ndarray:
        """The sparse chunk's entity (or feature) genes densified and shifted, float32 ``[cells, width]``."""
        columns = self.entity_columns if which == "entity" else self.feature_columns
        out = self._buffer(which, chunk.shape[0], len(columns))
        slots = np.argsort(columns, kind="stable")
        slot_ptr = np.zeros(self.n_genes + 1, dtype=np.int64)
        np.cumsum(np.bincount(columns, minlength=self.n_genes), out=slot_ptr[1:])
        _sparse_shifted_columns(indptr, chunk.indices, chunk.data, by_gene, columns, slot_ptr, slots, self.shift, out)
        return out

    def _collect_device(self) -> None:
        if self._device is not None:
            self.products += self._device.collect()
            self._device = None


def streamed_pcc(
    chunks: Iterable,
    n_genes: int,
    entity_columns=None,
    feature_columns=None,
    *,
    backend: str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """PCC of entity genes with feature genes over every cell of ``chunks``.

    Args:
        chunks: iterable of float ``[cells, n_genes]`` numpy arrays or scipy sparse matrices.
        n_genes, entity_columns, feature_columns, backend: see :class:`PccStatistics`.
        progress: optional ``advance(cells)`` called after each chunk.

    Returns:
        ``(pcc, constant)``: float32 ``[entities, features]`` and bool ``[n_genes]`` (the genes
        whose correlations are 0 because they are constant).
    """
    stats = PccStatistics(n_genes, entity_columns, feature_columns, backend=backend)
    for chunk in chunks:
        stats.add(chunk)
        if progress is not None:
            progress(chunk.shape[0])
    return stats.pcc(), stats.constant_genes()


def _canonical(chunk):
    """``chunk`` as float32 CSR or CSC without duplicate entries (a copy only when needed)."""
    if chunk.format not in ("csr", "csc"):
        chunk = chunk.tocsr()
    if chunk.dtype != np.float32:
        chunk = chunk.astype(np.float32)
    if not chunk.has_canonical_format:
        chunk = chunk.copy()
        chunk.sum_duplicates()
    return chunk


def _is_sparse(chunk) -> bool:
    return hasattr(chunk, "tocsc") and hasattr(chunk, "nnz")


def _columns(columns, n_genes: int, name: str) -> np.ndarray:
    if columns is None:
        return np.arange(n_genes, dtype=np.int64)
    columns = np.asarray(columns, dtype=np.int64).ravel()
    if len(columns) and (columns.min() < 0 or columns.max() >= n_genes):
        raise ValueError(f"{name} must be gene positions in [0, {n_genes})")
    return columns


def _gene_vector(values, n_genes: int, name: str) -> np.ndarray:
    values = np.array(values, dtype=np.float64).ravel()
    if len(values) != n_genes:
        raise ValueError(f"{name} must have one value per gene ({n_genes}), got {len(values)}")
    return values
