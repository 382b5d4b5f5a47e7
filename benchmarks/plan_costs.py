"""Per-unit costs behind ``deeptgi_rt.plan``: CPU seconds per stage of real ``score`` runs, one thread.

    python benchmarks/plan_costs.py [--cells 5000] [--tfs 1600] [--threads 1]

Takes the first ``--cells`` cells of ``benchmarks/atlas.py``'s synthetic 50,000-cell h5ad (CSR,
20,000 genes) and its random-weight lite model (1,000 feature genes, 1,600 TFs), and runs
``DeepTGIModel.write_request`` twice: ``--top-k 100`` (160,000 edges, sorted in memory) and
every pair (32 M edges, streamed per TF with ``max_sort_edges=0``, and sorted in memory), with
the summary's stage clocks switched to process CPU time, so a loaded machine does not inflate
them. Prints the stage CPU seconds and the per-unit costs they give; writes
``benchmarks/results/plan_costs.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.gettempdir()) / "deeptgi-atlas"


def subset_h5ad(cells: int) -> Path:
    """The first ``cells`` cells of the 50,000-cell synthetic h5ad, written once."""
    import anndata

    path = WORK / f"atlas-first{cells}x20000.h5ad"
    if not path.exists():
        backed = anndata.read_h5ad(WORK / "atlas-50000x20000-d0.06.h5ad", backed="r")
        backed[:cells].to_memory().write_h5ad(path)
    return path


def cpu_clocks() -> None:
    """Make every ScoreSummary stage clock count process CPU time."""
    from deeptgi_rt.summary import ScoreSummary

    @contextlib.contextmanager
    def timed(self, stage):
        started = time.process_time()
        try:
            yield
        finally:
            self.stage_seconds[stage] += time.process_time() - started

    ScoreSummary.timed = timed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=5_000)
    parser.add_argument("--tfs", type=int, default=1_600)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "plan_costs.json")
    args = parser.parse_args()
    from deeptgi_rt.api import ScoreRequest, load_model
    from deeptgi_rt.threads import limit_threads

    limit_threads(args.threads)
    cpu_clocks()
    path = subset_h5ad(args.cells)
    model = load_model(WORK / f"lite-20000g-1000f-{args.tfs}tf.onnx", device="cpu", threads=args.threads)
    runs = {}
    cases = {"top_k_100": dict(top_k=100), "all_streamed": dict(max_sort_edges=0), "all_sorted": {}}
    for name, options in cases.items():
        request = ScoreRequest(str(path), transform="normalize_total_log1p", **options)
        with tempfile.TemporaryDirectory(dir=WORK) as tmp:
            summary = model.write_request(Path(tmp) / "edges.parquet", request)
        plan = summary.plan.inputs
        runs[name] = {
            "stage_cpu_s": dict(summary.stage_seconds),
            "edges_written": summary.edges_written,
            "pairs": plan.pairs,
            "stored_entries": plan.stored_entries,
            "entities": plan.entities,
            "features": plan.features,
            "tfs": plan.tfs,
            "targets": plan.targets,
            "order": summary.order,
            "peak_rss_mib": summary.peak_rss_bytes / 2**20,
        }
        print(name, json.dumps(runs[name]), flush=True)
    top = runs["top_k_100"]
    costs = {
        "read_per_stored": top["stage_cpu_s"]["read"] / top["stored_entries"],
        "encode_per_entity_feature": np.mean(
            [r["stage_cpu_s"]["encode"] / ((r["tfs"] + r["targets"]) * r["features"]) for r in runs.values()]
        ),
        "score_per_pair_top_k": top["stage_cpu_s"]["score"] / top["pairs"],
        "score_per_pair_all": runs["all_sorted"]["stage_cpu_s"]["score"] / runs["all_sorted"]["pairs"],
        "write_per_edge_sorted": runs["all_sorted"]["stage_cpu_s"]["write"] / runs["all_sorted"]["edges_written"],
        "write_per_edge_streamed": runs["all_streamed"]["stage_cpu_s"]["write"] / runs["all_streamed"]["edges_written"],
    }
    result = {
        "cells": args.cells,
        "threads": args.threads,
        "runs": runs,
        "costs": costs,
        "finished_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    args.out.write_text(json.dumps(result, indent=2, default=float) + "\n")
    print(json.dumps(costs, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
