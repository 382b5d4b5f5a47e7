"""The CUDA kernels, run by numba's CUDA simulator, against the CPU backend.

The simulator must be switched on before numba.cuda is first imported, and it would make
``backend="auto"`` see a "GPU" in every later test, so the kernels run in a child process
with ``NUMBA_ENABLE_CUDASIM=1`` that prints its findings as JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TOLERANCE = 1e-5

CHILD = r"""
import json
import numpy as np
from deeptgi_rt.pcc import pcc_block, resolve_backend
from deeptgi_rt.pcc_cuda import pcc_block_cuda

rng = np.random.default_rng(0)
report = {"auto": resolve_backend("auto"), "cuda": resolve_backend("cuda"), "cases": {}}

def compare(name, rows, cols, block_rows, **sizes):
    calls = []
    gpu = pcc_block_cuda(rows, rows if cols is None else cols, block_rows, calls.append, **sizes)
    cpu = pcc_block(rows, cols, backend="cpu")
    report["cases"][name] = {
        "shape": list(gpu.shape), "dtype": str(gpu.dtype),
        "max_difference": float(np.abs(gpu.astype(np.float64) - cpu).max()) if gpu.size else 0.0,
        "symmetric": bool(np.array_equal(gpu, gpu.T)) if cols is None else None,
        "constant_rows_zero": bool(np.all(gpu[np.ptp(rows, axis=1) == 0] == 0)),
        "progress": calls,
    }

small = dict(threads_per_row=8, tile=4)
# 7 and 13 genes and 9 cells all straddle 4-wide tiles; 9 cells exceed the 8 threads per row.
rows = rng.normal(size=(7, 9)); rows[2] = 1.5
compare("ragged_tiles", rows, rng.normal(size=(13, 9)).astype(np.float32), 3, **small)
compare("exact_tiles", rng.normal(size=(8, 8)), rng.normal(size=(12, 8)), 4, **small)
# Fewer cells than threads per row; the symmetric path standardizes once.
sym = rng.normal(size=(10, 5)).astype(np.float32); sym[[0, 7]] = -3.0
compare("symmetric_with_constants", sym, None, 4, **small)
compare("strided_input", rng.normal(size=(6, 30))[:, ::3], rng.normal(size=(5, 10)), 6, **small)
compare("default_sizes", rng.normal(size=(3, 9)) + 100.0, None, 2)
compare("no_row_genes", np.empty((0, 4)), rng.normal(size=(3, 4)), 2, **small)
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


def test_simulator_is_never_chosen_by_auto_but_accepted_when_cuda_is_asked(simulated):
    assert simulated["auto"] == "cpu"
    assert simulated["cuda"] == "cuda"


@pytest.mark.parametrize("case", ["ragged_tiles", "exact_tiles", "symmetric_with_constants", "strided_input",
                                  "default_sizes"])
def test_kernels_match_cpu_backend(simulated, case):
    result = simulated["cases"][case]
    assert result["dtype"] == "float32"
    assert result["max_difference"] <= TOLERANCE
    assert result["constant_rows_zero"]


def test_shapes_and_progress_per_block(simulated):
    cases = simulated["cases"]
    assert cases["ragged_tiles"]["shape"] == [7, 13]
    assert cases["ragged_tiles"]["progress"] == [3, 3, 1]
    assert cases["symmetric_with_constants"]["progress"] == [4, 4, 2]
    assert cases["no_row_genes"]["shape"] == [0, 3]
    assert cases["no_row_genes"]["progress"] == []


def test_symmetric_product_is_exactly_symmetric(simulated):
    assert simulated["cases"]["symmetric_with_constants"]["symmetric"]
    assert simulated["cases"]["default_sizes"]["symmetric"]
