"""The streaming statistics' CUDA product kernel, run by numba's CUDA simulator, against the CPU path.

The simulator must be switched on before numba.cuda is first imported, so the kernel runs in a
child process with ``NUMBA_ENABLE_CUDASIM=1`` that prints its findings as JSON. Shapes are tiny:
the simulator runs every GPU thread as a Python thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CHILD = r"""
import json
import numpy as np
import scipy.sparse as sp
from deeptgi_rt.pcc import pcc_block
from deeptgi_rt.streaming_pcc import PccStatistics

rng = np.random.default_rng(0)
# 37 cells and 21 genes straddle the 16-wide tiles; gene 3 is constant, gene 5 has a mean
# 1e4 x its spread, feature 7 is listed twice.
values = rng.normal(size=(37, 21)).astype(np.float32)
values[:, 3] = 2.0
values[:, 5] = 1000.0 + values[:, 5] * 0.1
features = np.array([0, 3, 5, 7, 7, 20])
report = {}
for name, kind in [("dense", np.asarray), ("csr", sp.csr_matrix)]:
    results = {}
    for backend in ("cpu", "cuda"):
        stats = PccStatistics(21, None, features, backend=backend, densify_density=2.0)
        for start in range(0, 37, 10):
            stats.add(kind(values[start:start + 10]))
        results[backend] = stats.pcc()
    dense = pcc_block(values.T, values.T[features], backend="cpu")
    report[name] = {
        "dtype": str(results["cuda"].dtype), "shape": list(results["cuda"].shape),
        "cuda_vs_cpu": float(np.abs(results["cuda"] - results["cpu"]).max()),
        "cuda_vs_dense_path": float(np.abs(results["cuda"] - dense).max()),
        "constant_zero": bool(np.all(results["cuda"][3] == 0) and np.all(results["cuda"][:, 1] == 0)),
    }
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def simulated() -> dict:
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=repo, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("chunks", ["dense", "csr"])
def test_cuda_products_equal_cpu_path(simulated, chunks):
    result = simulated[chunks]
    assert result["dtype"] == "float32" and result["shape"] == [21, 6]
    assert result["cuda_vs_cpu"] <= 1e-6
    assert result["cuda_vs_dense_path"] <= 1e-5
    assert result["constant_zero"]
