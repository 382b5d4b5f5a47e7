"""`deeptgi-rt score`: score TF -> target pairs with a DeepTGI model and write a ranked edge list."""

from __future__ import annotations

import argparse
import time
from typing import cast

from .._types import OutputFormat
from ..defaults import DEFAULT_BATCH_SIZE
from ..tables import TARGET_COLUMNS, TF_COLUMNS
from . import add_quiet, command_started, require_inputs
from .convert import add_expression_options, add_streaming_options, add_transform_options, transform_option

DEFAULT_OUT = "grn.parquet"


def add_parser(subparsers) -> None:
    """Register the `score` subcommand."""
    parser = subparsers.add_parser(
        "score",
        help="score TF -> target pairs with a DeepTGI model",
        description=(
            "Score every TF -> target gene pair (or the pairs of --pairs) of an expression data set with a "
            "DeepTGI .onnx model and write the edge list, ranked by score. See docs/scoring.md."
        ),
    )
    parser.add_argument(
        "expression", metavar="EXPR", help="expression file (Parquet, CSV/TSV, h5ad); the single-cell modality"
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="MODEL",
        help="the DeepTGI model file, or a shipped model's name (`deeptgi-rt models`)",
    )
    parser.add_argument("--bulk", metavar="BULK", help="bulk expression file, for two-modality models")
    parser.add_argument("--tfs", metavar="TFS", help="gene list of TFs (default: the model's TFs found in the data)")
    parser.add_argument("--genes", metavar="GENES", help="gene list of targets (default: every gene in the data)")
    parser.add_argument(
        "--pairs",
        metavar="PAIRS",
        help="score only these pairs: Parquet/CSV/TSV with a TF column (any case: "
        f"{'/'.join(TF_COLUMNS)}) and a target column ({'/'.join(TARGET_COLUMNS)})",
    )
    parser.add_argument(
        "--unknown-pairs",
        choices=("skip", "error"),
        default="skip",
        help="pairs naming genes absent from the data: skip them (default) or fail",
    )
    parser.add_argument("--out", "-o", default=DEFAULT_OUT, help=f"output edge list (default: {DEFAULT_OUT})")
    parser.add_argument(
        "--format",
        choices=("parquet", "tsv", "decoupler"),
        default=None,
        help="parquet (TF, target, score), tsv (TF<TAB>target<TAB>importance: pySCENIC's adjacencies) or "
        "decoupler (source<TAB>target<TAB>weight: decoupler's network); the TSV forms are gzipped for .gz; "
        "default tsv for .tsv/.txt/.tab[.gz] names, else parquet",
    )
    parser.add_argument("--top-k", type=int, metavar="K", help="keep the K best targets per TF")
    parser.add_argument(
        "--threshold",
        metavar="youden|balanced-youden|density|FLOAT",
        help="keep edges with score >= this: youden = the model's threshold moved to the genome-wide "
        "density of its training network, balanced-youden = as chosen on balanced labelled "
        "pairs, density = the cut keeping the top-scored share of this run's pairs that the "
        "training network's density gives (not with --pairs) (docs/scoring.md); "
        "default: all pairs",
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where PCC and scoring run (default: auto = CUDA if it works, else CPU)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help=f"pairs per model run (default {DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="threads for onnxruntime, the numba PCC kernels and BLAS (default: the cores this "
        "process may use, capped by OMP_NUM_THREADS and similar)",
    )
    add_expression_options(parser)
    parser.add_argument(
        "--bulk-layout",
        default="auto",
        choices=("auto", "cells-by-genes", "genes-by-cells"),
        help="layout of --bulk (default auto)",
    )
    add_transform_options(parser, prefix="bulk-", what="--bulk")
    parser.add_argument(
        "--allow-missing-features",
        type=float,
        metavar="MIN_COVERAGE",
        help="accept missing feature genes (zero columns) when at least this fraction is present, e.g. 0.9",
    )
    parser.add_argument(
        "--max-sort-edges",
        type=int,
        default=None,
        metavar="N",
        help="sort globally by score when the output has at most N edges (default 50,000,000); "
        "larger outputs stay grouped per TF",
    )
    parser.add_argument(
        "--no-target-prior",
        dest="target_prior",
        action="store_false",
        help="score with the network alone, without the per-target prior a model trained with the "
        "prior offset carries (metadata target_prior; docs/scoring.md)",
    )
    add_streaming_options(parser)
    parser.add_argument(
        "--plan",
        action="store_true",
        help="print what the run will do (cells, genes, TFs, pairs, chunking) and its estimated "
        "time per stage and peak memory, then exit without writing --out",
    )
    add_quiet(parser)
    parser.set_defaults(run=run)


def output_format(out: str, fmt: str | None) -> OutputFormat:
    """The output format: ``fmt`` if given, else ``tsv`` for .tsv/.txt/.tab paths (optionally
    .gz, see :func:`~deeptgi_rt.tables.is_tsv_output`), else ``parquet``."""
    from ..tables import is_tsv_output

    if fmt is None:
        return "tsv" if is_tsv_output(out) else "parquet"
    # argparse's choices are exactly OutputFormat's values.
    return cast(OutputFormat, fmt)


def run(args: argparse.Namespace) -> int:
    """Score and write; print the summary unless ``--quiet``."""
    from ..atomic import check_output_path
    from ..catalog import resolve_model
    from ..errors import require_file

    # Everything checkable without reading data fails first: the options, then a missing input,
    # both before the model is loaded and before onnx, onnxruntime, polars or numba are imported.
    check_output_path(args.out)
    fmt = output_format(args.out, args.format)
    if fmt != "parquet":
        from ..edges import tsv_compression

        tsv_compression(args.out)
    from ..request import MAX_SORT_EDGES, ScoreRequest

    request = ScoreRequest(
        args.expression,
        bulk=args.bulk,
        tfs=args.tfs,
        genes=args.genes,
        pairs=args.pairs,
        top_k=args.top_k,
        threshold=args.threshold,
        batch_size=args.batch_size,
        layout=args.layout,
        bulk_layout=args.bulk_layout,
        case_insensitive=args.case_insensitive,
        var_names_column=args.var_names_column,
        transform=transform_option(args.log1p, args.normalize),
        bulk_transform=transform_option(args.bulk_log1p, args.bulk_normalize),
        min_coverage=1.0 if args.allow_missing_features is None else args.allow_missing_features,
        unknown_pairs=args.unknown_pairs,
        format=fmt,
        max_sort_edges=MAX_SORT_EDGES if args.max_sort_edges is None else args.max_sort_edges,
        target_prior=args.target_prior,
        layer=args.layer,
        use_raw=args.use_raw,
        chunk_cells=args.chunk_cells,
        dask_scheduler=args.dask_scheduler,
    )
    require_file(resolve_model(args.model), what="model file", expected="an ONNX model")
    require_inputs(
        (args.expression, "file"),
        (args.bulk, "file"),
        (args.tfs, "gene list"),
        (args.genes, "gene list"),
        (args.pairs, "pairs file"),
    )
    from ..api import load_model
    from ..progress import make_reporter

    reporter = make_reporter(args.quiet)
    model = load_model(args.model, device=args.device, threads=args.threads, reporter=reporter)
    if args.threads is not None:
        from ..threads import limit_threads

        # The process-wide pools (numba's PCC kernels, BLAS) follow --threads as onnxruntime does.
        limit_threads(args.threads)
    # The command's own start-up (imports, checks, thread pools) counts as loading, so that the
    # stages add up to the wall time a user sees, as the plan's estimate of them does.
    model._load_seconds = time.perf_counter() - command_started()
    if args.plan:
        print_plan(model.plan(request), reporter)
        return 0
    summary = model.write_request(args.out, request)
    if not args.quiet:
        print_summary(summary, reporter)
    return 0


def print_plan(summary, reporter) -> None:
    """The planned run (sizes, estimated time per stage and peak memory) as a table on stdout."""
    from rich.console import Console
    from rich.table import Table

    from ..plan import describe

    plan = summary.plan
    table = Table(
        title="deeptgi-rt score --plan (estimates: CPU seconds of one thread, start-up included; "
        "see deeptgi_rt/plan.py)",
        show_header=False,
        title_justify="left",
    )
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for what, value in describe(plan):
        table.add_row(what, value)
    for stage, seconds in plan.seconds.items():
        table.add_row(f"time: {stage}", f"{seconds:,.1f} s")
    table.add_row("time: total", f"{plan.total_seconds:,.1f} s")
    table.add_row("peak memory (RSS)", f"{plan.peak_bytes / 2**30:.2f} GiB")
    Console(width=max(100, getattr(getattr(reporter, "console", None), "width", 100))).print(table)


def print_summary(summary, reporter) -> None:
    """The run's summary as a rich table on stderr."""
    from rich.table import Table

    from ..thresholds import MIN_THRESHOLD_COVERAGE

    table = Table(title=f"deeptgi-rt score -> {summary.out}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    total = summary.total_seconds
    rate = summary.pairs_scored / summary.stage_seconds["score"] if summary.stage_seconds["score"] > 0 else 0.0
    table.add_row("TFs x targets", summary.scored_shape())
    table.add_row("pairs scored", f"{summary.pairs_scored:,}")
    table.add_row(
        f"edges with score >= {summary.counted_threshold:.4g} ({summary.counted_threshold_name})",
        f"{summary.edges_over_threshold:,} ({summary.share_over_threshold:.1%} of pairs)",
    )
    # With a float of the user's the model's cut is not the one counted, so its value is shown too.
    given = summary.counted_threshold_name == "given threshold"
    table.add_row("model threshold", (f"{summary.threshold:.4g}: " if given else "") + summary.threshold_how)
    if summary.feature_coverage < MIN_THRESHOLD_COVERAGE:
        table.add_row("", f"not meaningful at {summary.feature_coverage:.0%} feature-gene coverage")
    table.add_row("edges written", f"{summary.edges_written:,} (order: {summary.order})")
    plan = summary.plan
    for stage, seconds in summary.stage_seconds.items():
        planned = f" (plan {plan.seconds[stage]:.1f} s)" if plan is not None and stage in plan.seconds else ""
        table.add_row(f"time: {stage}", f"{seconds:.2f} s{planned}")
    table.add_row("time: total", f"{total:.2f} s" + (f" (plan {plan.total_seconds:.1f} s)" if plan else ""))
    table.add_row("scoring rate", f"{rate:,.0f} pairs/s")
    table.add_row("execution provider", ", ".join(summary.providers))
    table.add_row("PCC backend", summary.pcc_backend)
    table.add_row("factorized (encoders + pair head)", "yes" if summary.factorized else "no (end to end)")
    table.add_row(
        "peak memory (RSS)",
        f"{summary.peak_rss_bytes / 2**30:.2f} GiB"
        + (f" (plan {plan.peak_bytes / 2**30:.2f} GiB)" if plan is not None else ""),
    )
    if summary.top_tfs:
        table.add_row(
            f"top TFs by targets >= {summary.counted_threshold:.4g}",
            ", ".join(f"{name} ({count:,})" for name, count in summary.top_tfs),
        )
    console = getattr(reporter, "console", None)
    if console is not None:
        console.print(table)
