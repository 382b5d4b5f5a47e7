"""`deeptgi-rt pcc`: Pearson correlation of row genes with column genes, written as Parquet.

Two ways to compute: the whole matrix read into memory (any format, ``pcc_block``), or, for
h5ad/zarr/Parquet with ``--normalize``, ``--layer``, ``--use-raw``, ``--chunk-cells`` or
``--dask-scheduler``, statistics streamed over chunks of cells (:mod:`deeptgi_rt.pcc.streaming`)
so that cells x genes is never held; the two agree to float32 rounding.
"""

from __future__ import annotations

import contextlib

from . import add_quiet
from .convert import (
    add_expression_options,
    add_streaming_options,
    check_parquet_output,
    streaming_requested,
    transform_option,
)

# Output values held per written row group (float32 cells): bounds memory for genome-wide runs.
_BLOCK_VALUES = 16_000_000


def add_parser(subparsers) -> None:
    """Register the ``pcc`` subcommand."""
    parser = subparsers.add_parser(
        "pcc",
        help="Pearson correlation between gene expression profiles, as Parquet",
        description="Correlate every row gene with every column gene over the cells. Output: a `gene` "
        "column (the row genes) and one float32 column per column gene.",
    )
    parser.add_argument("expression", metavar="EXPR", help="expression file (.parquet, .csv, .tsv, .h5ad, ...)")
    parser.add_argument("--rows", metavar="ROWS.txt", help="gene list for the rows (default: all genes)")
    parser.add_argument("--cols", metavar="COLS.txt", help="gene list for the columns (default: all genes)")
    parser.add_argument("--out", required=True, metavar="PCC.parquet", help="Parquet file to write")
    add_expression_options(parser)
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where to compute (auto: CUDA when it initializes, else CPU)",
    )
    add_streaming_options(parser)
    add_quiet(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    """Check the output path and gene lists, read the data, stream PCC blocks into Parquet."""
    if streaming_requested(args):
        return run_streaming(args)
    import numpy as np

    from ..atomic import atomic_output
    from ..expression import describe, looks_like_counts, raw_counts_hint, read_expression
    from ..features import gene_rows
    from ..genes import read_gene_list
    from ..pcc import constant_gene_mask, resolve_backend
    from ..progress import make_reporter

    reporter = make_reporter(args.quiet)
    out = check_parquet_output(args.out)
    backend = resolve_backend(args.device)  # an unusable --device cuda fails before any reading
    row_names = read_gene_list(args.rows) if args.rows else None
    col_names = read_gene_list(args.cols) if args.cols else None
    transform = transform_option(args.log1p, args.normalize)
    expression = read_expression(
        args.expression,
        layout=args.layout,
        transform=transform,
        case_insensitive=args.case_insensitive,
        var_names_column=args.var_names_column,
    )
    reporter.info(describe(expression))
    if transform == "none" and looks_like_counts(expression.values):
        reporter.warn(raw_counts_hint(expression))
    all_rows = np.arange(len(expression.genes), dtype=np.int64)
    rows = (
        all_rows
        if row_names is None
        else gene_rows(expression, row_names, what=f"row genes of {args.rows}", case_insensitive=args.case_insensitive)
    )
    cols = (
        all_rows
        if col_names is None
        else gene_rows(
            expression, col_names, what=f"column genes of {args.cols}", case_insensitive=args.case_insensitive
        )
    )
    used = np.union1d(rows, cols)
    constant = int(np.count_nonzero(constant_gene_mask(expression.values[used])))
    if constant:
        reporter.warn(
            f"{expression.source}: {constant} of {len(used)} genes have constant expression; "
            "their correlations are set to 0"
        )
    with atomic_output(out) as tmp:
        _write_pcc(expression, rows, cols, tmp, backend=backend, reporter=reporter)
    reporter.info(f"wrote {out}: {len(rows)} x {len(cols)} correlations")
    return 0


def _write_pcc(expression, rows, cols, path, *, backend: str, reporter) -> None:
    """Compute PCC ``[rows, cols]`` block by block of row genes, one Parquet row group each."""
    import numpy as np

    from ..pcc import pcc_block

    col_values = np.ascontiguousarray(expression.values[cols])
    col_genes = [expression.genes[c] for c in cols]
    block = _block_rows(len(rows), len(cols))
    with _pcc_writer(path, col_genes) as write, reporter.task("PCC", total=len(rows), unit="genes") as advance:
        for start in range(0, len(rows), block):
            chunk = rows[start : start + block]
            write(
                [expression.genes[r] for r in chunk],
                pcc_block(expression.values[chunk], col_values, backend=backend, progress=advance),
            )


def _block_rows(rows: int, cols: int) -> int:
    """Row genes per written row group."""
    return max(1, min(rows, _BLOCK_VALUES // max(cols, 1)))


@contextlib.contextmanager
def _pcc_writer(path, col_genes):
    """Yield ``write(row_genes, pcc)``, appending float32 ``pcc`` ``[len(row_genes), len(col_genes)]``
    as one Parquet row group."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([pa.field("gene", pa.string())] + [pa.field(name, pa.float32()) for name in col_genes])

    def write(row_genes, pcc):
        # Column-major copy so that each output column is one contiguous array.
        by_column = np.ascontiguousarray(pcc.T, dtype=np.float32)
        arrays = [pa.array(row_genes, type=pa.string())]
        arrays.extend(pa.array(by_column[j]) for j in range(len(col_genes)))
        writer.write_table(pa.Table.from_arrays(arrays, schema=schema))

    # Dictionary encoding only for the names: on float columns it costs 3x the write time and
    # makes the file larger, since correlations almost never repeat.
    with pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=["gene"]) as writer:
        yield write


def run_streaming(args) -> int:
    """``pcc`` through the streaming statistics: chunks of cells (or dask blocks) into one
    ``[rows, cols]`` PCC, written a block of row genes per row group."""
    import numpy as np

    from ..atomic import atomic_output
    from ..cells import open_cells
    from ..errors import InputError
    from ..features import gene_rows, streamed_statistics
    from ..genes import read_gene_list
    from ..pcc.dask_reduce import dask_session
    from ..progress import make_reporter

    reporter = make_reporter(args.quiet)
    out = check_parquet_output(args.out)
    if args.var_names_column is not None or args.layout != "auto":
        raise InputError(
            "--var-names-column and --layout apply to whole-matrix reading, not to streaming "
            "(--normalize, --layer, --use-raw, --chunk-cells, --dask-scheduler)"
        )
    if args.log1p and args.normalize == "total":
        raise InputError("--normalize total already applies log1p; drop --log1p")
    normalize = "total" if args.normalize == "total" else ("log1p" if args.log1p else None)
    backend = _streaming_backend(args.device, args.dask_scheduler)
    row_names = read_gene_list(args.rows) if args.rows else None
    col_names = read_gene_list(args.cols) if args.cols else None
    cells = open_cells(
        args.expression, layer=args.layer, use_raw=args.use_raw, normalize=normalize, chunk_cells=args.chunk_cells
    )
    reporter.info(
        f"{cells.source}: {cells.n_cells} cells x {len(cells.genes)} genes, {cells.chunk_cells} cells per chunk"
    )
    all_rows = np.arange(len(cells.genes), dtype=np.int64)
    rows = (
        all_rows
        if row_names is None
        else gene_rows(cells, row_names, what=f"row genes of {args.rows}", case_insensitive=args.case_insensitive)
    )
    cols = (
        all_rows
        if col_names is None
        else gene_rows(cells, col_names, what=f"column genes of {args.cols}", case_insensitive=args.case_insensitive)
    )
    with dask_session(args.dask_scheduler):
        source = cells.to_dask() if args.dask_scheduler else cells
        with reporter.task("PCC statistics", total=cells.n_cells, unit="cells") as advance:
            stats = streamed_statistics(source, rows, cols, backend=backend, reporter=reporter, progress=advance)
    used = np.union1d(rows, cols)
    constant = int(np.count_nonzero(stats.constant_genes()[used]))
    if constant:
        reporter.warn(
            f"{cells.source}: {constant} of {len(used)} genes have constant expression; their correlations are set to 0"
        )
    pcc = stats.pcc()
    with atomic_output(out) as tmp:
        _write_blocks(pcc, [cells.genes[r] for r in rows], [cells.genes[c] for c in cols], tmp)
    reporter.info(f"wrote {out}: {len(rows)} x {len(cols)} correlations ({stats.cells} cells)")
    return 0


def _streaming_backend(device: str, scheduler: str | None) -> str:
    from ..errors import InputError
    from ..pcc import resolve_backend

    if scheduler is not None:
        if device == "cuda":
            raise InputError("--dask-scheduler computes on the workers' CPUs; drop --device cuda")
        return "cpu"
    return resolve_backend(device)


def _write_blocks(pcc, row_genes, col_genes, path) -> None:
    """Write float32 ``pcc`` ``[rows, cols]`` as Parquet, a block of row genes per row group."""
    block = _block_rows(len(row_genes), len(col_genes))
    with _pcc_writer(path, col_genes) as write:
        for start in range(0, len(row_genes), block):
            write(row_genes[start : start + block], pcc[start : start + block])
