"""Cost of scoring pairs with a factorized DeepTGI model: pair head vs end-to-end graph.

Builds a model (default: ``lite``, random weights) for ``--genes`` feature genes and
``--modalities`` modalities, exports it with ``deeptgi_train.export.export_onnx``, cuts it at
the state tensors with ``onnx.utils.Extractor`` (as the runtime does) and measures with
onnxruntime on CPU:

* the pair head's multiply-adds per pair (MatMul / Gemm / Conv nodes, from ONNX shape inference);
* head throughput (pairs/s) at ``--batch`` pairs per run on random states;
* entity encoder throughput (entities/s);
* end-to-end throughput of the whole graph (pairs/s) at ``--full-batch`` pairs per run.

Run: ``python benchmarks/head.py [--config lite] [--genes 1000] [--threads 2] [--set KEY=JSON]``.

``--kinds`` instead compares the head kinds a shipped model can have, each through the runtime
(``deeptgi_rt.model.ScoringModel``, as ``deeptgi-rt score`` runs it; random weights, one
modality, the pair PCC input): the teacher ensemble (5 ``lite`` members), one ``lite`` network
and the compact distilled student (bilinear head, computed as a GEMM). For each: multiply-adds
per pair, pairs/s, achieved G multiply-adds/s, and a bare float32 GEMM of comparable size timed in
the same run (the machine's practical limit) with the ratio; ``--out`` writes JSON and Markdown.

``--tune`` measures what the runtime controls on a shipped model's ONNX pair head (``--model``,
default the shipped ``mdc-lite``), on real states: ``--tune-tfs`` of its TFs against
``--tune-genes`` genes of ``--expr`` (default the mdc data set), encoded as ``deeptgi-rt score``
encodes them. Each variant changes one setting from the runtime's own (``deeptgi_rt.devices.
session_options``: all graph optimisations, memory arena on, one intra-op thread here, 8,192-pair
batches): graph optimisation level, batch size, memory arena, intra-op threads, int8 dynamic
quantisation and float16 weights, and the whole graph without the encoder/head cut. Each gets
pairs/s (wall and per CPU second, best of ``--repeats``) side by side, and, where the numbers can
change, its agreement with the runtime's scores (max |score difference|, Spearman, overlap of the
top 1 %).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import onnx
import onnx.utils
import onnxruntime as ort
import torch

from deeptgi_rt.contract import GENE_INPUT, SCORE_OUTPUT, TF_INPUT, ModelMetadata
from deeptgi_train.configs import model_config
from deeptgi_train.export import export_onnx
from deeptgi_train.model import build_deeptgi

GENOME_PAIRS = 32_000_000
REPO = Path(__file__).resolve().parents[1]


def multiply_adds_per_pair(graph_model: onnx.ModelProto) -> int:
    """Multiply-adds of one pair through ``graph_model``'s MatMul, Gemm and Conv nodes."""
    model = onnx.ModelProto()
    model.CopyFrom(graph_model)
    for tensor in list(model.graph.input) + list(model.graph.output):
        tensor.type.tensor_type.shape.dim[0].dim_value = 1
    del model.graph.value_info[:]
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    shapes = {}
    for info in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        shapes[info.name] = [d.dim_value for d in info.type.tensor_type.shape.dim]
    for init in model.graph.initializer:
        shapes[init.name] = list(init.dims)
    total = 0
    for node in model.graph.node:
        if node.op_type == "MatMul":
            total += int(np.prod(shapes[node.output[0]])) * shapes[node.input[0]][-1]
        elif node.op_type == "Gemm":
            trans_a = next((a.i for a in node.attribute if a.name == "transA"), 0)
            a_shape = shapes[node.input[0]]
            total += int(np.prod(shapes[node.output[0]])) * (a_shape[0] if trans_a else a_shape[1])
        elif node.op_type == "Conv":
            weight = shapes[node.input[1]]
            total += int(np.prod(shapes[node.output[0]])) * int(np.prod(weight[1:]))
    return total


def session(model: onnx.ModelProto | str, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def rate(run, items: int, repeats: int) -> tuple[float, float]:
    """``(items per wall-clock second, items per CPU second)`` of ``run()``, best of ``repeats``
    after one warm-up call. CPU time (all threads) is less disturbed by other processes."""
    run()
    timings = [_timed(run) for _ in range(repeats)]
    return items / min(wall for wall, _ in timings), items / min(cpu for _, cpu in timings)


def _timed(run) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def _gemm_rate(m: int, k: int, n: int, repeats: int) -> float:
    """Achieved multiply-adds per second of a bare float32 ``[m, k] @ [k, n]`` numpy GEMM."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    out = np.empty((m, n), dtype=np.float32)
    per_wall, _ = rate(partial(np.matmul, a, b, out=out), m * k * n, repeats)
    return per_wall


def head_kinds(args) -> list[dict]:
    """One row per head kind (see the module docs)."""
    from deeptgi_rt.model import ScoringModel, head_inputs, read_model
    from deeptgi_rt.scoring import DEFAULT_BATCH_SIZE, GEMM_BLOCK_PAIRS
    from deeptgi_train.distill import build_student

    rng = np.random.default_rng(0)
    metadata = ModelMetadata(
        feature_genes=[f"g{i}" for i in range(args.genes)], modalities=["m0"], preprocessing=["none"], threshold=0.5
    )
    builds = {
        "teacher ensemble (5 x lite)": lambda: build_deeptgi(model_config("lite", members=5), 1, args.genes),
        "one lite network": lambda: build_deeptgi(model_config("lite"), 1, args.genes),
        "compact student (bilinear)": lambda: build_student("compact", 1, args.genes, ("pcc",)),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, build in builds.items():
            torch.manual_seed(0)
            model = build().eval()
            meta = metadata
            if hasattr(model, "head_metadata"):
                meta = ModelMetadata(**{**metadata.__dict__, "head": model.head_metadata()})
            path = Path(tmp) / "m.onnx"
            export_onnx(model, meta, path)
            scoring = ScoringModel(path, device="cpu", threads=args.threads)
            state = scoring.tf_table(rng.uniform(-1, 1, (4, 1, args.genes)).astype(np.float32)).shape[1]
            if scoring.bilinear is not None:
                head = scoring.bilinear
                macs = head.rank + 2 * len(head.terms)  # the GEMM's rank, plus slope x term per pair term
                genes = args.gemm_genes
                tfs = max(1, GEMM_BLOCK_PAIRS // genes)
                tf_block = rng.standard_normal((tfs, state)).astype(np.float32)
                gene_table = rng.standard_normal((genes, state)).astype(np.float32)
                pair_block = rng.uniform(-1, 1, (tfs, genes, 1, 1)).astype(np.float32)
                pairs = tfs * genes
                per_wall, _ = rate(partial(head.block_scores, tf_block, gene_table, pair_block), pairs, args.repeats)
                gemm = (tfs, head.rank, genes)
                batch = pairs
            else:
                proto, read_meta = read_model(path)
                head_proto = onnx.utils.Extractor(proto).extract_model(head_inputs(read_meta), [SCORE_OUTPUT])
                macs = multiply_adds_per_pair(head_proto)
                batch = DEFAULT_BATCH_SIZE
                tf_rows = rng.standard_normal((batch, state)).astype(np.float32)
                gene_rows = rng.standard_normal((batch, state)).astype(np.float32)
                pair_rows = rng.uniform(-1, 1, (batch, 1, 1)).astype(np.float32)
                per_wall, _ = rate(partial(scoring.pair_scores, tf_rows, gene_rows, pair_rows), batch, args.repeats)
                # A GEMM doing the head's multiply-adds for the batch in one [batch, 256] x [256, n] product.
                gemm = (batch, 256, max(1, round(macs / 256)))
            gemm_rate = _gemm_rate(*gemm, args.repeats)
            achieved = per_wall * macs
            rows.append(
                {
                    "head": label,
                    "state_floats": int(state),
                    "macs_per_pair": int(macs),
                    "pairs_per_call": int(batch),
                    "pairs_per_s": per_wall,
                    "gmacs_per_s": achieved / 1e9,
                    "gemm_shape": list(gemm),
                    "gemm_gmacs_per_s": gemm_rate / 1e9,
                    "ratio_to_gemm": achieved / gemm_rate,
                    "genome_seconds": GENOME_PAIRS / per_wall,
                }
            )
    return rows


def _tune_inputs(args):
    """The shipped model, its head graph, and real head inputs ``(tf_rows, gene_rows, pair_rows)``
    (float32 ``[tfs * genes, ...]``, TF-major) and features for the end-to-end graph."""
    from deeptgi_rt.features import entity_features, pair_pcc
    from deeptgi_rt.model import ScoringModel, read_model, split_model
    from deeptgi_train.distill import read_modalities

    scoring = ScoringModel(args.model, device="cpu", threads=1)
    meta = scoring.metadata
    modalities = read_modalities(scoring, args.expr, None)
    expression = modalities[0]
    rng = np.random.default_rng(0)
    tfs = sorted(rng.choice(sorted(set(meta.tfs) & set(expression.genes)), args.tune_tfs, replace=False))
    genes = list(expression.genes)
    if args.tune_genes:
        genes = sorted(rng.choice(genes, min(args.tune_genes, len(genes)), replace=False))
    tf_features = entity_features(modalities, tfs, meta.feature_genes, min_coverage=0.0)
    gene_features = entity_features(modalities, genes, meta.feature_genes, min_coverage=0.0)
    pcc = pair_pcc(modalities, tfs, genes)  # [tfs, genes, modalities]
    tf_states, gene_states = scoring.tf_table(tf_features), scoring.gene_table(gene_features)
    n_tf, n_gene = len(tfs), len(genes)
    feeds = (
        np.ascontiguousarray(np.repeat(tf_states, n_gene, axis=0)),
        np.ascontiguousarray(np.tile(gene_states, (n_tf, 1))),
        np.ascontiguousarray(pcc.reshape(n_tf * n_gene, -1, 1)),
    )
    features = (np.repeat(tf_features, n_gene, axis=0), np.tile(gene_features, (n_tf, 1, 1)))
    proto, read_meta = read_model(scoring.path)
    head = split_model(proto, read_meta, scoring.path).pair_head
    return scoring, proto, head, feeds, features


def tune_rows(args) -> list[dict]:
    """One row per runtime setting on the shipped model's pair head (see the module docs)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.float16 import convert_float_to_float16
    from scipy.stats import spearmanr

    from deeptgi_rt.contract import PAIR_INPUT
    from deeptgi_rt.defaults import DEFAULT_BATCH_SIZE
    from deeptgi_rt.devices import session_options
    from deeptgi_rt.model import head_inputs

    scoring, proto, head, feeds, features = _tune_inputs(args)
    names = head_inputs(scoring.metadata)
    pairs = len(feeds[0])

    def build(model: onnx.ModelProto, **changes) -> ort.InferenceSession:
        options = session_options(changes.pop("threads", 1))
        for key, value in changes.items():
            setattr(options, key, value)
        return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])

    def scorer(session: ort.InferenceSession, batch: int, inputs=names, arrays=feeds):
        def run() -> np.ndarray:
            out = np.empty(pairs, dtype=np.float32)
            for start in range(0, pairs, batch):
                feed = {name: a[start : start + batch] for name, a in zip(inputs, arrays)}
                out[start : start + batch] = session.run([SCORE_OUTPUT], feed)[0].reshape(-1)
            return out

        return run

    level = ort.GraphOptimizationLevel
    # The cut keeps the full graph's value_info, whose batch dimensions the quantiser's shape
    # inference would contradict; the head's own shapes are inferred afresh.
    clean = onnx.ModelProto()
    clean.CopyFrom(head)
    del clean.graph.value_info[:]

    def int8() -> onnx.ModelProto:
        with tempfile.TemporaryDirectory() as tmp:
            float_path, int8_path = Path(tmp) / "head.onnx", Path(tmp) / "head-int8.onnx"
            onnx.save(clean, float_path)
            quantize_dynamic(str(float_path), str(int8_path), weight_type=QuantType.QInt8)
            return onnx.load(int8_path)

    variants: list[tuple[str, object]] = [
        (
            "runtime settings (all optimisations, arena on, 1 thread, 8,192 pairs/run)",
            lambda: scorer(build(head), DEFAULT_BATCH_SIZE),
        ),
        (
            "graph optimisation: disabled",
            lambda: scorer(build(head, graph_optimization_level=level.ORT_DISABLE_ALL), DEFAULT_BATCH_SIZE),
        ),
        (
            "graph optimisation: basic",
            lambda: scorer(build(head, graph_optimization_level=level.ORT_ENABLE_BASIC), DEFAULT_BATCH_SIZE),
        ),
        (
            "graph optimisation: extended",
            lambda: scorer(build(head, graph_optimization_level=level.ORT_ENABLE_EXTENDED), DEFAULT_BATCH_SIZE),
        ),
        *[
            (f"batch {size:,} pairs/run", partial(lambda size: scorer(build(head), size), size))
            for size in (1024, 65_536, pairs)
        ],
        ("memory arena off", lambda: scorer(build(head, enable_cpu_mem_arena=False), DEFAULT_BATCH_SIZE)),
        ("2 intra-op threads", lambda: scorer(build(head, threads=2), DEFAULT_BATCH_SIZE)),
        (
            "int8 dynamic quantisation (weights int8, activations per batch)",
            lambda: scorer(build(int8()), DEFAULT_BATCH_SIZE),
        ),
        (
            "float16 weights and activations (inputs, outputs float32)",
            lambda: scorer(build(convert_float_to_float16(clean, keep_io_types=True)), DEFAULT_BATCH_SIZE),
        ),
        (
            "whole graph, no encoder/head cut (features per pair)",
            lambda: scorer(build(proto), DEFAULT_BATCH_SIZE, [TF_INPUT, GENE_INPUT, PAIR_INPUT], (*features, feeds[2])),
        ),
    ]
    rows, runs, reference = [], {}, None
    for label, make in variants:
        try:
            run = make()
            scores = run()  # also the warm-up: first runs at a batch size allocate
        except Exception as error:  # noqa: BLE001 - a setting this build cannot run is a finding
            rows.append({"setting": label, "error": str(error).splitlines()[0][:160]})
            continue
        reference = scores if reference is None else reference
        top = max(1, pairs // 100)
        overlap = len(np.intersect1d(np.argsort(-reference)[:top], np.argsort(-scores)[:top])) / top
        rows.append(
            {
                "setting": label,
                "max_abs_diff": float(np.abs(scores - reference).max()),
                "spearman": float(spearmanr(scores, reference)[0]),
                "top1pct_overlap": overlap,
            }
        )
        runs[label] = run
    # Round-robin over the settings, best of --repeats each: the shared machine's drift then
    # falls on every setting alike instead of on whichever ran during a busy minute.
    timings: dict[str, list[tuple[float, float]]] = {label: [] for label in runs}
    for _ in range(args.repeats):
        for label, run in runs.items():
            timings[label].append(_timed(run))
    for row in rows:
        if row["setting"] in timings:
            row["pairs_per_s"] = pairs / min(wall for wall, _ in timings[row["setting"]])
            row["pairs_per_cpu_s"] = pairs / min(cpu for _, cpu in timings[row["setting"]])
    return rows


def report(lines: list[str], rows: list[dict], args) -> None:
    """Print the Markdown ``lines``; with ``--out``, write them to OUT.md and ``rows`` to OUT.json."""
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).with_suffix(".md").write_text(text)
        Path(args.out).with_suffix(".json").write_text(json.dumps({"settings": vars(args), "rows": rows}, indent=2))


def tune_main(args) -> None:
    rows = tune_rows(args)
    base = rows[0]
    lines = [
        f"# Runtime settings on the pair head of `{Path(args.model).name}` "
        f"(onnxruntime {ort.__version__}, CPU, real states: {args.tune_tfs} TFs x {args.tune_genes or 'all'} genes)",
        "",
        f"Run: `python benchmarks/head.py --tune --model {args.model} --expr {args.expr}`; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at the end. One setting changed at a time "
        "from the runtime's; all rows measured in the same run (best of "
        f"{args.repeats}); agreement is with the first row's scores.",
        "",
        "| setting | pairs/s | pairs / CPU-s | vs runtime (CPU-s) | max abs score diff | Spearman | top-1 % overlap |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['setting']} | not run: {row['error']} | | | | | |")
            continue
        lines.append(
            f"| {row['setting']} | {row['pairs_per_s']:,.0f} | {row['pairs_per_cpu_s']:,.0f} "
            f"| {row['pairs_per_cpu_s'] / base['pairs_per_cpu_s']:.2f}x | {row['max_abs_diff']:.1e} "
            f"| {row['spearman']:.5f} | {row['top1pct_overlap']:.1%} |"
        )
    report(lines, rows, args)


def kinds_main(args) -> None:
    rows = head_kinds(args)
    lines = [
        f"# Pair head cost by head kind ({args.genes} feature genes, 1 modality with pair PCC, "
        f"{args.threads} thread(s), onnxruntime {ort.__version__}, numpy {np.__version__}, random weights)",
        "",
        f"Run: `python benchmarks/head.py --kinds --threads {args.threads}`; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at the end. Each head through the runtime "
        "(`ScoringModel`): ONNX heads per pair on 8,192-pair batches, the bilinear head as one GEMM per "
        "block of TFs against all genes. The bare GEMM is timed in the same run.",
        "",
        "| head | state floats | multiply-adds / pair | pairs/s | G multiply-adds/s | bare GEMM shape "
        "| GEMM G multiply-adds/s | ratio | 32 M pairs (s) | vs teacher pairs/s |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    teacher = rows[0]["pairs_per_s"]
    for row in rows:
        lines.append(
            f"| {row['head']} | {row['state_floats']:,} | {row['macs_per_pair']:,} | {row['pairs_per_s']:,.0f} "
            f"| {row['gmacs_per_s']:.2f} | {' x '.join(map(str, row['gemm_shape']))} "
            f"| {row['gemm_gmacs_per_s']:.2f} | {row['ratio_to_gemm']:.1%} | {row['genome_seconds']:.1f} "
            f"| {row['pairs_per_s'] / teacher:.1f}x |"
        )
    report(lines, rows, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", action="store_true", help="compare the head kinds (see the module docs)")
    parser.add_argument("--gemm-genes", type=int, default=20_000, help="--kinds: genes per bilinear block")
    parser.add_argument("--tune", action="store_true", help="runtime settings on a shipped model (module docs)")
    parser.add_argument("--model", default=str(REPO / "deeptgi_rt" / "models" / "mdc-lite.onnx"), help="--tune")
    parser.add_argument(
        "--expr", default=str(REPO.parent / "shared" / "data" / "mdc" / "expression.csv"), help="--tune"
    )
    parser.add_argument("--tune-tfs", type=int, default=128, help="--tune: TFs of the model scored")
    parser.add_argument("--tune-genes", type=int, default=0, help="--tune: genes per TF (default all)")
    parser.add_argument("--out", help="--kinds, --tune: write OUT.json and OUT.md")
    parser.add_argument("--config", default="lite")
    parser.add_argument("--genes", type=int, default=1000, help="feature genes")
    parser.add_argument("--modalities", type=int, default=1)
    parser.add_argument("--batch", type=int, default=65_536, help="pairs per head run")
    parser.add_argument("--full-batch", type=int, default=8_192, help="pairs per end-to-end run")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="config override, e.g. --set fusion='\"mlp\"' --set token_dim=16",
    )
    args = parser.parse_args()
    if args.kinds:
        kinds_main(args)
        return
    if args.tune:
        tune_main(args)
        return
    overrides = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}

    torch.manual_seed(0)
    model = build_deeptgi(model_config(args.config, **overrides), args.modalities, args.genes)
    metadata = ModelMetadata(
        feature_genes=[f"g{i}" for i in range(args.genes)],
        modalities=[f"m{i}" for i in range(args.modalities)],
        preprocessing=["none"] * args.modalities,
        threshold=0.5,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        exported = export_onnx(model, metadata, path)
        full_proto = onnx.load(path)
    names = exported["state_tensors"]
    extractor = onnx.utils.Extractor(full_proto)
    head_proto = extractor.extract_model([names["tf"], names["gene"]], [SCORE_OUTPUT])
    encoder_proto = extractor.extract_model([TF_INPUT], [names["tf"]])
    head_macs = multiply_adds_per_pair(head_proto)
    encoder_macs = multiply_adds_per_pair(encoder_proto)
    full_macs = multiply_adds_per_pair(full_proto)

    rng = np.random.default_rng(0)
    states = {name: rng.standard_normal((args.batch, model.state_size)).astype(np.float32) for name in names.values()}
    head = session(head_proto, args.threads)
    head_rate = rate(lambda: head.run([SCORE_OUTPUT], states), args.batch, args.repeats)

    shape = (args.full_batch, args.modalities, args.genes)
    features = {name: rng.uniform(-1, 1, shape).astype(np.float32) for name in (TF_INPUT, GENE_INPUT)}
    full = session(full_proto, args.threads)
    full_rate = rate(lambda: full.run([SCORE_OUTPUT], features), args.full_batch, args.repeats)
    encoder = session(encoder_proto, args.threads)
    encoder_rate = rate(lambda: encoder.run(None, {TF_INPUT: features[TF_INPUT]}), args.full_batch, args.repeats)

    print(
        f"DeepTGI '{args.config}' {overrides or ''}: {args.genes} feature genes x {args.modalities} modality(ies), "
        f"onnxruntime {ort.__version__} CPU, {args.threads} intra-op threads, random weights"
    )
    print(
        f"state per entity: {model.state_size} floats; parity max abs diff {exported['max_abs_diff']:.2e}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    rows = [
        ("pair head", head_macs, args.batch, head_rate, "pairs"),
        ("entity encoder (one side)", encoder_macs, args.full_batch, encoder_rate, "entities"),
        ("end-to-end graph", full_macs, args.full_batch, full_rate, "pairs"),
    ]
    print(f"{'graph':<28}{'MACs/item':>12}{'batch':>9}{'items/s wall':>15}{'items/CPU-s':>14}  item")
    for label, macs, batch, (per_wall, per_cpu), unit in rows:
        print(f"{label:<28}{macs:>12,}{batch:>9,}{per_wall:>15,.0f}{per_cpu:>14,.0f}  {unit}")
    print(
        f"head vs end-to-end per pair: {head_rate[0] / full_rate[0]:.1f}x faster wall-clock, "
        f"{head_rate[1] / full_rate[1]:.1f}x per CPU second ({full_macs / head_macs:.1f}x fewer multiply-adds)"
    )
    print(
        f"{GENOME_PAIRS:,} pairs (wall-clock): head {GENOME_PAIRS / head_rate[0]:.0f} s "
        f"vs end-to-end {GENOME_PAIRS / full_rate[0]:.0f} s"
    )


if __name__ == "__main__":
    main()
