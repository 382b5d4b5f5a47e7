"""Atlas scale: the streaming PCC statistics over a sparse h5ad, against a bare GEMM of the same shape.

    python benchmarks/atlas.py [--cells 20000] [--genes 20000] [--features 1000] [--density 0.06]
                               [--chunk-cells N] [--sweep-cells 1024] [--dense-path] [--threads 1]
                               [--cli streamed dense dask] [--edges 100|all]

Input: synthetic 10x-like raw counts, negative binomial with per-gene means and per-cell depths
drawn log-normally and scaled so that about ``--density`` of the entries are non-zero, written
once as an h5ad with a CSR X under ``--work`` (reused by later runs of the same size).

Stages, each in a fresh child process so that its peak RSS is its own:

- ``stats``: :func:`deeptgi_rt.cells.anndata_chunks` (backed reading, ``normalize="total"``)
  into :class:`deeptgi_rt.pcc.streaming.PccStatistics` with every gene as an entity and
  ``--features`` feature genes (the shape of genome-wide scoring: the TFs are among the entity
  genes, so they add no work), then the float32 PCC block. Read+normalize and statistics
  times are reported apart.
- ``gemm``: a bare float32 GEMM of the same shape (``[genes, cells] @ [cells, features]``), in
  chunks of the same number of cells: the limit the statistics pass is held to.
- ``sweep``: one chunk of ``--sweep-cells`` cells at several densities, through the BLAS path
  (densify, shift, GEMM) and through the sparse kernel; the crossover sets
  :data:`deeptgi_rt.pcc.streaming.DENSIFY_DENSITY`.
- ``score`` (``--score``): end to end through the library at this size: ``open_cells`` (backed
  h5ad, ``normalize="total"``) into ``features.entity_features`` (the streamed statistics) for
  every gene, then factorized scoring of ``--tfs`` TFs x all genes with a random-weight ``lite``
  model of ``--features`` feature genes (built once by ``benchmarks/score.py``'s ``build_lite``
  in a child of its own, so torch never counts toward the stage's memory): TF and gene states,
  then every pair through the pair head (``scoring.score_tf_rows``), scores kept as float32
  ``[tfs, genes]``; no edge file.
- ``cli`` / ``cli_dense`` / ``cli_dask`` (``--cli streamed dense dask``): ``deeptgi-rt score`` end to
  end in the stage's process (its own parsing, request, engine and writer), ``--normalize total``,
  ``--top-k`` ``--edges`` per TF (or every pair with ``--edges all``) to Parquet: first ``--plan``,
  then the run, whose summary gives the wall per stage beside the plan's estimate. ``dense`` reads
  the whole matrix into memory first (the path before streaming); ``dask`` computes the statistics
  on a ``distributed`` LocalCluster (``--dask-scheduler local``, one-thread workers).
- ``dense`` (``--dense-path``): today's path, ``read_expression`` of the whole h5ad (dense float32
  genes x cells) and ``pcc_block``, for the memory and time it needs at this size.

Times are wall and process CPU seconds (CPU time is steadier on a shared machine); ratios use
CPU seconds. Results go to ``benchmarks/results/atlas.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "results" / "atlas.json"
# The synthetic h5ad is large (about 1 GiB per 100,000 cells at 6 %): outside the repository.
DEFAULT_WORK = Path(tempfile.gettempdir()) / "deeptgi-atlas"
SWEEP_DENSITIES = (0.01, 0.03, 0.06, 0.1, 0.15, 0.2, 1.0)
CLI_STAGES = {"streamed": "cli", "dense": "cli_dense", "dask": "cli_dask", "memory": "cli_memory"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=20_000)
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--features", type=int, default=1_000)
    parser.add_argument("--density", type=float, default=0.06)
    parser.add_argument("--chunk-cells", type=int, default=None, help="cells per chunk (default: the reader's)")
    parser.add_argument("--sweep-cells", type=int, default=1_024)
    parser.add_argument("--repeats", type=int, default=3, help="runs per sweep point (best is kept)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dense-path", action="store_true", help="also run read_expression + pcc_block")
    parser.add_argument("--score", action="store_true", help="also run statistics + factorized scoring end to end")
    parser.add_argument("--tfs", type=int, default=1_600)
    parser.add_argument(
        "--cli",
        nargs="*",
        default=[],
        choices=["streamed", "dense", "dask", "memory"],
        help="run `deeptgi-rt score` end to end on these paths (with --plan first)",
    )
    parser.add_argument("--edges", default="100", help="edges per TF written by --cli runs (--top-k), or 'all'")
    parser.add_argument("--skip", nargs="*", default=[], choices=["stats", "gemm", "sweep"])
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--render", action="store_true", help="only rewrite the .md from the existing .json")
    args = parser.parse_args(argv)
    if args.render:
        results = json.loads(args.out.read_text())
        args.out.with_suffix(".md").write_text(markdown(results))
        return 0
    if args.stage:
        limit_threads(args.threads)
        result = STAGES[args.stage](args)
        result["peak_rss_mib"] = peak_rss_mib()
        print(json.dumps(result))
        return 0

    path = synthetic_h5ad_path(args)
    if not path.exists():
        # In a child, so that the generator's memory never counts toward the stages' peaks.
        run_stage("write", argv or sys.argv[1:])
    results = {"config": config(args, path), "stages": {}}
    if args.skip and args.out.exists():
        # A partial run updates the stages it runs and keeps the others' last results.
        previous = json.loads(args.out.read_text())
        if previous["config"]["cells"] == args.cells and previous["config"]["genes"] == args.genes:
            results["stages"] = previous["stages"]
        elif f"{args.cells}x{args.genes}" in previous.get("other_sizes", {}):
            same = previous["other_sizes"][f"{args.cells}x{args.genes}"]
            results["stages"], results["config"]["note"] = same["stages"], same["config"].get("note")
    stages = (
        [s for s in ("stats", "gemm", "sweep") if s not in args.skip]
        + (["score"] if args.score else [])
        + (["dense"] if args.dense_path else [])
        + [CLI_STAGES[kind] for kind in args.cli]
    )
    if (args.score or args.cli) and not lite_model_path(args).exists():
        run_stage("model", argv or sys.argv[1:])
    for stage in stages:
        print(f"running {stage} ...", file=sys.stderr, flush=True)
        key = (
            stage
            if not stage.startswith("cli")
            else f"{stage}_{args.edges}" + (f"_chunk{args.chunk_cells}" if args.chunk_cells else "")
        )
        results["stages"][key] = run_stage(stage, argv or sys.argv[1:])
        results["stages"][key]["finished_at"] = time.strftime("%Y-%m-%d %H:%M:%S")
        results["stages"][key]["load_average"] = os.getloadavg()
    results["config"]["load_average_after"] = os.getloadavg()
    summarize(results)
    if args.out.exists():
        previous = json.loads(args.out.read_text())
        same_size = previous["config"]["cells"] == args.cells and previous["config"]["genes"] == args.genes
        if same_size and "other_sizes" in previous:
            results["other_sizes"] = previous["other_sizes"]  # the file's other sizes stay
        if not same_size:
            # Another size: kept beside the file's main run, which stays as it was.
            other = previous.setdefault("other_sizes", {})
            other[f"{args.cells}x{args.genes}"] = results
            results = previous
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
    return 0


def limit_threads(threads: int) -> None:
    """Pin numba and BLAS to ``threads`` for the whole child process."""
    import numba
    from threadpoolctl import threadpool_limits

    numba.set_num_threads(threads)
    globals()["_blas_limit"] = threadpool_limits(threads)


def peak_rss_mib() -> float:
    """This process's peak resident memory. VmHWM belongs to the process's own address space;
    getrusage's ru_maxrss survives exec, so a child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_stage(stage: str, argv: list[str]) -> dict:
    command = [sys.executable, __file__, *argv, "--stage", stage]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"stage {stage} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------- input


def synthetic_h5ad_path(args) -> Path:
    return args.work / f"atlas-{args.cells}x{args.genes}-d{args.density:g}.h5ad"


def synthetic_h5ad(args) -> Path:
    """The synthetic raw-count h5ad for these sizes (CSR X), written once under ``--work``."""
    args.work.mkdir(parents=True, exist_ok=True)
    path = synthetic_h5ad_path(args)
    if path.exists():
        return path
    print(f"writing {path} ...", file=sys.stderr, flush=True)
    import anndata
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    gene_means = np.exp(rng.normal(0.0, 1.5, size=args.genes))
    depths = np.exp(rng.normal(0.0, 0.5, size=args.cells))
    # NB with size 1: P(x > 0) = m / (1 + m). Scale the means so the expected density is the target.
    low, high = 1e-6, 1e3
    for _ in range(60):
        scale = np.sqrt(low * high)
        m = scale * np.outer(depths[:2000], gene_means)
        low, high = (scale, high) if np.mean(m / (1 + m)) < args.density else (low, scale)
    gene_means *= scale
    parts = []
    for start in range(0, args.cells, 2000):
        m = np.outer(depths[start : start + 2000], gene_means).astype(np.float32)
        nonzero = rng.random(m.shape, dtype=np.float32) < m / (1 + m)
        rows, cols = np.nonzero(nonzero)
        mean = m[rows, cols]
        # Given x > 0, NB(1, p) is 1 + NB(1, p) (memoryless): values 1, 2, ... with the gene's tail.
        values = 1 + rng.negative_binomial(1, 1 / (1 + mean)).astype(np.float32)
        parts.append(sp.csr_matrix((values, (rows, cols)), shape=m.shape, dtype=np.float32))
    x = sp.vstack(parts, format="csr")
    adata = anndata.AnnData(X=x)
    adata.var_names = [f"G{i:05d}" for i in range(args.genes)]
    adata.obs_names = [f"cell{i}" for i in range(args.cells)]
    tmp = path.with_suffix(".tmp.h5ad")
    adata.write_h5ad(tmp)
    tmp.rename(path)
    return path


def config(args, path: Path) -> dict:
    import h5py
    import numba
    from threadpoolctl import threadpool_info

    with h5py.File(path, "r") as f:
        nnz = int(f["X/data"].shape[0])
    return {
        "cells": args.cells,
        "genes": args.genes,
        "features": args.features,
        "entities": args.genes,
        "density": nnz / (args.cells * args.genes),
        "h5ad": str(path.relative_to(REPO) if path.is_relative_to(REPO) else path),
        "h5ad_mib": path.stat().st_size / 2**20,
        "chunk_cells": args.chunk_cells,
        "sweep_cells": args.sweep_cells,
        "threads": args.threads,
        "cpu": platform.processor() or platform.machine(),
        "blas": [{k: i.get(k) for k in ("internal_api", "version", "architecture")} for i in threadpool_info()],
        "numba": numba.__version__,
        "load_average_before": os.getloadavg(),
    }


# ----------------------------------------------------------------- stages


def feature_columns(args) -> np.ndarray:
    return np.sort(np.random.default_rng(1).choice(args.genes, args.features, replace=False))


def stage_stats(args) -> dict:
    from deeptgi_rt.cells import anndata_chunks
    from deeptgi_rt.pcc.streaming import DENSIFY_DENSITY, PccStatistics

    path = synthetic_h5ad(args)
    warm_up()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    chunks = anndata_chunks(path, normalize="total", chunk_cells=args.chunk_cells)
    stats = PccStatistics(len(chunks.genes), None, feature_columns(args))
    read = [0.0, 0.0]
    add = [0.0, 0.0]
    iterator = iter(chunks)
    while True:
        w, c = time.perf_counter(), time.process_time()
        chunk = next(iterator, None)
        read[0] += time.perf_counter() - w
        read[1] += time.process_time() - c
        if chunk is None:
            break
        w, c = time.perf_counter(), time.process_time()
        stats.add(chunk)
        add[0] += time.perf_counter() - w
        add[1] += time.process_time() - c
    w, c = time.perf_counter(), time.process_time()
    block = stats.pcc()
    finish = [time.perf_counter() - w, time.process_time() - c]
    return {
        "read_normalize_s": read[0],
        "read_normalize_cpu_s": read[1],
        "statistics_s": add[0],
        "statistics_cpu_s": add[1],
        "finish_s": finish[0],
        "finish_cpu_s": finish[1],
        "total_s": time.perf_counter() - wall0,
        "total_cpu_s": time.process_time() - cpu0,
        "chunk_cells": chunks.chunk_cells,
        "chunks_sparse": stats.chunks_sparse,
        "chunks_dense": stats.chunks_dense,
        "densify_density": DENSIFY_DENSITY,
        "excluded_cells": chunks.excluded_cells,
        "cells": stats.cells,
        "output_shape": list(block.shape),
        "output_finite": bool(np.isfinite(block).all()),
    }


def warm_up() -> None:
    """Load (or compile) every numba kernel of the statistics on a tiny input, outside the timing."""
    import scipy.sparse as sp

    from deeptgi_rt.pcc.streaming import PccStatistics

    tiny = np.eye(4, dtype=np.float32)
    for densify in (0.0, 2.0):
        stats = PccStatistics(4, None, [0, 1], densify_density=densify)
        for chunk in (tiny, sp.csr_matrix(tiny), sp.csc_matrix(tiny)):
            stats.add(chunk)
        stats.pcc()


def stage_gemm(args) -> dict:
    from deeptgi_rt.cells import _chunk_cells

    step = args.chunk_cells or _chunk_cells(None, args.genes)
    rng = np.random.default_rng(2)
    entities = rng.random((step, args.genes), dtype=np.float32)
    features = rng.random((step, args.features), dtype=np.float32)
    out = np.empty((args.genes, args.features), dtype=np.float32)
    np.matmul(entities[:8].T, features[:8], out=out)
    w, c = time.perf_counter(), time.process_time()
    for start in range(0, args.cells, step):
        k = min(step, args.cells - start)
        np.matmul(entities[:k].T, features[:k], out=out)
    return {"gemm_s": time.perf_counter() - w, "gemm_cpu_s": time.process_time() - c, "chunk_cells": step}


def stage_sweep(args) -> dict:
    import scipy.sparse as sp

    from deeptgi_rt.pcc.streaming import PccStatistics

    rng = np.random.default_rng(3)
    features = feature_columns(args)
    cells = args.sweep_cells
    dense_entities = rng.random((cells, args.genes), dtype=np.float32)
    dense_features = rng.random((cells, args.features), dtype=np.float32)
    out = np.empty((args.genes, args.features), dtype=np.float32)

    def gemm():
        np.matmul(dense_entities.T, dense_features, out=out)

    rows = []
    for density in SWEEP_DENSITIES:
        chunk = sp.random(cells, args.genes, density=density, format="csr", dtype=np.float32, random_state=rng)
        chunk.data = np.log1p(rng.integers(1, 20, size=chunk.nnz)).astype(np.float32)
        blas = PccStatistics(args.genes, None, features, densify_density=0.0)
        kernel = PccStatistics(args.genes, None, features, densify_density=2.0)
        blas.add(chunk)
        kernel.add(chunk)  # compiles, and sets the shift, outside the timing
        times = {"blas": [], "sparse_kernel": [], "bare_gemm": []}
        for _ in range(args.repeats):  # interleaved, so load changes hit all three alike
            for name, run in (
                ("blas", lambda blas=blas, chunk=chunk: blas.add(chunk)),
                ("sparse_kernel", lambda kernel=kernel, chunk=chunk: kernel.add(chunk)),
                ("bare_gemm", gemm),
            ):
                c = time.process_time()
                run()
                times[name].append(time.process_time() - c)
        rows.append({"density": density, **{f"{name}_cpu_s": min(values) for name, values in times.items()}})
    # A dense input chunk (dense h5ad X, Parquet, numpy) skips densifying: statistics, shifted
    # copies and the GEMM only.
    dense = PccStatistics(args.genes, None, features)
    dense.add(dense_entities)
    times = {"dense_input": [], "bare_gemm": []}
    for _ in range(args.repeats):
        for name, run in (("dense_input", lambda: dense.add(dense_entities)), ("bare_gemm", gemm)):
            c = time.process_time()
            run()
            times[name].append(time.process_time() - c)
    dense_row = {f"{name}_cpu_s": min(values) for name, values in times.items()}
    return {"cells": cells, "rows": rows, "dense_input": dense_row}


def stage_dense(args) -> dict:
    from deeptgi_rt.expression import read_expression
    from deeptgi_rt.pcc import pcc_block

    path = synthetic_h5ad(args)
    w, c = time.perf_counter(), time.process_time()
    expression = read_expression(path, log1p=True)
    read = [time.perf_counter() - w, time.process_time() - c]
    w, c = time.perf_counter(), time.process_time()
    pcc_block(expression.values, expression.values[feature_columns(args)], backend="cpu")
    return {
        "read_s": read[0],
        "read_cpu_s": read[1],
        "pcc_s": time.perf_counter() - w,
        "pcc_cpu_s": time.process_time() - c,
    }


def lite_model_path(args) -> Path:
    return args.work / f"lite-{args.genes}g-{args.features}f-{args.tfs}tf.onnx"


def tf_columns(args) -> np.ndarray:
    return np.sort(np.random.default_rng(4).choice(args.genes, args.tfs, replace=False))


def stage_model(args) -> dict:
    """Build the random-weight lite model (feature genes and TFs of this size) once under ``--work``."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from score import build_lite

    genes = [f"G{i:05d}" for i in range(args.genes)]
    path = lite_model_path(args)
    tmp = path.with_suffix(".tmp.onnx")
    built = build_lite(tmp, [genes[i] for i in feature_columns(args)], [genes[i] for i in tf_columns(args)])
    tmp.rename(path)
    return {"model": built}


def stage_score(args) -> dict:
    """Statistics pass + factorized scoring of every TF x gene pair, timed per stage."""
    from deeptgi_rt.api import load_model
    from deeptgi_rt.cells import open_cells
    from deeptgi_rt.features import entity_features
    from deeptgi_rt.scoring import score_tf_rows

    path = synthetic_h5ad(args)
    warm_up()
    times = {}
    w = time.perf_counter()
    model = load_model(lite_model_path(args), device="cpu", threads=args.threads)
    times["load_model_s"] = time.perf_counter() - w
    cpu0 = time.process_time()
    w = time.perf_counter()
    cells = open_cells(path, normalize="total", chunk_cells=args.chunk_cells)
    feats = entity_features([cells], cells.genes, model.metadata.feature_genes, backend="cpu")
    times["statistics_s"] = time.perf_counter() - w
    rss_after_statistics = peak_rss_mib()
    w = time.perf_counter()
    inner = model._model
    tf_table = inner.tf_table(np.ascontiguousarray(feats[tf_columns(args)]))
    gene_table = inner.gene_table(feats)
    times["encode_s"] = time.perf_counter() - w
    w = time.perf_counter()
    scores = np.empty((len(tf_table), len(gene_table)), dtype=np.float32)
    for tf_start, block in score_tf_rows(inner.pair_scores, tf_table, gene_table):
        scores[tf_start : tf_start + len(block)] = block
    times["score_s"] = time.perf_counter() - w
    return {
        **times,
        "total_s": sum(v for k, v in times.items() if k != "load_model_s"),
        "total_cpu_s": time.process_time() - cpu0,
        "pairs": int(scores.size),
        "peak_rss_after_statistics_mib": rss_after_statistics,
        "excluded_cells": cells.excluded_cells,
        "chunk_cells": cells.chunk_cells,
        "scores_finite": bool(np.isfinite(scores).all()),
        "providers": list(model.providers),
    }


def _run_figures(summary, plan, *, plan_wall: float, wall: float, cpu: float, size: int, chunk_cells) -> dict:
    """What every scoring stage records: its plan beside the measured run (times, memory, edges)."""
    return {
        "plan_s": plan_wall,
        "wall_s": wall,
        "cpu_s": cpu,
        "stage_s": dict(summary.stage_seconds),
        "plan_stage_s": dict(plan.seconds),
        "plan_peak_mib": plan.peak_bytes / 2**20,
        "plan_inputs": {k: getattr(plan.inputs, k) for k in plan.inputs.__dataclass_fields__},
        "edges_written": summary.edges_written,
        "order": summary.order,
        "pairs_scored": summary.pairs_scored,
        "edge_file_mib": size / 2**20,
        "summary_peak_rss_mib": summary.peak_rss_bytes / 2**20,
        "chunk_cells": chunk_cells,
    }


def stage_cli(args, *, path_kind: str = "streamed") -> dict:
    """``deeptgi-rt score`` end to end in this process (the command's own argument parsing,
    request, engine and writer): first ``--plan``, then the run writing the edge file (deleted
    after its size is noted). ``path_kind``: ``streamed`` (``--normalize total``, cells a chunk
    at a time), ``dask`` (the same on a dask LocalCluster, ``--dask-scheduler local``) or
    ``dense`` (the whole matrix read into memory, then normalized: the path before streaming)."""
    import deeptgi_rt.cli.score as score_cli
    from deeptgi_rt.cli import main as cli_main

    path = synthetic_h5ad(args)
    out = args.work / f"edges-{args.cells}-{path_kind}-{args.edges}.parquet"
    captured = {}
    score_cli.print_plan = lambda summary, reporter: captured.__setitem__("plan", summary.plan)
    score_cli.print_summary = lambda summary, reporter: captured.__setitem__("summary", summary)
    if path_kind == "dense":
        import deeptgi_rt.sources as sources

        sources.cells_source = lambda *a, **k: None
    argv = [
        "score",
        str(path),
        "--model",
        str(lite_model_path(args)),
        "--out",
        str(out),
        "--normalize",
        "total",
        "--device",
        "cpu",
        "--threads",
        str(args.threads),
    ]  # not --quiet: the summary is what is read
    argv += ["--top-k", str(args.edges)] if args.edges != "all" else []
    argv += ["--dask-scheduler", "local"] if path_kind == "dask" else []
    argv += ["--chunk-cells", str(args.chunk_cells)] if args.chunk_cells else []
    w = time.perf_counter()
    assert cli_main([*argv, "--plan"]) == 0
    plan_wall = time.perf_counter() - w
    rss_after_plan = peak_rss_mib()
    cpu0, w = time.process_time(), time.perf_counter()
    try:
        assert cli_main(argv) == 0
        wall, cpu = time.perf_counter() - w, time.process_time() - cpu0
        size = out.stat().st_size
    finally:
        out.unlink(missing_ok=True)
    summary, plan = captured["summary"], captured["plan"]
    return {
        "path": path_kind,
        "edges_option": args.edges,
        "rss_after_plan_mib": rss_after_plan,
        **_run_figures(summary, plan, plan_wall=plan_wall, wall=wall, cpu=cpu, size=size, chunk_cells=args.chunk_cells),
    }


def current_rss_mib() -> float:
    """This process's resident memory now (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> bool:
    """Start VmHWM again from the current RSS (Linux ``clear_refs`` 5); whether it worked."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def stage_memory(args) -> dict:
    """The atlas as a notebook holds it: ``anndata.read_h5ad`` (CSR X in memory), then
    ``DeepTGIModel.write`` of the object with ``transform="normalize_total_log1p"`` and the
    options of the ``cli`` stage, so the two compare one to one. Peak RSS beyond the object: the
    run's peak (VmHWM, reset once the object is read) less the RSS holding the object."""
    import anndata

    from deeptgi_rt.api import ScoreRequest, load_model
    from deeptgi_rt.threads import limit_threads as limit_all

    path = synthetic_h5ad(args)
    out = args.work / f"edges-{args.cells}-memory-{args.edges}.parquet"
    rss_before = current_rss_mib()
    w = time.perf_counter()
    adata = anndata.read_h5ad(path)
    read_wall = time.perf_counter() - w
    object_mib = (adata.X.data.nbytes + adata.X.indices.nbytes + adata.X.indptr.nbytes) / 2**20
    model = load_model(lite_model_path(args), device="cpu", threads=args.threads)
    limit_all(args.threads)
    request = ScoreRequest(
        adata,
        transform="normalize_total_log1p",
        top_k=None if args.edges == "all" else int(args.edges),
        chunk_cells=args.chunk_cells,
    )
    w = time.perf_counter()
    plan = model.plan(request).plan
    plan_wall = time.perf_counter() - w
    rss_with_object = current_rss_mib()
    peak_reset = reset_peak_rss()
    cpu0, w = time.process_time(), time.perf_counter()
    try:
        summary = model.write(
            out,
            adata,
            transform="normalize_total_log1p",
            top_k=None if args.edges == "all" else int(args.edges),
        )
        wall, cpu = time.perf_counter() - w, time.process_time() - cpu0
        size = out.stat().st_size
    finally:
        out.unlink(missing_ok=True)
    peak = peak_rss_mib()
    return {
        "path": "memory",
        "edges_option": args.edges,
        "read_h5ad_s": read_wall,
        "rss_before_read_mib": rss_before,
        "object_matrix_mib": object_mib,
        "rss_with_object_mib": rss_with_object,
        "peak_reset": peak_reset,
        "peak_beyond_object_mib": peak - rss_with_object if peak_reset else None,
        **_run_figures(summary, plan, plan_wall=plan_wall, wall=wall, cpu=cpu, size=size, chunk_cells=args.chunk_cells),
    }


STAGES = {
    "write": lambda args: {"path": str(synthetic_h5ad(args))},
    "stats": stage_stats,
    "gemm": stage_gemm,
    "sweep": stage_sweep,
    "dense": stage_dense,
    "model": stage_model,
    "score": stage_score,
    "cli": stage_cli,
    "cli_dense": lambda args: stage_cli(args, path_kind="dense"),
    "cli_dask": lambda args: stage_cli(args, path_kind="dask"),
    "cli_memory": lambda args: stage_memory(args),
}


# ----------------------------------------------------------------- report


def summarize(results: dict) -> None:
    stages = results["stages"]
    if "stats" in stages and "gemm" in stages:
        stats, gemm = stages["stats"], stages["gemm"]
        results["statistics_over_gemm_cpu"] = stats["statistics_cpu_s"] / gemm["gemm_cpu_s"]
        results["pass_over_gemm_cpu"] = (stats["statistics_cpu_s"] + stats["finish_cpu_s"]) / gemm["gemm_cpu_s"]
    if "sweep" in stages:
        for row in stages["sweep"]["rows"]:
            row["faster"] = "sparse_kernel" if row["sparse_kernel_cpu_s"] < row["blas_cpu_s"] else "blas"
            row["blas_over_gemm"] = row["blas_cpu_s"] / row["bare_gemm_cpu_s"]
            row["sparse_kernel_over_gemm"] = row["sparse_kernel_cpu_s"] / row["bare_gemm_cpu_s"]


def markdown(results: dict) -> str:
    cfg, stages = results["config"], results["stages"]
    lines = [
        "# Atlas scale: streaming PCC statistics",
        "",
        f"Synthetic 10x-like raw counts, {cfg['cells']:,} cells x {cfg['genes']:,} genes, "
        f"{cfg['density']:.1%} non-zero, CSR h5ad ({cfg['h5ad_mib']:.0f} MiB); entities: all {cfg['entities']:,} "
        f"genes, {cfg['features']:,} feature genes; normalize='total'; {cfg['threads']} thread(s) "
        f"(numba and BLAS). Machine: {cfg['cpu']}, load average before {_load(cfg['load_average_before'])}, "
        f"after {_load(cfg.get('load_average_after'))} (shared: CPU seconds are the steadier measure).",
        "",
    ]
    if cfg.get("note"):
        lines += [cfg["note"], ""]
    if "stats" in stages:
        s = stages["stats"]
        lines += [
            "## Statistics pass (backed h5ad, chunk by chunk)",
            "",
            "| part | wall s | CPU s |",
            "|---|---:|---:|",
            f"| read + normalize | {s['read_normalize_s']:.1f} | {s['read_normalize_cpu_s']:.1f} |",
            f"| statistics (products, sums) | {s['statistics_s']:.1f} | {s['statistics_cpu_s']:.1f} |",
            f"| PCC block from the statistics | {s['finish_s']:.1f} | {s['finish_cpu_s']:.1f} |",
            f"| whole pass | {s['total_s']:.1f} | {s['total_cpu_s']:.1f} |",
            "",
            f"{s['chunks_sparse']} chunks through the sparse kernel, {s['chunks_dense']} densified "
            f"({s['chunk_cells']:,} cells per chunk, densify at >= {s['densify_density']:.0%}); "
            f"peak RSS {s['peak_rss_mib']:.0f} MiB; {s['excluded_cells']} zero-count cells excluded.",
            "",
        ]
    if "gemm" in stages:
        g = stages["gemm"]
        lines += [
            f"Bare float32 GEMM of the same shape ({cfg['genes']:,} x {cfg['cells']:,} @ {cfg['cells']:,} x "
            f"{cfg['features']:,}, {g['chunk_cells']:,}-cell chunks): {g['gemm_s']:.1f} s wall, "
            f"{g['gemm_cpu_s']:.1f} s CPU, peak RSS {g['peak_rss_mib']:.0f} MiB.",
            "",
        ]
    if "statistics_over_gemm_cpu" in results:
        lines += [
            f"**Statistics / bare GEMM (CPU): {results['statistics_over_gemm_cpu']:.2f}x**; with the final "
            f"PCC block: {results['pass_over_gemm_cpu']:.2f}x.",
            "",
        ]
    if "sweep" in stages:
        sw = stages["sweep"]
        lines += [
            f"## Density sweep: one chunk of {sw['cells']:,} cells x {cfg['genes']:,} genes x "
            f"{cfg['features']:,} features (best CPU s of the runs)",
            "",
            "| density | densify + BLAS s | sparse kernel s | bare GEMM s | BLAS / GEMM | kernel / GEMM | faster |",
            "|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in sw["rows"]:
            lines.append(
                f"| {r['density']:.0%} | {r['blas_cpu_s']:.3f} | {r['sparse_kernel_cpu_s']:.3f} | "
                f"{r['bare_gemm_cpu_s']:.3f} | {r['blas_over_gemm']:.2f} | {r['sparse_kernel_over_gemm']:.2f} "
                f"| {r['faster']} |"
            )
        d = sw.get("dense_input")
        if d:
            lines.append(
                f"| dense input (no densify) | {d['dense_input_cpu_s']:.3f} | | {d['bare_gemm_cpu_s']:.3f} | "
                f"{d['dense_input_cpu_s'] / d['bare_gemm_cpu_s']:.2f} | | blas |"
            )
        lines.append("")
    if "score" in stages:
        e = stages["score"]
        lines += [
            f"## End to end: statistics + factorized scoring ({e['pairs']:,} pairs)",
            "",
            "| stage | wall s |",
            "|---|---:|",
            f"| statistics pass (backed h5ad, normalize total, all genes x {cfg['features']:,} features) "
            f"| {e['statistics_s']:.1f} |",
            f"| encode (TF and gene states) | {e['encode_s']:.1f} |",
            f"| score every pair (pair head) | {e['score_s']:.1f} |",
            f"| **total** | **{e['total_s']:.1f}** |",
            "",
            f"CPU {e['total_cpu_s']:.1f} s; peak RSS {e['peak_rss_mib']:.0f} MiB "
            f"({e['peak_rss_after_statistics_mib']:.0f} MiB after the statistics); model loading "
            f"{e['load_model_s']:.1f} s not counted; scores kept in memory, no edge file written.",
            "",
        ]
    cli_runs = {key: run for key, run in stages.items() if key.startswith("cli")}
    if cli_runs:
        lines += cli_markdown(cli_runs)
    if "dense" in stages:
        d = stages["dense"]
        lines += [
            "## Today's dense path at this size",
            "",
            f"read_expression (whole matrix, dense float32, log1p): {d['read_s']:.1f} s wall; pcc_block: "
            f"{d['pcc_s']:.1f} s wall, {d['pcc_cpu_s']:.1f} s CPU; peak RSS {d['peak_rss_mib']:.0f} MiB.",
            "",
        ]
    for size, other in results.get("other_sizes", {}).items():
        body = markdown({**other, "other_sizes": {}}).split("\n")
        lines += [f"# Another size: {size.replace('x', ' cells x ')} genes", ""]
        lines += [
            line if not line.startswith("#") else "#" + line
            for line in body[2:]
            if not line.startswith("Not measured here")
        ]
    return "\n".join(lines)


CLI_PATHS = {
    "streamed": "streamed (`--normalize total`, backed h5ad a chunk at a time)",
    "dense": "whole matrix in memory (the path before streaming)",
    "dask": "streamed on a dask LocalCluster (`--dask-scheduler local`)",
    "memory": "in-memory sparse AnnData (`anndata.read_h5ad`, then `DeepTGIModel.write`, normalize total)",
}


def cli_markdown(runs: dict) -> list[str]:
    """``deeptgi-rt score`` end-to-end runs: measured wall per stage against ``--plan``'s estimate."""
    stages = ("read", "pcc", "encode", "score", "write")
    lines = [
        "## End to end through `deeptgi-rt score` (edge file written), against `--plan`",
        "",
        "Wall seconds per stage as the run's summary reports them (model loading apart); the plan's "
        "estimate is CPU seconds of one thread, so on a shared machine wall exceeds it by the share of a "
        "core the run did not get (the CPU figure under each table).",
        "",
    ]
    for run in runs.values():
        edges = "every pair" if run["edges_option"] == "all" else f"`--top-k {run['edges_option']}`"
        chunk = run.get("plan_inputs", {}).get("chunk_cells")
        edges += f", {chunk:,} cells per chunk" if chunk and run["path"] != "dense" else ""
        lines += [
            f"### {CLI_PATHS[run['path']]}, {edges}",
            "",
            "| stage | plan s | measured wall s | measured / plan |",
            "|---|---:|---:|---:|",
        ]
        for stage in stages:
            plan, measured = run["plan_stage_s"][stage], run["stage_s"][stage]
            ratio = f"{measured / plan:.2f}" if plan > 0.05 else "—"
            lines.append(f"| {stage} | {plan:.1f} | {measured:.1f} | {ratio} |")
        # The stages above; the plan's start-up (``load``, since the fixed costs were added) is
        # compared with the whole command's CPU below.
        plan_total = sum(run["plan_stage_s"].get(stage, 0.0) for stage in stages)
        measured_total = sum(run["stage_s"][stage] for stage in stages)
        lines.append(
            f"| **total** | **{plan_total:.1f}** | **{measured_total:.1f}** | **{measured_total / plan_total:.2f}** |"
        )
        lines += [
            "",
            f"Whole command {run['wall_s']:.1f} s wall, {run['cpu_s']:.1f} s CPU of this process "
            f"(**{run['cpu_s'] / sum(run['plan_stage_s'].values()):.2f}x the plan**) "
            f"(model loading {run['stage_s']['load']:.1f} s; `--plan` itself {run['plan_s']:.1f} s); "
            f"peak RSS {run['peak_rss_mib']:.0f} MiB, plan {run['plan_peak_mib']:.0f} MiB "
            f"({run['peak_rss_mib'] / run['plan_peak_mib']:.2f}x); {run['edges_written']:,} edges "
            f"written (order: {run['order']}), {run['edge_file_mib']:.0f} MiB Parquet; load average "
            f"during the run {_load(run.get('load_average'))}.",
            "",
        ]
        if run["path"] == "memory":
            beyond = run.get("peak_beyond_object_mib")
            lines += [
                f"The object: `anndata.read_h5ad` took {run['read_h5ad_s']:.1f} s; its CSR X holds "
                f"{run['object_matrix_mib']:.0f} MiB and the process {run['rss_with_object_mib']:.0f} MiB with it "
                "before scoring; the peak above is the scoring run's own (VmHWM reset once the object was read), "
                + (
                    f"**{beyond:.0f} MiB beyond the object**."
                    if beyond is not None
                    else "not separable here (no clear_refs)."
                ),
                "",
            ]
        if run["path"] == "dask":
            lines += [
                "The dask workers are processes of their own: their memory is not in this peak, and their "
                "CPU time not in this process's CPU time.",
                "",
            ]
    return lines


def _load(values) -> str:
    return " ".join(f"{v:.1f}" for v in values) if values else "?"


if __name__ == "__main__":
    raise SystemExit(main())
