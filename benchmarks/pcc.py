"""Speed and memory of deeptgi_rt's PCC core next to the machine's GEMM limit, numpy and pandas.

    python benchmarks/pcc.py [--out benchmarks/results/pcc.json] [--quick] [--repeats N]

Shapes (genes x cells): the real mhsc-e data (354 x 1,071, full genes x genes matrix), a
synthetic 2,000 x 5,000 full matrix, and 20,000 row genes x 1,000 column genes x 5,000 cells
(the genome x feature-genes shape of scoring). ``--quick`` shrinks the synthetic shapes for a
smoke run. Methods:

- ``pcc_block``: deeptgi_rt.pcc.pcc_block on the CPU backend, numba already compiled.
- ``gemm``: a bare float32 ``np.matmul(rows, cols.T, out=...)`` into a preallocated output, the
  machine's limit for the product. For a full matrix the operand is the same array on both
  sides, for which numpy calls SYRK (half the flops of a general GEMM).
- ``numpy.corrcoef`` (float64) and ``pandas.DataFrame.corr``: measured where they fit in a
  minute and in memory; otherwise estimated from a smaller shape by their cost law, and marked so.

Times are the best of N runs. Peak memory is what tracemalloc sees (numpy reports its array
allocations to it; BLAS work buffers are not included), in a separate untimed run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "pcc.json"
PANDAS_LIMIT_SECONDS = 60.0


@dataclass
class Shape:
    name: str
    rows: np.ndarray
    cols: np.ndarray | None  # None: the full rows x rows matrix

    @property
    def description(self) -> str:
        n_cols = len(self.rows) if self.cols is None else len(self.cols)
        return f"{len(self.rows):,} x {n_cols:,} genes, {self.rows.shape[1]:,} cells"


@dataclass
class Measurement:
    shape: str
    method: str
    seconds: float
    repeats: int
    cpu_seconds: float | None = None
    estimated: bool = False
    peak_mib: float | None = None
    note: str = ""
    ratio_to_gemm: float | None = None
    cpu_ratio_to_gemm: float | None = None
    speedup_vs_numpy: float | None = None
    speedup_vs_pandas: float | None = None


def best_time(run, repeats: int) -> float:
    """Best wall time of ``repeats`` calls of ``run()``."""
    return best_times(run, repeats)[0]


def timed(shape: str, method: str, run, repeats: int, **fields) -> Measurement:
    """A measured (not estimated) row: best wall and CPU time of ``repeats`` calls, then peak memory."""
    wall, cpu = best_times(run, repeats)
    fields.setdefault("peak_mib", peak_mib(run))
    return Measurement(shape, method, wall, repeats, cpu_seconds=cpu, **fields)


def best_times(run, repeats: int) -> tuple[float, float]:
    """Best wall time and best process CPU time (all threads) of ``repeats`` calls of ``run()``.

    On a shared machine the CPU time is the steadier figure: other processes stretch the wall
    time of multi-threaded code far more than the work it does.
    """
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        run()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu


def peak_mib(run) -> float:
    """Peak tracemalloc-visible allocation of one call of ``run()``, in MiB."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (peak - base) / 2**20


def load_mhsc_e() -> np.ndarray:
    """float32 [354 genes, 1071 cells] from the shared mhsc-e data (cells x genes on disk)."""
    import polars as pl

    path = SHARED_DATA / "mhsc-e" / "expression.csv"
    if not path.is_file():
        sys.exit(f"benchmarks/pcc.py: error: {path} not found (the shared data lives next to the repo)")
    return np.ascontiguousarray(pl.read_csv(path).to_numpy().T, dtype=np.float32)


def synthetic(genes: int, cells: int, seed: int) -> np.ndarray:
    """float32 [genes, cells] standard-normal profiles."""
    return np.random.default_rng(seed).standard_normal((genes, cells), dtype=np.float32)


def shapes(quick: bool) -> list[Shape]:
    if quick:
        return [
            Shape("mhsc-e", load_mhsc_e(), None),
            Shape("synthetic-full", synthetic(1000, 2000, 1), None),
            Shape("synthetic-rows-x-features", synthetic(4000, 2000, 2), synthetic(500, 2000, 3)),
        ]
    return [
        Shape("mhsc-e", load_mhsc_e(), None),
        Shape("synthetic-full", synthetic(2000, 5000, 1), None),
        Shape("synthetic-rows-x-features", synthetic(20000, 5000, 2), synthetic(1000, 5000, 3)),
    ]


def measure_shape(shape: Shape, repeats: int, block_rows: int | None) -> list[Measurement]:
    from deeptgi_rt.pcc import pcc_block

    rows, cols = shape.rows, shape.cols
    full = cols is None
    other = rows if full else cols
    genes_total = len(rows) + (0 if full else len(cols))
    results: list[Measurement] = []

    # deeptgi_rt
    run = lambda: pcc_block(rows, cols, backend="cpu", block_rows=block_rows)  # noqa: E731
    run()
    results.append(timed(shape.name, "pcc_block", run, repeats))

    # The machine's limit: the product alone, into a preallocated output.
    out = np.empty((len(rows), len(other)), dtype=np.float32)
    run = lambda out=out: np.matmul(rows, other.T, out=out)  # noqa: E731
    run()
    gemm_note = "same operand both sides: numpy uses SYRK" if full else "general SGEMM"
    results.append(timed(shape.name, "gemm", run, repeats, note=gemm_note))
    del out

    # numpy.corrcoef: only one full matrix of everything; on rows x features it would compute
    # (rows + features)^2 correlations, so estimate it from the 2,000-gene-like cost law instead.
    if full:
        run = lambda: np.corrcoef(rows)  # noqa: E731
        results.append(timed(shape.name, "numpy.corrcoef", run, repeats))
    else:
        probe = np.vstack([rows[:1500], other[:500]])
        seconds = best_time(lambda: np.corrcoef(probe), max(1, repeats - 1))
        estimate = seconds * (genes_total / len(probe)) ** 2
        results.append(
            Measurement(
                shape.name,
                "numpy.corrcoef",
                estimate,
                0,
                estimated=True,
                note=f"not run: it would compute a {genes_total:,}^2 float64 matrix "
                f"({genes_total**2 * 8 / 2**30:.1f} GiB); estimated from {len(probe):,} genes x (genes ratio)^2",
            )
        )

    # pandas.DataFrame.corr: pairwise loops without BLAS, cost ~ genes^2 x cells.
    results.append(measure_pandas(shape, rows, other, full, genes_total, repeats))
    return results


def measure_pandas(shape: Shape, rows, other, full: bool, genes_total: int, repeats: int) -> Measurement:
    import pandas as pd

    values = rows if full else np.vstack([rows, other])
    probe_genes = min(len(values), 300)
    probe = pd.DataFrame(values[:probe_genes].T)
    probe_seconds = best_time(probe.corr, 1)
    estimate = probe_seconds * (genes_total / probe_genes) ** 2
    if probe_genes == len(values):
        frame = probe
    elif estimate <= PANDAS_LIMIT_SECONDS:
        frame = pd.DataFrame(values.T)
    else:
        return Measurement(
            shape.name,
            "pandas.DataFrame.corr",
            estimate,
            0,
            estimated=True,
            note=f"not run (estimated over {PANDAS_LIMIT_SECONDS:.0f} s): "
            f"extrapolated from {probe_genes} genes x (genes ratio)^2",
        )
    pandas_repeats = repeats if estimate < 5 else 1
    return timed(
        shape.name,
        "pandas.DataFrame.corr",
        frame.corr,
        pandas_repeats,
        peak_mib=peak_mib(frame.corr) if estimate < 20 else None,
        note="computes the full (rows + features)^2 matrix" if not full else "",
    )


def add_ratios(results: list[Measurement]) -> None:
    by_method = {m.method: m for m in results}
    gemm = by_method["gemm"]
    for m in results:
        m.ratio_to_gemm = m.seconds / gemm.seconds
        if m.cpu_seconds is not None:
            m.cpu_ratio_to_gemm = m.cpu_seconds / gemm.cpu_seconds
    by_method = {m.method: m.seconds for m in results}
    ours = by_method["pcc_block"]
    pcc = next(m for m in results if m.method == "pcc_block")
    pcc.speedup_vs_numpy = by_method["numpy.corrcoef"] / ours
    pcc.speedup_vs_pandas = by_method["pandas.DataFrame.corr"] / ours


def environment() -> dict:
    import numba

    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "cpu_count": os.cpu_count(),
        "cpu": _cpu_model(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE", "(unset)"),
        "load_average_before": os.getloadavg(),
    }
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {
                key: pool.get(key)
                for key in ("internal_api", "version", "architecture", "num_threads", "threading_layer")
            }
            for pool in threadpool_info()
        ]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def print_table(results: list[Measurement], shape_names: dict[str, str], env: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 150))
    table = Table(title="PCC: deeptgi_rt.pcc_block (cpu) vs bare float32 GEMM, numpy, pandas")
    for column in (
        "shape",
        "method",
        "runs",
        "time s",
        "x GEMM",
        "CPU s",
        "x GEMM CPU",
        "vs numpy",
        "vs pandas",
        "peak MiB",
        "note",
    ):
        table.add_column(column, justify="left" if column in ("shape", "method", "note") else "right", no_wrap=True)
    notes: list[str] = []
    for m in results:
        if m.note and m.note not in notes:
            notes.append(m.note)
        table.add_row(
            m.shape if m.method == "pcc_block" else "",
            m.method,
            "est." if m.estimated else str(m.repeats),
            f"{m.seconds:.3f}",
            f"{m.ratio_to_gemm:.2f}",
            "" if m.cpu_seconds is None else f"{m.cpu_seconds:.3f}",
            "" if m.cpu_ratio_to_gemm is None else f"{m.cpu_ratio_to_gemm:.2f}",
            _speedup(m.speedup_vs_numpy),
            _speedup(m.speedup_vs_pandas),
            "-" if m.peak_mib is None else f"{m.peak_mib:,.0f}",
            f"[{notes.index(m.note) + 1}]" if m.note else "",
        )
    console.print(table)
    console.print(
        "runs: best of that many (est.: estimated, not run); time s: best wall time; x GEMM: time / bare GEMM time; "
        "CPU s: best process CPU time (all threads; "
        "steadier than wall time on a loaded machine); vs numpy, vs pandas: their wall time / pcc_block's; "
        "peak MiB: tracemalloc peak of one call (numpy allocations, not BLAS buffers)",
        markup=False,
    )
    for name, description in shape_names.items():
        console.print(f"{name}: {description}", markup=False)
    for number, note in enumerate(notes, 1):
        console.print(f"[{number}] {note}", markup=False, highlight=False)
    console.print(
        f"CPU: {env['cpu']} ({env['cpu_count']} cores); BLAS: {env.get('blas')}; numba threads: {env['numba_threads']}",
        markup=False,
    )
    console.print(
        f"OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']} OPENBLAS_L2_SIZE={env['OPENBLAS_L2_SIZE']}; "
        f"load average (1/5/15 min) before: {_load(env['load_average_before'])}, "
        f"after: {_load(env['load_average_after'])}",
        markup=False,
    )


def _speedup(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}x"


def _load(values) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def goals(results: list[Measurement], quick: bool) -> dict:
    by = {(m.shape, m.method): m for m in results}
    large = by[("synthetic-rows-x-features", "pcc_block")]
    full = by[("synthetic-full", "pcc_block")].speedup_vs_numpy
    return {
        "quick": quick,
        "rows_x_features_within_1.15x_of_gemm": {"value": large.ratio_to_gemm, "met": large.ratio_to_gemm <= 1.15},
        "rows_x_features_within_1.15x_of_gemm_cpu_time": {
            "value": large.cpu_ratio_to_gemm,
            "met": large.cpu_ratio_to_gemm <= 1.15,
        },
        "full_synthetic_4x_faster_than_numpy_corrcoef": {"value": full, "met": full >= 4.0},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="smaller synthetic shapes, fewer repeats")
    parser.add_argument(
        "--repeats", type=int, default=None, help="runs per measurement (best is kept; default 5, quick 2)"
    )
    parser.add_argument("--block-rows", type=int, default=None, help="pcc_block block_rows (default: the library's)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)

    from deeptgi_rt.pcc import pcc_block

    env = environment()
    # Compile (or load from numba's cache) before anything is timed.
    pcc_block(np.ones((3, 4), dtype=np.float32), np.ones((2, 4), dtype=np.float32), backend="cpu")
    pcc_block(np.ones((3, 4)), backend="cpu")

    results: list[Measurement] = []
    shape_names = {}
    for shape in shapes(args.quick):
        shape_names[shape.name] = shape.description
        measured = measure_shape(shape, repeats, args.block_rows)
        add_ratios(measured)
        results.extend(measured)
        del shape
    env["load_average_after"] = os.getloadavg()

    print_table(results, shape_names, env)
    summary = goals(results, args.quick)
    for name, goal in summary.items():
        if name != "quick":
            print(f"goal {name}: {goal['value']:.2f} -> {'met' if goal['met'] else 'NOT met'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "environment": env,
                "shapes": shape_names,
                "block_rows": args.block_rows,
                "results": [asdict(m) for m in results],
                "goals": summary,
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
