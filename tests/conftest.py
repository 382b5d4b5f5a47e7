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


SHARED_SKIP = (
    f"expected without the shared reference data: {SHARED_DATA} (../shared/data, the full BEELINE data sets "
    "kept outside the repository) is absent, so the tests that read it do not run"
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it are skipped where it is absent, all reported in one
    ``-ra`` line saying why that is expected (see :func:`pytest_runtest_makereport`)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(SHARED_SKIP)
    return SHARED_DATA


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Give every shared-data skip the same place (this file) so that ``-ra`` folds them into one
    line with their count, instead of one line per test that asked for the data."""
    outcome = yield
    report = outcome.get_result()
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and len(longrepr) == 3 and SHARED_SKIP in str(longrepr[2]):
        report.longrepr = (__file__, _SKIP_LINE, longrepr[2])


# The line of the skip in the fixture above (1-based, as -ra prints it).
_SKIP_LINE = next(n for n, line in enumerate(Path(__file__).read_text().splitlines(), 1) if "skip(SHARED_SKIP)" in line)
