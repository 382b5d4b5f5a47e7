"""Streaming PCC statistics of a dask array of cells x genes, on whatever scheduler is active.

Each block of cells becomes one packed float64 vector of :class:`~deeptgi_rt.pcc.streaming.PccStatistics`
(``map_blocks``); the vectors are summed by dask's tree reduction (``sum(split_every=...)``), so
no worker ever holds more than a block and a few packed statistics. All blocks use the same
per-gene shift and constant-test reference, taken from the first block before the graph runs,
which is what makes the statistics plain sums (see :mod:`deeptgi_rt.pcc.streaming`). With a
``distributed`` client set as default, the blocks run on its workers, on as many machines as it has.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from .streaming import PccStatistics

# Packed vectors summed per node of the reduction tree: bounds a worker's memory to a few
# [entities, features] float64 products.
SPLIT_EVERY = 4


def dask_pcc_statistics(
    array, entity_columns=None, feature_columns=None, *, split_every: int = SPLIT_EVERY
) -> PccStatistics:
    """The PCC statistics of every cell of ``array``.

    Args:
        array: dask array ``[cells, genes]`` of real numbers, numpy or scipy-sparse blocks, any
            chunking (the gene axis is rechunked to one block: a block must hold whole cells).
        entity_columns, feature_columns: int gene positions; see :class:`PccStatistics`.
        split_every: packed statistics summed per reduction node.

    Returns:
        A :class:`PccStatistics` holding the sums over all cells; ``.pcc()`` gives the float32
        ``[entities, features]`` block.
    """
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D cells x genes dask array, got {array.ndim}-D")
    n_genes = int(array.shape[1])
    array = array.rechunk({1: -1})
    template = PccStatistics(n_genes, entity_columns, feature_columns)
    first = array.blocks[0].compute()
    template.add(first)
    shift, reference = template.shift, template.reference
    length = _packed_length(template)
    packed = array.map_blocks(
        _block_statistics,
        n_genes,
        template.entity_columns,
        template.feature_columns,
        shift,
        reference,
        dtype=np.float64,
        chunks=((1,) * array.numblocks[0], (length,)),
        meta=np.empty((0, 0), dtype=np.float64),
    )
    total = packed.sum(axis=0, split_every=split_every).compute()
    return _unpack(total, n_genes, template.entity_columns, template.feature_columns, shift, reference)


def dask_client(address: str):
    """A ``distributed.Client`` for ``address`` (``"local"``: a local cluster of one-thread
    workers), set as dask's default scheduler until it is closed.

    Raises:
        InputError: no ``distributed`` package, or no scheduler answering at ``address``
            (``parameter="dask_scheduler"``).
    """
    from ..errors import InputError

    try:
        from distributed import Client
    except ImportError:
        raise InputError(
            "dask_scheduler= needs the distributed package (pip install distributed)", parameter="dask_scheduler"
        ) from None
    try:
        with environment_restored():
            if address == "local":
                return Client(threads_per_worker=1, dashboard_address=None)
            # A short connect timeout: an unreachable address should fail in seconds, not minutes.
            return Client(address, timeout="5s")
    except (OSError, TimeoutError, ValueError) as error:
        message = " ".join(str(error).split()) or type(error).__name__
        raise InputError(
            f"dask_scheduler='{address}': cannot connect to a dask scheduler ({message[:200]})",
            parameter="dask_scheduler",
        ) from None


@contextlib.contextmanager
def dask_session(address: str | None):
    """Yield a connected client for ``address`` (closed at exit), or ``None`` for no address."""
    if address is None:
        yield None
        return
    client = dask_client(address)
    try:
        yield client
    finally:
        client.close()


@contextlib.contextmanager
def environment_restored():
    """Put this process's environment back as it was: starting a dask cluster sets
    OMP_NUM_THREADS=1 and the like here (meant for its worker processes), which would pin
    every later thread pool of an embedding program to one thread."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for key in set(os.environ) - set(saved):
            del os.environ[key]
        os.environ.update(saved)


def _block_statistics(block, n_genes, entity_columns, feature_columns, shift, reference) -> np.ndarray:
    """float64 ``[1, L]``: one block's statistics, packed."""
    stats = PccStatistics(n_genes, entity_columns, feature_columns, shift=shift, reference=reference)
    stats.add(block)
    return _pack(stats)[None, :]


_COUNTS = ("cells", "chunks_dense", "chunks_sparse")
_VECTORS = ("sums", "squares", "differing", "feature_sums", "products")


def _packed_length(stats: PccStatistics) -> int:
    return len(_COUNTS) + sum(getattr(stats, name).size for name in _VECTORS)


def _pack(stats: PccStatistics) -> np.ndarray:
    stats._collect_device()
    # Counts travel as float64, exact up to 2**53 cells.
    parts = [np.array([getattr(stats, name) for name in _COUNTS], dtype=np.float64)]
    parts += [getattr(stats, name).astype(np.float64, copy=False).ravel() for name in _VECTORS]
    return np.concatenate(parts)


def _unpack(packed: np.ndarray, n_genes, entity_columns, feature_columns, shift, reference) -> PccStatistics:
    stats = PccStatistics(n_genes, entity_columns, feature_columns, shift=shift, reference=reference)
    for name, value in zip(_COUNTS, packed[: len(_COUNTS)]):
        setattr(stats, name, int(value))
    offset = len(_COUNTS)
    for name in _VECTORS:
        target = getattr(stats, name)
        target[...] = packed[offset : offset + target.size].reshape(target.shape)
        offset += target.size
    return stats
