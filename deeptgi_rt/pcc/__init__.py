"""Blocked Pearson correlation (PCC) between gene expression profiles: the public entry point.

Each gene row is standardized once (float64 statistics, float32 result) so that the PCC of two
genes is the dot product of their standardized rows; a block of PCCs is then one float32 matrix
product. Row genes are processed a block at a time, so memory holds the output, one block of
standardized row genes and the standardized column genes, never a genes x genes matrix that
was not asked for. Backends: ``"cpu"`` (numba + BLAS, :mod:`deeptgi_rt.pcc.cpu`) and ``"cuda"``
(numba CUDA kernels, :mod:`deeptgi_rt.pcc.cuda`), the same results to float32 rounding.
Importing this package loads neither numba nor numba.cuda; each backend is imported on first use.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import InputError

BACKENDS = ("auto", "cpu", "cuda")

# Bytes of standardized row genes per block. Each BLAS call re-packs the whole column operand,
# so blocks must be large for the product to run at full speed (20,000 x 1,000 genes x 5,000
# cells: ~8% slower than one unblocked GEMM with 1,024-row blocks, ~1% with 4,096); the budget
# still bounds memory to a fraction of a genome-wide input.
_BLOCK_BYTES = 128 * 2**20
_MIN_BLOCK_ROWS = 256


def pcc_block(
    row_values: np.ndarray,
    col_values: np.ndarray | None = None,
    *,
    backend: str = "auto",
    block_rows: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """PCC of every row gene with every column gene over cells.

    Args:
        row_values: float32 or float64 ``[row_genes, cells]`` (any strides; other real dtypes
            are read as float64).
        col_values: float32 or float64 ``[col_genes, cells]``; ``None`` (or ``row_values``
            itself) means the symmetric ``row_genes x row_genes`` matrix, which is computed
            from its upper block triangle and is exactly symmetric.
        backend: ``"auto"``, ``"cpu"`` or ``"cuda"``; see :func:`resolve_backend`.
        block_rows: row genes per block (bounds memory); ``None`` picks one from the number of cells.
        progress: optional ``advance(n)``, called after each block with the row genes it finished.

    Returns:
        float32 ``[row_genes, col_genes]`` in ``[-1, 1]``; a constant gene correlates 0 with
        everything (itself included). Non-finite inputs give NaN rows and columns.

    Raises:
        InputError: ``backend`` is unknown, or ``"cuda"`` without a working GPU.
        ValueError: the arrays are not 2-D, or their numbers of cells differ.
    """
    symmetric = col_values is None or col_values is row_values
    row_values = _as_matrix(row_values, "row_values")
    col_values = row_values if symmetric else _as_matrix(col_values, "col_values")
    if row_values.shape[1] != col_values.shape[1]:
        raise ValueError(f"row_values has {row_values.shape[1]} cells but col_values has {col_values.shape[1]}")
    if block_rows is None:
        block_rows = default_block_rows(row_values.shape[1])
    elif int(block_rows) < 1:
        raise ValueError(f"block_rows must be a positive integer, got {block_rows!r}")
    block_rows = int(block_rows)

    if resolve_backend(backend) == "cuda":
        from .cuda import pcc_block_cuda

        return pcc_block_cuda(row_values, col_values, block_rows, progress=progress)
    from .cpu import pcc_block_cpu

    return pcc_block_cpu(row_values, None if symmetric else col_values, block_rows, progress=progress)


def default_block_rows(cells: int) -> int:
    """Row genes per block for profiles of ``cells`` values: about 128 MiB of float32, at least 256."""
    return max(_MIN_BLOCK_ROWS, _BLOCK_BYTES // (4 * max(int(cells), 1)))


def constant_gene_mask(values: np.ndarray) -> np.ndarray:
    """bool ``[genes]``: True for genes whose profile in ``values`` (real ``[genes, cells]``) is constant.

    These are the genes :func:`pcc_block` gives correlation 0 with everything.
    """
    from .cpu import constant_rows, kernel_input

    return constant_rows(kernel_input(_as_matrix(values, "values")))


# Probe outcomes per process: allow_simulator -> the reason CUDA cannot run (None: it can), and
# "auto" -> whether a CUDA device is present at all.
_probe_cache: dict = {}


def resolve_backend(backend: str) -> str:
    """The backend that ``backend`` (``"auto"``, ``"cpu"`` or ``"cuda"``) runs on: ``"cpu"`` or ``"cuda"``.

    ``"auto"`` gives ``"cuda"`` only when a real GPU is present and a tiny kernel runs on it;
    numba's CUDA simulator never counts for ``"auto"``, though an explicit ``"cuda"`` accepts it.
    On a machine without a CUDA device (:func:`deeptgi_rt.devices.cuda_device_present`)
    ``"auto"`` is the CPU without importing numba.cuda. The probe runs once per process.

    Raises:
        InputError: ``backend`` is not one of the three, or is ``"cuda"`` and no GPU works.
    """
    if backend not in BACKENDS:
        raise InputError(f"unknown PCC backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend == "cpu":
        return "cpu"
    allow_simulator = backend == "cuda"
    if not allow_simulator and "auto" not in _probe_cache:
        from ..devices import cuda_device_present

        # Without a CUDA device "auto" is the CPU, and importing numba.cuda to probe would cost
        # most of a second of start-up (more on a cold disk) for nothing.
        _probe_cache["auto"] = cuda_device_present()
    if not allow_simulator and not _probe_cache["auto"]:
        return "cpu"
    if allow_simulator not in _probe_cache:
        _probe_cache[allow_simulator] = _cuda_unavailable_reason(allow_simulator)
    reason = _probe_cache[allow_simulator]
    if reason is None:
        return "cuda"
    if backend == "cuda":
        raise InputError(f"device='cuda' requested but no working CUDA GPU was found: {reason}", parameter="device")
    return "cpu"


def _cuda_unavailable_reason(allow_simulator: bool) -> str | None:
    try:
        from .cuda import cuda_unavailable_reason
    except Exception as error:  # missing bindings, broken toolkit: all mean "no CUDA here"
        return f"numba CUDA support cannot be imported ({' '.join(str(error).split())})"
    return cuda_unavailable_reason(allow_simulator=allow_simulator)


def _as_matrix(values, name: str) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"{name} must be 2-D [genes, cells], got shape {values.shape}")
    if not (
        np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer) or values.dtype == np.bool_
    ):
        raise ValueError(f"{name} must hold real numbers, got dtype {values.dtype}")
    return values
