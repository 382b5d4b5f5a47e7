"""`deeptgi-rt convert`: any expression file -> the canonical Parquet layout."""

from __future__ import annotations

from .._types import Transform
from . import add_quiet


def add_expression_options(parser, *, log1p: bool = True) -> None:
    """``--layout``, the value transforms ``--log1p`` and ``--normalize total`` (unless
    ``log1p=False``), ``--case-insensitive`` and ``--var-names-column`` for commands that read
    expression files; :func:`transform_option` turns the parsed transforms into one name."""
    parser.add_argument(
        "--layout",
        choices=("auto", "cells-by-genes", "genes-by-cells"),
        default="auto",
        help="file layout (default auto: a non-numeric first column holds gene names, unless its "
        "header is a cell-id name such as cell_id or barcode)",
    )
    if log1p:
        add_transform_options(parser)
    parser.add_argument(
        "--case-insensitive",
        action="store_true",
        help="match gene names ignoring case (genes differing only in case are then an error)",
    )
    parser.add_argument(
        "--var-names-column",
        metavar="COL",
        help="h5ad/zarr: take gene names from this var column (e.g. symbols when var_names are Ensembl ids)",
    )


def add_transform_options(parser, *, prefix: str = "", what: str = "the values") -> None:
    """``--{prefix}log1p`` and ``--{prefix}normalize total``: transforms of raw counts."""
    parser.add_argument(
        f"--{prefix}log1p", action="store_true", help=f"apply log1p to {what} first (raw counts -> log scale)"
    )
    parser.add_argument(
        f"--{prefix}normalize",
        choices=("total",),
        default=None,
        help=f"total: scale each cell of {what} to a total of 10,000, then log1p "
        "(scanpy normalize_total + log1p); no separate --log1p needed",
    )


def transform_option(log1p: bool, normalize: str | None) -> Transform:
    """The transform name (:data:`deeptgi_rt.expression.TRANSFORMS`) of parsed ``--log1p`` /
    ``--normalize`` values."""
    if normalize == "total":
        if log1p:
            from ..errors import InputError

            raise InputError("--log1p with --normalize total: normalize total already applies log1p; give one of them")
        return "normalize_total_log1p"
    return "log1p" if log1p else "none"


def add_streaming_options(parser) -> None:
    """Options that read h5ad/zarr/Parquet a chunk of cells at a time (any of them turns streaming on;
    ``--normalize total`` and ``--log1p``, shared with every command that reads expression, then
    apply per chunk)."""
    group = parser.add_argument_group("streaming over cells (h5ad, zarr, Parquet; never holds cells x genes)")
    group.add_argument("--layer", metavar="NAME", help="h5ad/zarr: read layers/NAME instead of X")
    group.add_argument("--use-raw", action="store_true", help="h5ad/zarr: read raw/X (and raw/var names)")
    group.add_argument("--chunk-cells", type=int, metavar="N", help="cells per chunk (default: about 64 MiB dense)")
    group.add_argument(
        "--dask-scheduler",
        metavar="ADDRESS",
        help="compute the statistics on a dask.distributed scheduler at ADDRESS "
        "(host:port), or 'local' for a local cluster; workers read the file at the same path",
    )


def streaming_requested(args) -> bool:
    """Whether any streaming option was given."""
    return args.layer is not None or args.use_raw or args.chunk_cells is not None or args.dask_scheduler is not None


def check_parquet_output(path):
    """The output path, checked before any work: writable and named ``.parquet``/``.pq``."""
    from ..atomic import check_output_path
    from ..errors import InputError
    from ..tables import PARQUET_SUFFIXES

    out = check_output_path(path)
    if out.suffix.lower() not in PARQUET_SUFFIXES:
        raise InputError(f"{out}: the output is written as Parquet; name it .parquet")
    return out


def add_parser(subparsers) -> None:
    """Register the ``convert`` subcommand."""
    parser = subparsers.add_parser(
        "convert",
        help="convert CSV/TSV/h5ad/Parquet expression to the canonical Parquet layout",
        description="Write expression data as cells-by-genes Parquet (a cell_id column when cell ids "
        "are known, one float32 column per gene, zstd), the layout every command reads fastest.",
    )
    parser.add_argument(
        "input", metavar="IN", help="expression file (.csv, .tsv, .txt, .tab, .gz, .h5ad, .zarr, .parquet)"
    )
    parser.add_argument("output", metavar="OUT.parquet", help="Parquet file to write")
    add_expression_options(parser, log1p=False)
    add_quiet(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    """Read, validate and write atomically; the output path is checked before reading."""
    from ..expression import describe, read_expression, write_expression_parquet
    from ..progress import make_reporter

    reporter = make_reporter(args.quiet)
    out = check_parquet_output(args.output)
    expression = read_expression(
        args.input, layout=args.layout, case_insensitive=args.case_insensitive, var_names_column=args.var_names_column
    )
    reporter.info(describe(expression))
    write_expression_parquet(expression, out)
    reporter.info(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
