"""The CUDA kernels' tests (``tests/cuda_sim/``) in a pytest process with numba's CUDA simulator on.

The simulator must be switched on before numba.cuda is first imported, and in this process it
would make ``backend="cuda"`` accept a "GPU" in every later test. So ``tests/conftest.py``
keeps this run from collecting ``tests/cuda_sim/`` and this test runs it in a child pytest
with ``NUMBA_ENABLE_CUDASIM=1``; its output is shown when it fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

CUDA_SIM_TESTS = Path(__file__).resolve().parent / "cuda_sim"


def test_cuda_kernels_pass_under_the_simulator():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(CUDA_SIM_TESTS)],
        env=env,
        cwd=CUDA_SIM_TESTS.parents[1],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, output
    summary = done.stdout.strip().splitlines()[-1]
    assert re.match(r"\d+ passed(, \d+ warnings?)? in ", summary), output
