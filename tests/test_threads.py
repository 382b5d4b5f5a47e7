"""Thread counts: the default never exceeds the usable cores or a limit the environment sets."""

from __future__ import annotations

import pytest

from deeptgi_rt import threads
from deeptgi_rt.errors import InputError


@pytest.fixture()
def clean_env(monkeypatch):
    for name in threads.ENV_LIMITS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_default_is_the_usable_cores_capped_by_the_environment(clean_env):
    cores = threads.available_cores()
    assert threads.default_threads() == cores
    clean_env.setenv("OMP_NUM_THREADS", "1")
    assert threads.default_threads() == 1
    clean_env.setenv("OMP_NUM_THREADS", str(cores + 7))
    assert threads.default_threads() == cores
    clean_env.setenv("OPENBLAS_NUM_THREADS", "1")
    assert threads.default_threads() == 1
    clean_env.setenv("OPENBLAS_NUM_THREADS", "")  # empty or junk values are no limit
    clean_env.setenv("MKL_NUM_THREADS", "many")
    assert threads.default_threads() == cores


def test_resolve_threads(clean_env):
    clean_env.setenv("OMP_NUM_THREADS", "1")
    assert threads.resolve_threads("auto") == threads.resolve_threads(None) == 1
    assert threads.resolve_threads("3") == threads.resolve_threads(3) == 3
    for bad in ("0", "-2", "two"):
        with pytest.raises(InputError, match=f"--threads {bad}: give a positive number"):
            threads.resolve_threads(bad)


def test_limit_threads_caps_numba_and_blas():
    numba = pytest.importorskip("numba")
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before_numba = numba.get_num_threads()
    before_blas = threadpoolctl.threadpool_info()
    try:
        threads.limit_threads(1)
        assert numba.get_num_threads() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpoolctl.threadpool_info())
    finally:
        numba.set_num_threads(before_numba)
        for pool in before_blas:
            threadpoolctl.threadpool_limits(limits=pool["num_threads"], user_api=pool["user_api"])


def test_train_threads_default_follows_omp_num_threads(clean_env):
    pytest.importorskip("torch")
    from deeptgi_train import cli

    applied = []
    clean_env.setattr(threads, "limit_threads", applied.append)
    clean_env.setenv("OMP_NUM_THREADS", "1")
    args = cli.build_parser().parse_args(["fit", "--expr", "e.parquet", "--labels", "l.csv", "--out", "m.onnx"])
    _, train = cli._configs(args)
    assert train.threads == 1 and applied == [1]
    args = cli.build_parser().parse_args(["cv", "--expr", "e", "--labels", "l", "--threads", "2"])
    _, train = cli._configs(args)
    assert train.threads == 2 and applied == [1, 2]


def test_scoring_sessions_follow_the_default(clean_env):
    from deeptgi_rt.devices import session_options

    clean_env.setenv("OMP_NUM_THREADS", "1")
    assert session_options().intra_op_num_threads == 1
    assert session_options(3).intra_op_num_threads == 3
