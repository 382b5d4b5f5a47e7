"""CUDA backend of the PCC core: numba CUDA kernels for standardization and the tiled product.

``numba.cuda`` is imported only inside functions, so importing this module (or
:mod:`deeptgi_rt`) costs nothing on machines without a GPU. The kernels also run under numba's
CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``), which is how the tests exercise them.
"""

from __future__ import annotations

import functools
import math

import numpy as np

# Threads per gene row in the standardization kernel (a power of two, for the tree reduction).
STANDARDIZE_THREADS = 128
# Edge of the square tiles of the product kernel: a TILE x TILE thread block computes a
# TILE x TILE patch of the output, walking the cells TILE at a time through shared memory.
TILE = 16


def cuda_unavailable_reason(*, allow_simulator: bool = False) -> str | None:
    """Why the CUDA backend cannot run here (one line), or ``None`` if it can.

    A GPU counts only if the driver initializes and a tiny kernel runs and returns the right
    answer. With ``allow_simulator``, numba's CUDA simulator counts too.
    """
    try:
        cuda = _cuda()
    except Exception as error:  # missing bindings, broken toolkit: all mean "no CUDA here"
        return f"numba CUDA support cannot be imported ({error})"
    if _simulator_enabled():
        return None if allow_simulator else "only numba's CUDA simulator is enabled (NUMBA_ENABLE_CUDASIM)"
    try:
        if not cuda.is_available():
            return " ".join(str(cuda.cuda_error() or "no CUDA device or NVVM found").split())
        probe = _kernels(STANDARDIZE_THREADS, TILE).add_one
        values = cuda.to_device(np.arange(4, dtype=np.float32))
        probe[1, 4](values)
        if not np.array_equal(values.copy_to_host(), np.arange(1, 5, dtype=np.float32)):
            return "a test kernel returned wrong results"
    except Exception as error:
        return f"a test kernel failed to run ({' '.join(str(error).split())})"
    return None


def pcc_block_cuda(row_values: np.ndarray, col_values: np.ndarray, block_rows: int, progress=None, *,
                   threads_per_row: int = STANDARDIZE_THREADS, tile: int = TILE) -> np.ndarray:
    """PCC of each row gene with each column gene on the GPU, one block of row genes at a time.

    Args:
        row_values: real ``[row_genes, cells]``.
        col_values: real ``[col_genes, cells]``; passing ``row_values`` itself standardizes once.
        block_rows: row genes per device block.
        progress: optional ``advance(n)`` called with the row genes finished by each block.
        threads_per_row: threads standardizing one gene row (a power of two).
        tile: edge of the square output tiles of the product kernel.

    Returns:
        float32 ``[row_genes, col_genes]`` clipped to ``[-1, 1]``; constant genes give 0.
    """
    from .pcc_cpu import kernel_input

    if threads_per_row < 1 or threads_per_row & (threads_per_row - 1):
        raise ValueError(f"threads_per_row must be a power of two, got {threads_per_row}")
    if tile < 1:
        raise ValueError(f"tile must be a positive integer, got {tile}")
    cuda = _cuda()
    kernels = _kernels(threads_per_row, tile)
    symmetric = col_values is row_values
    rows, cells = row_values.shape
    cols = col_values.shape[0]
    out = np.empty((rows, cols), dtype=np.float32)
    if rows == 0 or cols == 0:
        return out

    z_cols = cuda.device_array((cols, cells), dtype=np.float32)
    _standardize_on_device(kernels, cuda.to_device(kernel_input(col_values)), z_cols)
    # The grid's y extent (row tiles per launch) is limited to 65,535 blocks.
    block_rows = min(block_rows, rows, 65535 * tile)
    z_block = None if symmetric else cuda.device_array((block_rows, cells), dtype=np.float32)
    out_block = cuda.device_array((block_rows, cols), dtype=np.float32)
    for start in range(0, rows, block_rows):
        stop = min(start + block_rows, rows)
        n = stop - start
        if symmetric:
            z_rows = z_cols[start:stop]
        else:
            z_rows = z_block[:n]
            _standardize_on_device(kernels, cuda.to_device(kernel_input(row_values[start:stop])), z_rows)
        grid = (math.ceil(cols / tile), math.ceil(n / tile))
        kernels.correlate_tiles[grid, (tile, tile)](z_rows, z_cols, out_block[:n])
        out_block[:n].copy_to_host(out[start:stop])
        if progress is not None:
            progress(n)
    return out


def _standardize_on_device(kernels, values, z) -> None:
    if values.shape[0]:
        kernels.standardize_rows[values.shape[0], kernels.threads](values, z)


def _cuda():
    from numba import cuda

    return cuda


def _simulator_enabled() -> bool:
    try:
        from numba.cuda.core import config
    except ImportError:
        from numba import config
    return bool(config.ENABLE_CUDASIM)


@functools.lru_cache(maxsize=None)
def _kernels(threads: int, tile: int):
    """Kernels for ``threads`` per standardized row and ``tile`` x ``tile`` product tiles.

    Built here, compiled on first launch, so that numba.cuda is imported only when needed; the
    sizes are compile-time constants of the kernels (shared memory shapes).
    """
    from types import SimpleNamespace

    # A module global, not a local: numba's simulator runs kernels by swapping the fake cuda
    # module into the kernel's globals.
    global cuda
    cuda = _cuda()
    float32 = np.float32
    float64 = np.float64

    @cuda.jit
    def add_one(values):
        i = cuda.grid(1)
        if i < values.shape[0]:
            values[i] += 1

    @cuda.jit(device=True)
    def block_sum(partial, t):
        """Tree-reduce ``partial`` (shared float64 ``[threads]``) so ``partial[0]`` is the total."""
        step = threads // 2
        while step > 0:
            if t < step:
                partial[t] += partial[t + step]
            cuda.syncthreads()
            step //= 2

    @cuda.jit
    def standardize_rows(values, z):
        """One thread block per gene row: float64 mean and centered sum of squares, float32 z.

        values: float32/float64 [genes, cells]; z: float32 [genes, cells], zero for constant rows.
        """
        g = cuda.blockIdx.x
        t = cuda.threadIdx.x
        cells = values.shape[1]
        partial = cuda.shared.array(threads, float64)
        first = values[g, 0] if cells > 0 else 0.0
        total = 0.0
        varies = 0
        for k in range(t, cells, threads):
            x = values[g, k]
            total += float64(x)
            if x != first:
                varies = 1
        partial[t] = total
        cuda.syncthreads()
        block_sum(partial, t)
        mean = partial[0] / cells if cells > 0 else 0.0
        cuda.syncthreads()
        squares = 0.0
        for k in range(t, cells, threads):
            d = float64(values[g, k]) - mean
            squares += d * d
        partial[t] = squares
        cuda.syncthreads()
        block_sum(partial, t)
        centered_sum_squares = partial[0]
        # Every thread takes the same branch: the predicate is reduced over the block.
        constant = cuda.syncthreads_or(varies) == 0 or cells < 2 or centered_sum_squares <= 0.0
        scale = 0.0 if constant else 1.0 / math.sqrt(centered_sum_squares)
        for k in range(t, cells, threads):
            z[g, k] = float32((float64(values[g, k]) - mean) * scale)

    @cuda.jit
    def correlate_tiles(z_rows, z_cols, out):
        """out[i, j] = clip(sum_k z_rows[i, k] * z_cols[j, k], -1, 1), float32 throughout.

        Thread (ty, tx) of block (bx, by) owns out[by*TILE + ty, bx*TILE + tx]; both operands
        pass through shared memory a TILE x TILE tile at a time, loaded along the cells so
        neighbouring threads read neighbouring addresses.
        """
        # The extra column keeps threads of a warp reading col_tile[tx, kk] in distinct banks.
        row_tile = cuda.shared.array((tile, tile + 1), float32)
        col_tile = cuda.shared.array((tile, tile + 1), float32)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        row0 = cuda.blockIdx.y * tile
        col0 = cuda.blockIdx.x * tile
        rows = z_rows.shape[0]
        cols = z_cols.shape[0]
        cells = z_rows.shape[1]
        acc = float32(0.0)
        for k0 in range(0, cells, tile):
            k = k0 + tx
            row_tile[ty, tx] = z_rows[row0 + ty, k] if row0 + ty < rows and k < cells else float32(0.0)
            col_tile[ty, tx] = z_cols[col0 + ty, k] if col0 + ty < cols and k < cells else float32(0.0)
            cuda.syncthreads()
            for kk in range(tile):
                acc += row_tile[ty, kk] * col_tile[tx, kk]
            cuda.syncthreads()
        i = row0 + ty
        j = col0 + tx
        if i < rows and j < cols:
            out[i, j] = min(max(acc, float32(-1.0)), float32(1.0))

    return SimpleNamespace(add_one=add_one, standardize_rows=standardize_rows, correlate_tiles=correlate_tiles,
                           threads=threads, tile=tile)
