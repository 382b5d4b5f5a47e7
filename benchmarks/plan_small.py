"""``deeptgi-rt score --plan`` against the measured wall time on the shipped small data sets.

    python benchmarks/plan_small.py [--repeats 3] [--threads 1]

For each case (the README's score commands on examples/, and examples/mhsc-e.parquet written as
a CSR h5ad, read whole and streamed) runs ``deeptgi-rt score`` once to warm the caches (numba's
kernels, the OS file cache), then ``--repeats`` times in a fresh process each, and reports the
median wall time of the whole process beside the plan's estimate (``summary.plan``, the same
estimate ``--plan`` prints) and the median of each stage as the summary measured it. The
``--plan`` command itself is timed too. Writes ``benchmarks/results/plan_small.json`` and
prints a Markdown table. Start-up dominates at this size: the fixed costs in
``deeptgi_rt/plan.py`` (``STARTUP_SECONDS`` and the per-stage ``*_FIXED``) come from these runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Runs the score command in this process, the summary dumped as JSON instead of printed.
DRIVER = """
import json, sys
import deeptgi_rt.cli.score as score

def dump(summary, reporter):
    with open(sys.argv[1], "w") as out:
        json.dump({"stages": summary.stage_seconds, "plan": summary.plan.seconds}, out)

score.print_summary = dump
from deeptgi_rt.cli import main
sys.exit(main(sys.argv[2:]))
"""


def cases(work: Path) -> dict[str, list[str]]:
    """Case name -> ``deeptgi-rt score`` arguments (the output path appended later)."""
    h5ad = work / "mhsc-e.h5ad"
    return {
        "mhsc-e.parquet (Quick start)": ["examples/mhsc-e.parquet", "--model", "mhsc-e-lite"],
        "mdc.parquet --tfs --top-k 50": [
            "examples/mdc.parquet",
            "--model",
            "mdc-lite",
            "--tfs",
            "examples/mdc-tfs.csv",
            "--top-k",
            "50",
        ],
        "mdc.parquet --pairs": [
            "examples/mdc.parquet",
            "--model",
            "mdc-lite",
            "--pairs",
            "examples/mdc-network-nonspecific.csv",
        ],
        "mhsc-e.h5ad (CSR)": [str(h5ad), "--model", "mhsc-e-lite"],
        "mhsc-e.h5ad --chunk-cells 256": [str(h5ad), "--model", "mhsc-e-lite", "--chunk-cells", "256"],
    }


def write_h5ad(path: Path) -> None:
    """examples/mhsc-e.parquet as a CSR h5ad (the repository ships none)."""
    import anndata
    import numpy as np
    import pandas as pd
    import polars as pl
    import scipy.sparse as sp

    frame = pl.read_parquet(REPO / "examples" / "mhsc-e.parquet")
    values = sp.csr_matrix(frame.to_numpy().astype(np.float32))
    obs = pd.DataFrame(index=[f"cell{i}" for i in range(frame.height)])
    anndata.AnnData(X=values, obs=obs, var=pd.DataFrame(index=frame.columns)).write_h5ad(path)


def run(argv: list[str], dump: Path | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one ``deeptgi-rt score`` process (the driver when
    ``dump`` is given)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    # Without a dump, what the deeptgi-rt console script runs.
    code = DRIVER if dump else "import sys\nfrom deeptgi_rt.cli import main\nsys.exit(main(sys.argv[2:]))\n"
    command = [sys.executable, "-c", code, str(dump), "score", *argv]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{result.stderr[-2000:]}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "plan_small.json")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        write_h5ad(work / "mhsc-e.h5ad")
        for name, argv in cases(work).items():
            argv = [*argv, "--out", str(work / "edges.parquet"), "--threads", str(args.threads)]
            run(argv)  # warm-up: numba's cache, the file cache
            walls, cpus, dumps = [], [], []
            for _ in range(args.repeats):
                wall, cpu = run(argv, work / "summary.json")
                walls.append(wall)
                cpus.append(cpu)
                dumps.append(json.loads((work / "summary.json").read_text()))
            plan_walls = [run([*argv, "--plan"])[0] for _ in range(args.repeats)]
            plan = dumps[0]["plan"]
            stages = {stage: statistics.median(d["stages"][stage] for d in dumps) for stage in dumps[0]["stages"]}
            wall = statistics.median(walls)
            results[name] = {
                "wall_s": wall,
                "walls_s": walls,
                "cpu_s": statistics.median(cpus),
                "plan_total_s": sum(plan.values()),
                "plan_s": plan,
                "stages_s": stages,
                "plan_command_wall_s": statistics.median(plan_walls),
                "ratio": sum(plan.values()) / wall,
            }
            print(name, json.dumps(results[name]), flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    args.out.write_text(
        json.dumps(
            {
                "threads": args.threads,
                "repeats": args.repeats,
                "load_average": load,
                "cases": results,
                "finished_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nload average {load:.2f}\n")
    print("| case | `--plan` estimate | measured wall | estimate / wall | process CPU | `--plan` itself |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['plan_total_s']:.2f} s | {r['wall_s']:.2f} s | {r['ratio']:.2f} | "
            f"{r['cpu_s']:.2f} s | {r['plan_command_wall_s']:.2f} s |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
