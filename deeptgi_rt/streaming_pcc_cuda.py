"""GPU cross-products for the streaming PCC statistics (numba CUDA).

Imported only when :class:`deeptgi_rt.streaming_pcc.PccStatistics` runs with ``backend="cuda"``,
so ``numba.cuda`` costs nothing elsewhere. The kernel also runs under numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``, set before this module is first imported), which is how the tests
exercise it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32

# Edge of the square output tiles: a TILE x TILE thread block owns a TILE x TILE patch of the
# products and walks the chunk's cells TILE at a time through shared memory.
TILE = 16


@cuda.jit
def accumulate_products(entities, features, products):
    """products[e, f] += sum over cells c of entities[c, e] * features[c, f].

    entities: float32 ``[cells, E]``; features: float32 ``[cells, F]`` (both shifted, so the
    float32 sum over one chunk keeps its digits); products: float64 ``[E, F]``, the running
    total over chunks. Thread (ty, tx) of block (bx, by) owns products[by*TILE + ty, bx*TILE + tx];
    tiles are loaded along the gene axis so neighbouring threads read neighbouring addresses.
    """
    # The extra column keeps threads reading a tile's column in distinct shared-memory banks.
    entity_tile = cuda.shared.array((TILE, TILE + 1), float32)
    feature_tile = cuda.shared.array((TILE, TILE + 1), float32)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    e0 = cuda.blockIdx.y * TILE
    f0 = cuda.blockIdx.x * TILE
    cells = entities.shape[0]
    n_entities = entities.shape[1]
    n_features = features.shape[1]
    acc = float32(0.0)
    for c0 in range(0, cells, TILE):
        c = c0 + ty
        entity_tile[ty, tx] = entities[c, e0 + tx] if c < cells and e0 + tx < n_entities else float32(0.0)
        feature_tile[ty, tx] = features[c, f0 + tx] if c < cells and f0 + tx < n_features else float32(0.0)
        cuda.syncthreads()
        for k in range(TILE):
            acc += entity_tile[k, ty] * feature_tile[k, tx]
        cuda.syncthreads()
    e = e0 + ty
    f = f0 + tx
    if e < n_entities and f < n_features:
        products[e, f] += acc


class DeviceProducts:
    """The ``[E, F]`` float64 product accumulator kept on the GPU across chunks."""

    def __init__(self, shape: tuple[int, int]):
        self.shape = tuple(shape)
        self.products = cuda.to_device(np.zeros(self.shape, dtype=np.float64))

    def add(self, entities: np.ndarray, features: np.ndarray) -> None:
        """Add ``entities.T @ features`` (float32 ``[cells, E]`` and ``[cells, F]``, shifted)."""
        n_entities, n_features = self.shape
        if entities.shape[0] == 0 or n_entities == 0 or n_features == 0:
            return
        grid = (math.ceil(n_features / TILE), math.ceil(n_entities / TILE))
        accumulate_products[grid, (TILE, TILE)](cuda.to_device(np.ascontiguousarray(entities)),
                                                cuda.to_device(np.ascontiguousarray(features)), self.products)

    def collect(self) -> np.ndarray:
        """float64 ``[E, F]``: the products accumulated on the device, copied to the host."""
        return self.products.copy_to_host()
