"""How many threads to compute with: never more than the cores this process may use, nor
more than the environment allows (``OMP_NUM_THREADS`` and friends, as batch schedulers and
shared machines set them), for torch, numba and BLAS alike.

One thread more than there are free cores costs far more than it gains: on a 2-core machine
under a load average of 10-28, one lite cross-validation fold of mhsc-e (random protocol) took
211 s wall / 45 s CPU with 1 torch thread, and with 2 had not finished after 18 min wall and
220 s CPU, the threads waiting for each other at every small operator.
"""

from __future__ import annotations

import os

from .errors import InputError

# Each caps some library's threads; together they state what the environment grants.
ENV_LIMITS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a SLURM or cgroup cpuset)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """``min(available cores, every thread limit set in the environment)``, at least 1."""
    limits = [available_cores()]
    for name in ENV_LIMITS:
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            limits.append(int(value))
    return min(limits)


def resolve_threads(value, option: str = "--threads") -> int:
    """``value`` as a thread count: ``None`` or ``"auto"`` -> :func:`default_threads`, else a
    positive integer (an :class:`InputError` naming ``option`` otherwise)."""
    if value is None or str(value).strip().lower() == "auto":
        return default_threads()
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if count < 1:
        raise InputError(f"{option} {value}: give a positive number of threads or auto")
    return count


def limit_threads(threads: int) -> None:
    """Cap numba's parallel loops and the BLAS under numpy at ``threads`` for this process
    (torch is set where its training starts). Libraries that are not installed are skipped."""
    try:
        import numba
    except ImportError:
        pass
    else:
        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]  # set at import
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(limits=max(1, int(threads)))
