"""Genome-scale scoring benchmark: every TF x gene pair of a synthetic genome with the lite model.

Default sizes: 1,600 TFs x 20,000 genes (about 32 million pairs), 1,000 feature genes,
2,000 cells. The model is the ``lite`` architecture built with ``deeptgi_train`` (random
weights: scores are meaningless, timing is what is measured); without ``deeptgi_train`` a
contract-conforming stand-in of similar size built with ``onnx.helper`` is used and named.

Runs (each through the public API, as ``deeptgi-rt score`` does):
1. all pairs -> Parquet (the default output);
2. all pairs, ``top_k=100`` -> Parquet;
3. factorized vs end-to-end per-pair cost on a 200,000-pair sample (end to end = the whole
   graph on gathered per-pair features; factorized = the pair head on gathered states).

Prints per-stage times, pairs per second, peak RSS and the speed-up, then the goals.
``--members N`` scores with an N-member lite ensemble (what ``deeptgi-train --crossfit N`` or
``--members N`` exports) and also measures the single network's pair head on the same sample,
so the ensemble's head cost is a ratio from one run.

    python benchmarks/score.py [--tfs 1600 --genes 20000 --feature-genes 1000 --cells 2000] [--members 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from deeptgi_rt.api import load_model, peak_rss_bytes
from deeptgi_rt.contract import ModelMetadata
from deeptgi_rt.expression import Expression

GOAL_SECONDS = 120.0
GOAL_RSS = 4 * 2**30
GOAL_SPEEDUP = 20.0


def synthetic_expression(n_genes: int, n_cells: int, seed: int = 0) -> Expression:
    """Correlated synthetic expression: float32 ``[genes, cells]`` from 50 latent programs plus noise."""
    rng = np.random.default_rng(seed)
    programs = rng.standard_normal((50, n_cells)).astype(np.float32)
    loadings = rng.standard_normal((n_genes, 50)).astype(np.float32) * 0.3
    values = loadings @ programs + rng.standard_normal((n_genes, n_cells)).astype(np.float32)
    genes = [f"G{i:05d}" for i in range(n_genes)]
    return Expression(genes=genes, values=np.ascontiguousarray(values), source="<synthetic>")


def build_lite(
    path: Path, feature_genes: list[str], tfs: list[str], stand_in: bool = False, members: int = 1, student: str = ""
) -> str:
    """Write the lite model (random init; ``members`` > 1: an ensemble) to ``path``; returns a
    description of what was built.

    ``stand_in`` builds the onnx.helper stand-in even when deeptgi_train is available (its
    head has lite's multiply-add count but only 11 operators: a measure of the engine itself).
    ``student="compact"`` builds the compact distilled student instead (bilinear head, scored
    by the runtime as a GEMM; ``deeptgi_train.distill``).
    """
    metadata = ModelMetadata(
        feature_genes=feature_genes,
        modalities=["single_cell"],
        preprocessing=["none"],
        threshold=0.5,
        tfs=tfs,
        training={"note": "untrained (random init), benchmark only"},
    )
    if stand_in:
        return build_stand_in(path, metadata, reason="requested with --stand-in")
    try:
        import torch

        from deeptgi_train.configs import model_config
        from deeptgi_train.export import export_onnx
        from deeptgi_train.model import build_deeptgi
    except ImportError as exc:
        return build_stand_in(path, metadata, reason=f"deeptgi_train unavailable: {exc}")
    torch.manual_seed(0)
    if student == "compact":
        import dataclasses

        from deeptgi_train.distill import build_student

        model = build_student("compact", 1, len(feature_genes), ("pcc",)).eval()
        export_onnx(model, dataclasses.replace(metadata, head=model.head_metadata()), path)
        return f"deeptgi_train compact student (bilinear head, random init, state size {model.state_size})"
    config = model_config("lite", members=members)
    model = build_deeptgi(config, 1, len(feature_genes)).eval()
    export_onnx(model, metadata, path)
    return f"deeptgi_train lite ({members} member(s), random init, state size {model.state_size})"


def build_stand_in(path: Path, metadata: ModelMetadata, reason: str) -> str:
    """A contract-conforming stand-in of lite-like size: 224-float states, a 3-layer head."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import onnx
    from onnx_models import build_model

    model = build_model(metadata.feature_genes, head="mlp", state_size=224, hidden=64, tfs=metadata.tfs)
    onnx.save(model, str(path))
    return f"onnx.helper stand-in (224-float states, mlp head 672->64->64->1, ~47k multiply-adds per pair; {reason})"


def run_write(model, out: Path, expression, tfs, **options) -> dict:
    cpu = time.process_time()
    summary = model.write(out, expression, tfs=tfs, **options)
    row = dict(summary.stage_seconds)
    # CPU seconds of the process next to wall time: on a shared machine wall time depends on
    # what else runs, CPU time much less.
    row["cpu"] = time.process_time() - cpu
    row["total"] = summary.total_seconds
    row["pairs"] = summary.pairs_scored
    row["edges"] = summary.edges_written
    row["order"] = summary.order
    row["pairs/s (score)"] = summary.pairs_scored / max(summary.stage_seconds["score"], 1e-9)
    row["pairs/s (total)"] = summary.pairs_scored / max(summary.total_seconds, 1e-9)
    row["MB"] = out.stat().st_size / 2**20
    return row


def speedup(model, expression, tfs, sample: int, seed: int = 0) -> dict:
    """Per-pair cost of the pair head on gathered states vs the whole graph on gathered features."""
    from deeptgi_rt.features import entity_features

    rng = np.random.default_rng(seed)
    genes = expression.genes
    tf_pick = rng.choice(len(tfs), sample)
    gene_pick = rng.choice(len(genes), sample)
    names = sorted(set(tfs[i] for i in tf_pick) | set(genes[i] for i in gene_pick))
    position = {name: i for i, name in enumerate(names)}
    feats = entity_features([expression], names, model.metadata.feature_genes)
    tf_rows = np.array([position[tfs[i]] for i in tf_pick])
    gene_rows = np.array([position[genes[i]] for i in gene_pick])
    inner = model._model
    batch = 65_536
    # A model that reads the pair's own PCC gets it per sampled pair (the TF x name table, gathered).
    pairs = None
    if inner.uses_pair_features:
        from deeptgi_rt.features import pair_feature_table

        sampled_tfs = sorted({tfs[i] for i in tf_pick})
        table = pair_feature_table([expression], sampled_tfs, names, inner.pair_feature_kinds)
        tf_index = {name: i for i, name in enumerate(sampled_tfs)}
        pairs = np.ascontiguousarray(table[[tf_index[tfs[i]] for i in tf_pick], gene_rows])

    def pair_slice(s):
        return None if pairs is None else pairs[s : s + batch]

    started = time.perf_counter()
    e2e = np.concatenate(
        [
            inner.end_to_end_scores(feats[tf_rows[s : s + batch]], feats[gene_rows[s : s + batch]], pair_slice(s))
            for s in range(0, sample, batch)
        ]
    )
    e2e_seconds = time.perf_counter() - started

    started = time.perf_counter()
    tf_table = inner.tf_table(feats)
    gene_table = inner.gene_table(feats)
    encode_seconds = time.perf_counter() - started
    started = time.perf_counter()
    fact = np.concatenate(
        [
            inner.pair_scores(
                np.ascontiguousarray(tf_table[tf_rows[s : s + batch]]),
                np.ascontiguousarray(gene_table[gene_rows[s : s + batch]]),
                pair_slice(s),
            )
            for s in range(0, sample, batch)
        ]
    )
    head_seconds = time.perf_counter() - started
    return {
        "sample pairs": sample,
        "end-to-end s": e2e_seconds,
        "factorized head s": head_seconds,
        f"encode {len(names)} entities s": encode_seconds,
        "speed-up per pair (head vs e2e)": e2e_seconds / head_seconds,
        "max |score diff|": float(np.abs(e2e - fact).max()),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tfs", type=int, default=1600)
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--feature-genes", type=int, default=1000)
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--sample", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--top-k", type=int, default=100)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--stand-in", action="store_true", help="use the onnx.helper stand-in instead of lite")
    parser.add_argument("--members", type=int, default=1, help="lite ensemble members (default 1)")
    parser.add_argument(
        "--student", choices=("compact",), default="", help="time the compact distilled student instead of lite"
    )
    parser.add_argument("--workdir", default=None, help="where outputs go (default: a temporary directory)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        expression = synthetic_expression(args.genes, args.cells)
        rng = np.random.default_rng(1)
        feature_genes = [
            expression.genes[i] for i in np.sort(rng.choice(args.genes, args.feature_genes, replace=False))
        ]
        tfs = [expression.genes[i] for i in np.sort(rng.choice(args.genes, args.tfs, replace=False))]
        model_path = tmp / "lite.onnx"
        built = build_lite(
            model_path, feature_genes, tfs, stand_in=args.stand_in, members=args.members, student=args.student
        )
        setup = time.perf_counter() - started
        model = load_model(model_path, device=args.device)
        print(f"model: {built}")
        print(
            f"sizes: {args.tfs:,} TFs x {args.genes:,} genes, {args.feature_genes:,} feature genes, "
            f"{args.cells:,} cells; providers {model.providers}, PCC {model.pcc_backend}, "
            f"factorized {model.factorized}; setup {setup:.1f} s"
        )

        rows = {
            "all pairs -> parquet": run_write(model, tmp / "all.parquet", expression, tfs, batch_size=args.batch_size),
            f"top-k {args.top_k} -> parquet": run_write(
                model, tmp / "topk.parquet", expression, tfs, top_k=args.top_k, batch_size=args.batch_size
            ),
        }
        rss_after_runs = peak_rss_bytes()
        keys = [
            "read",
            "pcc",
            "encode",
            "score",
            "write",
            "total",
            "cpu",
            "pairs",
            "edges",
            "order",
            "pairs/s (score)",
            "pairs/s (total)",
            "MB",
        ]
        print()
        print("| run | " + " | ".join(keys) + " |")
        print("|---" * (len(keys) + 1) + "|")
        for name, row in rows.items():
            cells = [
                f"{row[k]:,.0f}"
                if k in ("pairs", "edges", "pairs/s (score)", "pairs/s (total)")
                else (row[k] if isinstance(row[k], str) else f"{row[k]:.2f}")
                for k in keys
            ]
            print(f"| {name} | " + " | ".join(cells) + " |")
        print(f"\npeak RSS after the scoring runs: {rss_after_runs / 2**30:.2f} GiB")

        ratio = speedup(model, expression, tfs, args.sample)
        print("\nfactorized vs end to end:")
        for key, value in ratio.items():
            print(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value:,}")

        if args.members > 1:
            build_lite(tmp / "single.onnx", feature_genes, tfs)
            single = speedup(load_model(tmp / "single.onnx", device=args.device), expression, tfs, args.sample)
            print(
                f"  pair head, {args.members} members vs 1 network on the same sample: "
                f"{ratio['factorized head s'] / single['factorized head s']:.2f}x the time"
            )

        full = rows["all pairs -> parquet"]
        per_pair = ratio["end-to-end s"] / ratio["sample pairs"]
        print(
            f"  genome scale: end to end would take {per_pair * full['pairs']:.0f} s for the "
            f"{full['pairs']:,} pairs vs {full['total']:.0f} s factorized, all stages "
            f"({per_pair * full['pairs'] / full['total']:.1f}x)"
        )
        print("\ngoals:")
        print(
            f"  all pairs end to end <= {GOAL_SECONDS:.0f} s: {full['total']:.1f} s "
            f"({'met' if full['total'] <= GOAL_SECONDS else 'NOT met'})"
        )
        print(
            f"  peak RSS <= 4 GiB: {rss_after_runs / 2**30:.2f} GiB "
            f"({'met' if rss_after_runs <= GOAL_RSS else 'NOT met'})"
        )
        s = ratio["speed-up per pair (head vs e2e)"]
        print(
            f"  factorized >= {GOAL_SPEEDUP:.0f}x faster per pair: {s:.1f}x "
            f"({'met' if s >= GOAL_SPEEDUP else 'NOT met'})"
        )
        print(json.dumps({"rows": rows, "speedup": ratio, "peak_rss": rss_after_runs}, default=str), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
