"""The streaming statistics' CUDA product kernel (numba CUDA simulator) against the CPU path.

Runs in the simulator pytest process started by ``tests/test_pcc_cuda_sim.py`` (see
``tests/cuda_sim/test_pcc_cuda_kernels.py``). Shapes are tiny: the simulator runs every GPU
thread as a Python thread.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from deeptgi_rt.pcc import pcc_block
from deeptgi_rt.pcc.cuda import simulator_enabled
from deeptgi_rt.pcc.streaming import PccStatistics

# 37 cells and 21 genes straddle the 16-wide tiles; gene 3 is constant, gene 5 has a mean
# 1e4 x its spread, feature 7 is listed twice.
FEATURES = np.array([0, 3, 5, 7, 7, 20])


@pytest.fixture(autouse=True, scope="module")
def _simulator_is_on():
    if not simulator_enabled():
        pytest.fail("tests/cuda_sim needs NUMBA_ENABLE_CUDASIM=1 set before numba.cuda is imported")


def _values() -> np.ndarray:
    values = np.random.default_rng(0).normal(size=(37, 21)).astype(np.float32)
    values[:, 3] = 2.0
    values[:, 5] = 1000.0 + values[:, 5] * 0.1
    return values


@pytest.mark.parametrize("kind", [np.asarray, sp.csr_matrix], ids=["dense", "csr"])
def test_cuda_products_equal_cpu_path(kind):
    values = _values()
    results = {}
    for backend in ("cpu", "cuda"):
        stats = PccStatistics(21, None, FEATURES, backend=backend, densify_density=2.0)
        for start in range(0, 37, 10):
            stats.add(kind(values[start : start + 10]))
        results[backend] = stats.pcc()
    cuda = results["cuda"]
    assert cuda.dtype == np.float32 and cuda.shape == (21, 6)
    assert np.abs(cuda - results["cpu"]).max() <= 1e-6
    assert np.abs(cuda - pcc_block(values.T, values.T[FEATURES], backend="cpu")).max() <= 1e-5
    assert np.all(cuda[3] == 0) and np.all(cuda[:, 1] == 0)
