"""CUDA backend of the PCC core: numba CUDA kernels for standardization and the tiled product.

Importing this module imports ``numba.cuda`` (about a second, more on a cold start), so
:mod:`deeptgi_rt.pcc` imports it only when the CUDA backend is probed or used; importing
:mod:`deeptgi_rt` or :mod:`deeptgi_rt.pcc` costs nothing on machines without a GPU. The
kernels also run under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` before numba.cuda
is first imported), which is how the tests in ``tests/cuda_sim/`` exercise them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numba import cuda

from .cpu import kernel_input

# Threads per gene row in the standardization kernel (a power of two, for the tree reduction),
# and the most it can be launched with: its shared memory is sized for this many.
STANDARDIZE_THREADS = 128
# Edge of the square tiles of the product kernel: a TILE x TILE thread block computes a
# TILE x TILE patch of the output, walking the cells TILE at a time through shared memory. A
# compile-time constant: it sizes shared memory and lets the hot inner loop be unrolled.
TILE = 16
# The grid's y extent (row tiles per launch) is limited to 65,535 blocks.
_MAX_GRID_Y = 65535
# Kernels are cached on disk (``cache=True``, in ``__pycache__`` or numba's user cache, one entry
# per compute capability): a later run loads their code instead of compiling it again.


@cuda.jit(cache=True)
def add_one(values):
    """``values += 1`` for float32 ``[n]`` on the device: the probe of a working GPU."""
    i = cuda.grid(1)
    if i < values.shape[0]:
        values[i] += 1


@cuda.jit(device=True)
def block_sum(partial, t):
    """Tree-reduce the first ``blockDim.x`` values of ``partial`` (shared float64) so ``partial[0]`` is their total."""
    step = cuda.blockDim.x // 2
    while step > 0:
        if t < step:
            partial[t] += partial[t + step]
        cuda.syncthreads()
        step //= 2


@cuda.jit(cache=True)
def standardize_rows(values, z):
    """One block per gene row: float64 mean and centered sum of squares, float32
    ``z = (x - mean) / sqrt(sum((x - mean)**2))``.

    values: float32/float64 [genes, cells]; z: float32 [genes, cells], zero for constant rows.
    Launched with a power of two of at most STANDARDIZE_THREADS threads per block.
    """
    g = cuda.blockIdx.x
    t = cuda.threadIdx.x
    threads = cuda.blockDim.x
    cells = values.shape[1]
    partial = cuda.shared.array(STANDARDIZE_THREADS, np.float64)
    first = values[g, 0] if cells > 0 else 0.0
    total = 0.0
    varies = 0
    for k in range(t, cells, threads):
        x = values[g, k]
        total += np.float64(x)
        if x != first:
            varies = 1
    partial[t] = total
    cuda.syncthreads()
    block_sum(partial, t)
    mean = partial[0] / cells if cells > 0 else 0.0
    cuda.syncthreads()
    squares = 0.0
    for k in range(t, cells, threads):
        d = np.float64(values[g, k]) - mean
        squares += d * d
    partial[t] = squares
    cuda.syncthreads()
    block_sum(partial, t)
    centered_sum_squares = partial[0]
    # Every thread takes the same branch: the predicate is reduced over the block.
    constant = cuda.syncthreads_or(varies) == 0 or cells < 2 or centered_sum_squares <= 0.0
    scale = 0.0 if constant else 1.0 / math.sqrt(centered_sum_squares)
    for k in range(t, cells, threads):
        z[g, k] = np.float32((np.float64(values[g, k]) - mean) * scale)


@cuda.jit(device=True)
def tile_dot(row_tile, col_tile, ty, tx, acc):
    """``acc + sum_kk row_tile[ty, kk] * col_tile[tx, kk]`` over one TILE of cells (float32).

    The inner loop of both tiled products (:func:`correlate_tiles`, :func:`accumulate_products`):
    each stores its shared-memory tiles as ``[gene within tile, cell within tile]``, so one
    device function (inlined by the compiler) serves both.
    """
    for kk in range(TILE):
        acc += row_tile[ty, kk] * col_tile[tx, kk]
    return acc


@cuda.jit(cache=True)
def correlate_tiles(z_rows, z_cols, out):
    """out[i, j] = clip(sum_k z_rows[i, k] * z_cols[j, k], -1, 1), float32 throughout.

    z_rows: float32 [rows, cells]; z_cols: float32 [cols, cells]; out: float32 [rows, cols].
    Thread (ty, tx) of block (bx, by) owns out[by*TILE + ty, bx*TILE + tx]; both operands
    pass through shared memory a TILE x TILE tile at a time, loaded along the cells so
    neighbouring threads read neighbouring addresses.
    """
    # The extra column keeps threads of a warp reading col_tile[tx, kk] in distinct banks.
    row_tile = cuda.shared.array((TILE, TILE + 1), np.float32)
    col_tile = cuda.shared.array((TILE, TILE + 1), np.float32)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    row0 = cuda.blockIdx.y * TILE
    col0 = cuda.blockIdx.x * TILE
    rows = z_rows.shape[0]
    cols = z_cols.shape[0]
    cells = z_rows.shape[1]
    acc = np.float32(0.0)
    for k0 in range(0, cells, TILE):
        k = k0 + tx
        row_tile[ty, tx] = z_rows[row0 + ty, k] if row0 + ty < rows and k < cells else np.float32(0.0)
        col_tile[ty, tx] = z_cols[col0 + ty, k] if col0 + ty < cols and k < cells else np.float32(0.0)
        cuda.syncthreads()
        acc = tile_dot(row_tile, col_tile, ty, tx, acc)
        cuda.syncthreads()
    i = row0 + ty
    j = col0 + tx
    if i < rows and j < cols:
        out[i, j] = min(max(acc, np.float32(-1.0)), np.float32(1.0))


@cuda.jit(cache=True)
def accumulate_products(entities, features, products):
    """products[e, f] += sum over cells c of entities[c, e] * features[c, f] (streaming statistics).

    entities: float32 ``[cells, E]``; features: float32 ``[cells, F]`` (both shifted, so the
    float32 sum over one chunk keeps its digits); products: float64 ``[E, F]``, the running
    total over chunks. Thread (ty, tx) of block (bx, by) owns products[by*TILE + ty, bx*TILE + tx].
    The chunk is cells-major, so tiles are read along the genes (neighbouring threads,
    neighbouring addresses) and stored transposed, ``[gene, cell]``, as :func:`tile_dot` takes them.
    """
    entity_tile = cuda.shared.array((TILE, TILE + 1), np.float32)
    feature_tile = cuda.shared.array((TILE, TILE + 1), np.float32)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    e0 = cuda.blockIdx.y * TILE
    f0 = cuda.blockIdx.x * TILE
    cells = entities.shape[0]
    n_entities = entities.shape[1]
    n_features = features.shape[1]
    acc = np.float32(0.0)
    for c0 in range(0, cells, TILE):
        c = c0 + ty
        entity_tile[tx, ty] = entities[c, e0 + tx] if c < cells and e0 + tx < n_entities else np.float32(0.0)
        feature_tile[tx, ty] = features[c, f0 + tx] if c < cells and f0 + tx < n_features else np.float32(0.0)
        cuda.syncthreads()
        acc = tile_dot(entity_tile, feature_tile, ty, tx, acc)
        cuda.syncthreads()
    e = e0 + ty
    f = f0 + tx
    if e < n_entities and f < n_features:
        products[e, f] += acc


def cuda_unavailable_reason(*, allow_simulator: bool = False) -> str | None:
    """Why the CUDA backend cannot run here (one line), or ``None`` if it can.

    A GPU counts only if the driver initializes and :func:`add_one` runs and returns the right
    answer. With ``allow_simulator``, numba's CUDA simulator counts too.
    """
    if simulator_enabled():
        return None if allow_simulator else "only numba's CUDA simulator is enabled (NUMBA_ENABLE_CUDASIM)"
    try:
        if not cuda.is_available():
            return " ".join(str(cuda.cuda_error() or "no CUDA device or NVVM found").split())
        values = cuda.to_device(np.arange(4, dtype=np.float32))
        add_one[1, 4](values)
        if not np.array_equal(values.copy_to_host(), np.arange(1, 5, dtype=np.float32)):
            return "a test kernel returned wrong results"
    except Exception as error:
        return f"a test kernel failed to run ({' '.join(str(error).split())})"
    return None


def simulator_enabled() -> bool:
    """Whether numba.cuda is its CPU simulator (``NUMBA_ENABLE_CUDASIM=1`` when it was imported)."""
    try:
        from numba.cuda.core import config
    except ImportError:
        from numba import config
    return bool(config.ENABLE_CUDASIM)


def pcc_block_cuda(
    row_values: np.ndarray,
    col_values: np.ndarray,
    block_rows: int,
    progress: Callable[[int], None] | None = None,
    *,
    threads_per_row: int = STANDARDIZE_THREADS,
) -> np.ndarray:
    """PCC of each row gene with each column gene on the GPU, one block of row genes at a time.

    Args:
        row_values: real ``[row_genes, cells]``.
        col_values: real ``[col_genes, cells]``; passing ``row_values`` itself standardizes once.
        block_rows: row genes per device block.
        progress: optional ``advance(n)`` called with the row genes finished by each block.
        threads_per_row: threads standardizing one gene row, a power of two up to
            :data:`STANDARDIZE_THREADS` (fewer keep the simulator's Python threads few in tests).

    Returns:
        float32 ``[row_genes, col_genes]`` clipped to ``[-1, 1]``; constant genes give 0.
    """
    if not 1 <= threads_per_row <= STANDARDIZE_THREADS or threads_per_row & (threads_per_row - 1):
        raise ValueError(f"threads_per_row must be a power of two up to {STANDARDIZE_THREADS}, got {threads_per_row}")
    symmetric = col_values is row_values
    rows, cells = row_values.shape
    cols = col_values.shape[0]
    out = np.empty((rows, cols), dtype=np.float32)
    if rows == 0 or cols == 0:
        return out

    z_cols = cuda.device_array((cols, cells), dtype=np.float32)
    _standardize_on_device(cuda.to_device(kernel_input(col_values)), z_cols, threads_per_row)
    block_rows = min(block_rows, rows, _MAX_GRID_Y * TILE)
    z_block = None if symmetric else cuda.device_array((block_rows, cells), dtype=np.float32)
    out_block = cuda.device_array((block_rows, cols), dtype=np.float32)
    for start in range(0, rows, block_rows):
        stop = min(start + block_rows, rows)
        n = stop - start
        if symmetric:
            z_rows = z_cols[start:stop]
        else:
            assert z_block is not None
            z_rows = z_block[:n]
            _standardize_on_device(cuda.to_device(kernel_input(row_values[start:stop])), z_rows, threads_per_row)
        grid = (math.ceil(cols / TILE), math.ceil(n / TILE))
        correlate_tiles[grid, (TILE, TILE)](z_rows, z_cols, out_block[:n])
        out_block[:n].copy_to_host(out[start:stop])
        if progress is not None:
            progress(n)
    return out


def _standardize_on_device(values, z, threads: int) -> None:
    """Launch :func:`standardize_rows` over the device arrays ``values`` into ``z``: one block of
    ``threads`` per row."""
    if values.shape[0]:
        standardize_rows[values.shape[0], threads](values, z)


class DeviceProducts:
    """The ``[E, F]`` float64 product accumulator of :class:`~deeptgi_rt.pcc.streaming.PccStatistics`
    kept on the GPU across chunks."""

    def __init__(self, shape: tuple[int, int]):
        self.shape = tuple(shape)
        self.products = cuda.to_device(np.zeros(self.shape, dtype=np.float64))

    def add(self, entities: np.ndarray, features: np.ndarray) -> None:
        """Add ``entities.T @ features`` (float32 ``[cells, E]`` and ``[cells, F]``, shifted)."""
        n_entities, n_features = self.shape
        if entities.shape[0] == 0 or n_entities == 0 or n_features == 0:
            return
        grid = (math.ceil(n_features / TILE), math.ceil(n_entities / TILE))
        accumulate_products[grid, (TILE, TILE)](
            cuda.to_device(np.ascontiguousarray(entities)),
            cuda.to_device(np.ascontiguousarray(features)),
            self.products,
        )

    def collect(self) -> np.ndarray:
        """float64 ``[E, F]``: the products accumulated on the device, copied to the host."""
        return self.products.copy_to_host()
