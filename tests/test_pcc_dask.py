"""The dask reduction of the streaming PCC statistics equals the in-process engine.

The distributed case runs a real ``LocalCluster`` of two worker processes, so the blocks are
pickled to other interpreters and reduced there, as on a cluster of machines.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import scipy.sparse as sp

from deeptgi_rt.pcc import pcc_block
from deeptgi_rt.pcc.dask_reduce import environment_restored
from deeptgi_rt.pcc.streaming import PccStatistics

FEATURES = np.array([0, 3, 3, 11, 17, 29])


@pytest.fixture(autouse=True)
def _environment_kept():
    """A dask cluster sets OMP_NUM_THREADS=1 and the like in this process (for its workers)."""
    with environment_restored():
        yield


def anndata_like(cells=300, genes=30) -> np.ndarray:
    """log-normalized-looking counts, about 30 % non-zero, with a constant and a large-mean gene."""
    rng = np.random.default_rng(5)
    values = np.log1p(rng.negative_binomial(1, 0.7, size=(cells, genes)).astype(np.float32))
    values[:, 3] = 0.0
    values[:, 11] = 500.0 + rng.normal(size=cells).astype(np.float32) * 0.01
    return values


def in_process(values: np.ndarray, chunk_cells: int) -> np.ndarray:
    stats = PccStatistics(values.shape[1], None, FEATURES)
    for start in range(0, len(values), chunk_cells):
        stats.add(values[start : start + chunk_cells])
    return stats.pcc()


@pytest.mark.parametrize("blocks", ["dense", "csr"])
def test_local_scheduler_equals_in_process_engine(blocks):
    from deeptgi_rt.pcc.dask_reduce import dask_pcc_statistics

    values = anndata_like()
    array = da.from_array(values, chunks=(64, 7))
    if blocks == "csr":
        array = array.map_blocks(sp.csr_matrix, meta=sp.csr_matrix((0, 0), dtype=np.float32))
    stats = dask_pcc_statistics(array, None, FEATURES, split_every=2)
    assert stats.cells == 300
    result = stats.pcc()
    np.testing.assert_allclose(result, in_process(values, 64), rtol=0, atol=1e-6)
    np.testing.assert_allclose(result, pcc_block(values.T, values.T[FEATURES], backend="cpu"), rtol=0, atol=1e-5)
    assert np.all(result[:, 1:3] == 0) and np.all(result[3] == 0)


def test_distributed_local_cluster_equals_in_process_engine():
    import distributed

    from deeptgi_rt.pcc.dask_reduce import dask_pcc_statistics

    values = anndata_like()
    array = da.from_array(values, chunks=(50, 30))
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        stats = dask_pcc_statistics(array, None, FEATURES)
        workers_used = len(client.scheduler_info()["workers"])
    assert workers_used == 2
    np.testing.assert_allclose(stats.pcc(), in_process(values, 50), rtol=0, atol=1e-6)
