"""Shared fixtures: paths to the shared reference data and to the repo's small slices.

Also keeps ``tests/cuda_sim/`` out of every run that does not have numba's CUDA simulator on:
``tests/test_pcc_cuda_sim.py`` runs it in a child pytest with ``NUMBA_ENABLE_CUDASIM=1``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"
CUDA_SIM_TESTS = Path(__file__).resolve().parent / "cuda_sim"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip collecting ``tests/cuda_sim/`` unless this process started with the simulator on."""
    if collection_path == CUDA_SIM_TESTS and os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        return True
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it are skipped where it is absent, all with the same
    reason and place, so that ``-ra`` reports them in one line saying why that is expected."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"expected without the shared reference data: {SHARED_DATA} (../shared/data, the full BEELINE data "
            "sets kept outside the repository) is absent, so the tests that read it do not run"
        )
    return SHARED_DATA
