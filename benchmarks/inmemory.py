"""In-memory AnnData against the same ``.h5ad`` file: the shipped examples with their shipped models.

    python benchmarks/inmemory.py [--repeats 3] [--threads 1]

For each example (``mhsc-e`` with ``mhsc-e-lite``, ``mdc`` with ``mdc-lite``; every model TF x every
gene, no selection) the expression is put in an AnnData as a dense and as a CSR X, each written to
``.h5ad``, and scored through ``DeepTGIModel.score`` five ways: the dense file, the dense object,
the CSR file, the CSR object and the CSR file opened backed (``anndata.read_h5ad(backed="r")``).
A small file is read whole by the file path; a sparse or backed object always streams by cell
chunks, so the CSR rows are also scored as the file streamed in the object's chunks
(``chunk_cells``), which they must equal exactly. Reported: the best wall seconds of ``--repeats``
runs and the best process CPU seconds (steadier on a shared machine; the first run, compiling
numba's kernels, is not counted), the largest score difference against
the dense file, and whether the edges are identical to the file's on the same path. Results go to
``benchmarks/results/inmemory.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "inmemory.json"
EXAMPLES = {"mhsc-e": "mhsc-e-lite", "mdc": "mdc-lite"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--examples", nargs="*", default=list(EXAMPLES), choices=list(EXAMPLES))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    import anndata
    import polars as pl
    import scipy.sparse as sp

    from deeptgi_rt.api import ScoreRequest, load_model
    from deeptgi_rt.cells import CHUNK_BYTES
    from deeptgi_rt.threads import limit_threads

    limit_threads(args.threads)
    results = {"threads": args.threads, "repeats": args.repeats, "load_average_before": os.getloadavg(), "runs": {}}
    work = Path(tempfile.mkdtemp(prefix="deeptgi-inmemory-"))
    for name in args.examples:
        frame = pl.read_parquet(REPO / "examples" / f"{name}.parquet")
        genes = [c for c in frame.columns if c != "cell_id"]
        x = frame.select(genes).to_numpy().astype(np.float32)
        dense = anndata.AnnData(X=x)
        dense.var_names = genes
        dense.obs_names = [f"cell{i}" for i in range(len(x))]
        csr = anndata.AnnData(X=sp.csr_matrix(x), obs=dense.obs, var=dense.var)
        dense_path, csr_path = work / f"{name}-dense.h5ad", work / f"{name}-csr.h5ad"
        dense.write_h5ad(dense_path)
        csr.write_h5ad(csr_path)
        backed = anndata.read_h5ad(csr_path, backed="r")
        chunk = CHUNK_BYTES // (4 * len(genes))
        model = load_model(
            REPO / "deeptgi_rt" / "models" / f"{EXAMPLES[name]}.onnx", device="cpu", threads=args.threads
        )
        ways = {
            "dense .h5ad file (read whole)": ScoreRequest(str(dense_path)),
            "dense AnnData in memory (copied whole)": ScoreRequest(dense),
            "CSR .h5ad file (read whole)": ScoreRequest(str(csr_path)),
            "CSR .h5ad file, streamed (chunk_cells=object's chunk)": ScoreRequest(str(csr_path), chunk_cells=chunk),
            "CSR AnnData in memory (streamed)": ScoreRequest(csr),
            "CSR AnnData backed (streamed from its file)": ScoreRequest(backed),
        }
        frames, seconds, cpu_seconds = {}, {}, {}
        for way, request in ways.items():
            best, best_cpu = float("inf"), float("inf")
            for repeat in range(args.repeats + 1):
                started, cpu = time.perf_counter(), time.process_time()
                out = model.prepare(request).frame()
                wall, cpu = time.perf_counter() - started, time.process_time() - cpu
                if repeat:  # the first run compiles numba's kernels for its path
                    best, best_cpu = min(best, wall), min(best_cpu, cpu)
            seconds[way], cpu_seconds[way] = best, best_cpu
            frames[way] = out.with_columns(pl.col("TF").cast(str), pl.col("target").cast(str)).sort("TF", "target")
        backed.file.close()
        reference = frames["dense .h5ad file (read whole)"]
        same_path = {
            "dense AnnData in memory (copied whole)": "dense .h5ad file (read whole)",
            "CSR AnnData in memory (streamed)": "CSR .h5ad file, streamed (chunk_cells=object's chunk)",
            "CSR AnnData backed (streamed from its file)": "CSR .h5ad file, streamed (chunk_cells=object's chunk)",
        }
        rows = []
        for way, table in frames.items():
            assert table.select("TF", "target").equals(reference.select("TF", "target"))
            diff = float(np.abs(table["score"].to_numpy() - reference["score"].to_numpy()).max())
            twin = same_path.get(way)
            rows.append(
                {
                    "way": way,
                    "wall_s": seconds[way],
                    "cpu_s": cpu_seconds[way],
                    "max_abs_diff_vs_dense_file": diff,
                    "identical_to": twin,
                    "identical": None if twin is None else bool(table["score"].equals(frames[twin]["score"])),
                }
            )
        results["runs"][name] = {
            "model": EXAMPLES[name],
            "cells": int(x.shape[0]),
            "genes": len(genes),
            "nonzero": float(np.count_nonzero(x) / x.size),
            "edges": len(reference),
            "chunk_cells": chunk,
            "rows": rows,
        }
        print(f"{name}: done", file=sys.stderr, flush=True)
    results["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
    return 0


def markdown(results: dict) -> str:
    lines = [
        "# In-memory AnnData against the same .h5ad file (shipped examples and models)",
        "",
        f"`python benchmarks/inmemory.py --threads {results['threads']} --repeats {results['repeats']}`: "
        "every model TF x every gene through `DeepTGIModel.score`; best wall and CPU seconds of the repeats "
        "(a first, compiling run not counted); load average before "
        f"{' '.join(f'{v:.1f}' for v in results['load_average_before'])}, after "
        f"{' '.join(f'{v:.1f}' for v in results['load_average_after'])} (a shared 2-core machine).",
        "",
    ]
    for name, run in results["runs"].items():
        lines += [
            f"## {name} ({run['cells']:,} cells x {run['genes']:,} genes, {run['nonzero']:.0%} non-zero; "
            f"{run['model']}; {run['edges']:,} edges; {run['chunk_cells']:,} cells per chunk)",
            "",
            "| input | wall s | CPU s | max abs diff vs dense file | identical to the file on the same path |",
            "|---|---:|---:|---:|---|",
        ]
        for row in run["rows"]:
            same = "—" if row["identical_to"] is None else ("yes" if row["identical"] else "**no**")
            lines.append(
                f"| {row['way']} | {row['wall_s']:.2f} | {row['cpu_s']:.2f} | "
                f"{row['max_abs_diff_vs_dense_file']:.1e} | {same} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
