"""`deeptgi-rt plot`: draw the top TFs of an inferred network and their top targets."""

from __future__ import annotations

from . import add_quiet, require_inputs


def add_parser(subparsers) -> None:
    """Register the ``plot`` subcommand."""
    parser = subparsers.add_parser(
        "plot",
        help="draw the top TFs of a scored network and their top targets (PNG/SVG/PDF)",
        description="Draw the network of the top TFs of an edge list written by `deeptgi-rt score` and their "
        'best targets. Needs the plot extra: pip install -e ".[plot]".',
    )
    parser.add_argument("edges", metavar="GRN", help="edge list from `deeptgi-rt score` (Parquet or TSV)")
    parser.add_argument("--out", required=True, help="image to write (.png, .svg or .pdf)")
    parser.add_argument("--tfs", nargs="+", metavar="TF", help="TFs to draw (default: the --top-tfs strongest)")
    parser.add_argument(
        "--top-tfs",
        type=int,
        default=5,
        help="TFs to draw when --tfs is not given: those with the most edges over the threshold, "
        "the ranking of the score summary (default 5)",
    )
    parser.add_argument("--top-targets", type=int, default=10, help="targets drawn per TF (default 10)")
    parser.add_argument(
        "--model",
        metavar="MODEL",
        help="rank TFs with this model's threshold, the one the score summary counts with "
        "(default: its genome-wide youden threshold; see --threshold)",
    )
    parser.add_argument(
        "--threshold",
        metavar="youden|balanced-youden|SCORE",
        help="rank TFs by their edges with score >= this: with --model, youden (default) or "
        "balanced-youden as in `score --threshold`; without, a SCORE (default: every edge in the "
        "file counts)",
    )
    parser.add_argument("--title", help="figure title")
    add_quiet(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    """Check the extra and the output, read the edges, pick the subnetwork, draw it atomically at ``--out``."""
    from ..atomic import atomic_output, check_output_path
    from ..catalog import resolve_model
    from ..errors import InputError, require_file
    from ..plot import draw_network, ranking_threshold, read_edges, require_plot_extra, select_subnetwork
    from ..progress import make_reporter

    # A missing input fails before matplotlib (the extra's check imports it) and onnx are imported.
    require_inputs((args.edges, "edge list"))
    if args.model is not None:
        require_file(resolve_model(args.model), what="model file", expected="an ONNX model")
    reporter = make_reporter(args.quiet)
    require_plot_extra()
    out = check_output_path(args.out)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise InputError(f"{out}: the image format must be .png, .svg or .pdf")
    metadata = None
    if args.model:
        from ..model import read_model

        metadata = read_model(args.model)[1]
    # The cut the score summary counted its top TFs with, so both list the same TFs.
    threshold = ranking_threshold(metadata, args.threshold)
    edges = read_edges(args.edges)
    subnetwork = select_subnetwork(
        edges,
        tfs=args.tfs,
        top_tfs=args.top_tfs,
        top_targets=args.top_targets,
        threshold=threshold,
        source=str(args.edges),
    )
    with atomic_output(out) as tmp:
        draw_network(subnetwork, tmp, image_format=out.suffix.lower().lstrip("."), title=args.title)
    reporter.info(f"wrote {out}: {subnetwork['TF'].n_unique()} TFs, {len(subnetwork)} edges")
    return 0
