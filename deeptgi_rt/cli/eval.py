"""`deeptgi-rt eval`: evaluate edge lists against a ground-truth network on one candidate set."""

from __future__ import annotations

import argparse

from . import add_quiet, require_inputs


def add_parser(subparsers) -> None:
    """Register the `eval` subcommand."""
    parser = subparsers.add_parser(
        "eval",
        help="evaluate edge lists against a ground-truth network",
        description=(
            "Evaluate one or more predicted edge lists (deeptgi-rt score output, GRNBoost2/pySCENIC TF/target/"
            "importance, decoupler source/target/weight, any table with TF, target and score columns) against a "
            "ground-truth network (Gene1/Gene2, TF/target or source/target) on one candidate set: candidate TFs x "
            "candidate genes, self-pairs excluded. Candidates a method does not list get the lowest score. "
            "Metrics: AUROC, AUPRC (average precision), AUPRC ratio, EPR (BEELINE), target-wise AUROC, per-TF "
            "AUROC/AUPRC."
        ),
    )
    parser.add_argument("predictions", nargs="+", metavar="PRED", help="predicted edge lists (Parquet, CSV, TSV)")
    parser.add_argument("--truth", required=True, metavar="NETWORK", help="ground-truth network (CSV/TSV/Parquet)")
    parser.add_argument(
        "--tfs",
        metavar="FILE",
        help="candidate TFs, a gene list (default: the truth's TFs that every prediction lists)",
    )
    genes = parser.add_mutually_exclusive_group(required=True)
    genes.add_argument("--genes", metavar="FILE", help="candidate target genes, a gene list")
    genes.add_argument("--expr", metavar="EXPR", help="an expression file whose genes are the candidate targets")
    parser.add_argument("--names", nargs="+", metavar="NAME", help="a row name per PRED (default: file names)")
    parser.add_argument(
        "--prior-from",
        metavar="LABELS",
        help="add the label-only prior (target in-degree among these labelled edges) as a row",
    )
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        metavar="N",
        help="95%% intervals from N resamples of TFs (and of targets for target-wise AUROC); default 0",
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument(
        "--report",
        metavar="DIR",
        help="write metrics.json, metrics.csv, roc.png and pr.png here (needs the plot extra)",
    )
    add_quiet(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the table, write the report."""
    # A missing input fails before polars, pyarrow and the metrics are imported.
    require_inputs(
        (args.truth, "truth network"),
        (args.predictions, "prediction file"),
        (args.tfs, "gene list"),
        (args.genes, "gene list"),
        (args.expr, "file"),
        (args.prior_from, "truth network"),
    )
    from ..evaluation import evaluate
    from ..evaluation_report import check_report_dir, print_table, write_report

    report = check_report_dir(args.report) if args.report else None
    result = evaluate(
        args.predictions,
        args.truth,
        tfs=args.tfs,
        genes=args.genes,
        expression=args.expr,
        names=args.names,
        prior_from=args.prior_from,
        bootstrap=args.bootstrap,
        seed=args.seed,
    )
    if not args.quiet:
        print_table(result)
    if report is not None:
        write_report(result, report)
    return 0
