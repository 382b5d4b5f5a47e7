"""Expression matrices: reading Parquet, CSV/TSV and AnnData (h5ad, zarr) in either layout, and writing Parquet.

Two layouts occur in the field:

* ``"cells-by-genes"``: one row per cell, one column per gene, optionally a first column of
  cell ids (its header one of :data:`CELL_ID_HEADERS`, or any non-numeric first column when
  the layout is given explicitly);
* ``"genes-by-cells"``: the BEELINE format, first column gene names, one column per cell.

``layout="auto"`` decides from the first column: all numeric -> cells-by-genes; non-numeric
and headed by a cell-id name -> cells-by-genes with cell ids; otherwise genes-by-cells.
Numeric gene ids (e.g. Entrez) therefore need an explicit layout; under ``auto`` numbers in a
first column headed like a gene column (:data:`GENE_ID_HEADERS`) are an error that says so.
AnnData files (h5ad, zarr) are always cells (obs) x genes (var).

Every reader returns an :class:`Expression` with float32 ``[genes, cells]`` gene-major values
and raises :class:`~deeptgi_rt.errors.InputError` with one line naming the file and the
offending item for anything a user can get wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError, preview, require_file
from .names import duplicate_names
from .tables import first_line, open_text, table_format

LAYOUTS = ("auto", "cells-by-genes", "genes-by-cells")
# Headers of a first column that holds cell ids rather than gene names (compared casefolded).
CELL_ID_HEADERS = frozenset({"cell", "cell_id", "cells", "barcode", "barcodes", "obs_names", "cell_name"})
# Headers of a first column that holds gene names or ids (compared casefolded): numbers under
# one of them are gene ids of a genes-by-cells file, never cells-by-genes data.
GENE_ID_HEADERS = frozenset(
    {
        "gene",
        "genes",
        "gene_id",
        "gene_ids",
        "geneid",
        "gene_name",
        "gene_symbol",
        "symbol",
        "entrez",
        "entrez_id",
        "ensembl",
        "ensembl_id",
    }
)
# The first column of the canonical Parquet layout written by write_expression_parquet.
CELL_ID_COLUMN = "cell_id"
MIN_CELLS = 3
# Cells per chunk when reading an h5ad X: bounds the dense copy of a sparse chunk.
H5AD_CHUNK_CELLS = 10_000
# Value transforms applied after reading: none, log1p, or each cell scaled to this total and
# then log1p (scanpy's normalize_total(target_sum=1e4) followed by log1p).
TRANSFORMS = ("none", "log1p", "normalize_total_log1p")
NORMALIZE_TOTAL = 1e4
# Raw counts are non-negative integers; above this maximum they cannot be log-scale values
# (log1p reaches 50 only at 5e21), while integer data with a small maximum (binarized, a few
# reads per cell) stay ambiguous and are not flagged. Typical UMI matrices reach hundreds.
COUNTS_MIN_MAX = 50.0


@dataclass
class Expression:
    """An expression matrix, gene-major.

    Attributes:
        genes: gene names, one per row of ``values``.
        values: float32 ``[genes, cells]``, C-contiguous (each gene's profile is contiguous).
        source: where it came from (a file path), used in error messages.
        cells: cell (or sample) ids, or ``None`` if the file had none.
        layout: the layout the file was read in (``"cells-by-genes"``, ``"genes-by-cells"``),
            or ``None`` when it was built in memory without one.
    """

    genes: list[str]
    values: np.ndarray
    source: str
    cells: list[str] | None = None
    layout: str | None = None

    @property
    def n_cells(self) -> int:
        """Number of cells (columns of ``values``)."""
        return int(self.values.shape[1])


def read_expression(
    path,
    *,
    layout: str = "auto",
    log1p: bool = False,
    case_insensitive: bool = False,
    chunk_cells: int = H5AD_CHUNK_CELLS,
    var_names_column: str | None = None,
    transform: str = "none",
) -> Expression:
    """Read an expression file into an :class:`Expression`.

    Args:
        path: ``.parquet``/``.pq``, ``.csv``, ``.tsv``/``.txt``/``.tab`` (optionally ``.gz``), or an
            AnnData ``.h5ad`` file or ``.zarr`` store (see :mod:`deeptgi_rt.tables`).
        layout: ``"auto"``, ``"cells-by-genes"`` or ``"genes-by-cells"`` (see the module docs).
        log1p: apply ``log1p`` to the values (negative values are then an error); the same as
            ``transform="log1p"``.
        case_insensitive: also reject gene names that differ only in case, so that
            case-insensitive gene lookup is unambiguous.
        chunk_cells: cells per chunk when reading an AnnData X (bounds memory for sparse X).
        var_names_column: AnnData only: the ``var`` column holding the gene names (e.g. symbols
            when ``var_names`` are Ensembl ids); default ``var_names``.
        transform: one of :data:`TRANSFORMS` (see :func:`transform_values`).

    Returns:
        An :class:`Expression` whose ``values`` are float32 ``[genes, cells]``, C-contiguous.
    """
    _check_layout(layout)
    transform = combined_transform(transform, log1p)
    source = str(path)
    file = _require_input(path, source)
    fmt = table_format(file)
    kind = fmt.kind
    if var_names_column is not None and kind not in ("h5ad", "zarr"):
        raise InputError(f"{source}: --var-names-column (var_names_column) applies to h5ad/zarr files only")
    if kind in ("h5ad", "zarr"):
        if layout == "genes-by-cells":
            raise InputError(
                f"{source}: AnnData files are always cells (obs) x genes (var); drop --layout genes-by-cells"
            )
        genes, values, cells = _read_anndata(file, source, kind, chunk_cells, var_names_column)
        # anndata names var by position ("0", "1", ...) when it was given no gene names.
        return _finish(
            genes,
            values,
            cells,
            source,
            "cells-by-genes",
            False,
            transform,
            case_insensitive,
            numeric_hint="the var_names are not gene names; set adata.var_names to gene symbols "
            "or name the var column holding them with --var-names-column COL",
        )
    if kind == "parquet":
        frame, header, first_is_text = _read_parquet(file, source)
    else:
        assert fmt.separator is not None  # not parquet nor anndata: delimited
        frame, header, first_is_text = _read_delimited(file, source, fmt.separator)
    genes, values, cells, chosen = _from_columns(frame, header, first_is_text, layout, source)
    return _finish(genes, values, cells, source, chosen, layout == "auto", transform, case_insensitive)


def expression_from_frame(
    data,
    *,
    genes: Sequence[str] | None = None,
    cells: Sequence[str] | None = None,
    layout: str = "cells-by-genes",
    source: str = "<memory>",
    log1p: bool = False,
    case_insensitive: bool = False,
    transform: str = "none",
) -> Expression:
    """Build a validated :class:`Expression` from a polars or pandas DataFrame or a numpy array.

    Args:
        data: a polars DataFrame or pandas DataFrame laid out like a file (column names are the
            header; for cells-by-genes a first non-numeric column is taken as cell ids, for
            genes-by-cells the first column holds gene names; a labelled pandas index counts as
            that first column, a default ``RangeIndex`` is ignored), or a
            numeric numpy array ``[cells, genes]`` (cells-by-genes) or ``[genes, cells]``
            (genes-by-cells), any real dtype, which needs ``genes``.
        genes: gene names for a numpy array (ignored for DataFrames).
        cells: cell ids for a numpy array (optional).
        layout: ``"cells-by-genes"``, ``"genes-by-cells"`` or ``"auto"`` (DataFrames only).
        source: name used in error messages.
        log1p, case_insensitive, transform: as for :func:`read_expression`.

    Returns:
        An :class:`Expression` with float32 ``[genes, cells]`` C-contiguous values.
    """
    _check_layout(layout)
    transform = combined_transform(transform, log1p)
    if isinstance(data, np.ndarray):
        if layout == "auto":
            raise InputError(f"{source}: give layout='cells-by-genes' or 'genes-by-cells' for a numpy array")
        if data.ndim != 2 or not (np.issubdtype(data.dtype, np.number) or data.dtype == np.bool_):
            raise InputError(f"{source}: expected a 2-D numeric array, got {data.ndim}-D {data.dtype}")
        if genes is None:
            raise InputError(f"{source}: gene names are required with a numpy array (genes=...)")
        matrix = data.T if layout == "cells-by-genes" else data
        if len(genes) != matrix.shape[0]:
            raise InputError(f"{source}: {len(genes)} gene names for {matrix.shape[0]} genes in the array ({layout})")
        if cells is not None and len(cells) != matrix.shape[1]:
            raise InputError(f"{source}: {len(cells)} cell ids for {matrix.shape[1]} cells in the array ({layout})")
        # Always a copy: the Expression must not alias the caller's array (log1p works in place).
        values = np.array(matrix, dtype=np.float32, order="C", copy=True)
        return _finish(
            [str(g) for g in genes],
            values,
            None if cells is None else [str(c) for c in cells],
            source,
            layout,
            False,
            transform,
            case_insensitive,
        )
    import polars as pl

    if not isinstance(data, pl.DataFrame):
        if type(data).__module__.split(".")[0] != "pandas":
            raise InputError(
                f"{source}: expected a polars or pandas DataFrame or a numpy array, got {type(data).__name__}"
            )
        # A labelled index (cell ids from adata.to_df(), gene names) becomes the first column;
        # a default 0..n-1 index carries nothing.
        import pandas as pd

        default_index = isinstance(data.index, pd.RangeIndex) and data.index.name is None
        data = pl.from_pandas(data.reset_index(drop=default_index))
    header = [str(name) for name in data.columns]
    frame = data.rename({name: f"c{i}" for i, name in enumerate(data.columns)})
    genes_, values, cells_, chosen = _from_columns(frame, header, False, layout, source)
    return _finish(genes_, values, cells_, source, chosen, layout == "auto", transform, case_insensitive)


def write_expression_parquet(expression: Expression, path, *, compression: str = "zstd") -> Path:
    """Write ``expression`` in the canonical Parquet layout, atomically.

    The layout is cells-by-genes: a first ``cell_id`` string column when cell ids are known,
    then one float32 column per gene, so :func:`read_expression` reads it back under ``auto``.

    Args:
        expression: values float32 ``[genes, cells]``.
        path: target file; it holds either the complete file or what it held before.
        compression: Parquet codec (zstd keeps the files small).

    Returns:
        The target path.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .atomic import atomic_output

    values = np.ascontiguousarray(expression.values, dtype=np.float32)
    columns, names = [], []
    if expression.cells is not None:
        columns.append(pa.array([str(c) for c in expression.cells], type=pa.string()))
        names.append(CELL_ID_COLUMN)
    # Gene-major storage makes every gene's column a contiguous row: no transpose copy.
    columns.extend(pa.array(values[g]) for g in range(values.shape[0]))
    names.extend(expression.genes)
    table = pa.Table.from_arrays(columns, names=names)
    with atomic_output(path) as tmp:
        # Dictionary encoding only for cell ids: float columns rarely repeat, and encoding
        # them anyway triples the write time and grows the file.
        pq.write_table(table, tmp, compression=compression, use_dictionary=names[:1] if expression.cells else False)
    return Path(path)


def _require_input(path, source: str) -> Path:
    """``path`` as a Path if it names a non-empty file, or a directory for a zarr store."""
    file = Path(path)
    if file.suffix.lower() == ".zarr":
        if not file.is_dir():
            raise InputError(
                f"{source}: zarr store not found" if not file.exists() else f"{source}: not a zarr store (a directory)"
            )
        return file
    file = require_file(path, expected="an expression file")
    if file.stat().st_size == 0:
        raise InputError(f"{source}: file is empty")
    return file


def _check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout {layout!r}; use one of {', '.join(LAYOUTS)}")


def _read_delimited(file: Path, source: str, separator: str):
    """Parse a CSV/TSV with polars: first column as text, the rest as Float64.

    Returns ``(frame, header, True)``; the frame's columns are named ``c0, c1, ...`` by position
    because headers may repeat (a duplicate gene name is reported later, by name).
    """
    import polars as pl

    header = _read_header(file, source, separator)
    schema = {f"c{i}": (pl.String if i == 0 else pl.Float64) for i in range(len(header))}
    try:
        frame = pl.read_csv(file, has_header=False, skip_rows=1, schema=schema, separator=separator)
    except pl.exceptions.PolarsError as exc:
        # Only on failure: re-scan to name the row with the wrong field count or the first
        # value that is not a number.
        _locate_ragged_row(file, source, separator, len(header))
        _locate_non_numeric(file, source, separator, header)
        raise InputError(
            f"{source}: cannot parse as {'CSV' if separator == ',' else 'TSV'}: {first_line(exc)}"
        ) from None
    return frame, header, True


def _read_header(file: Path, source: str, separator: str) -> list[str]:
    import csv

    try:
        with open_text(file) as handle:
            header = next(csv.reader(handle, delimiter=separator), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{source}: cannot read the header line: {first_line(exc)}") from None
    if not header or all(not name.strip() for name in header):
        raise InputError(f"{source}: file is empty (no header line)")
    if len(header) < 2:
        sep = "comma" if separator == "," else "tab"
        raise InputError(f"{source}: only one column; is it {sep}-separated as its extension says?")
    return [name.strip() for name in header]


def _locate_ragged_row(file: Path, source: str, separator: str, n_columns: int) -> None:
    """Raise an InputError naming the first line whose field count differs from the header's."""
    import csv

    with open_text(file) as handle:
        reader = csv.reader(handle, delimiter=separator)
        next(reader, None)
        for row in reader:
            if row and len(row) != n_columns:
                raise InputError(
                    f"{source}: line {reader.line_num} has {len(row)} fields but the header has {n_columns}"
                )


def _locate_non_numeric(file: Path, source: str, separator: str, header: list[str]) -> None:
    """Raise an InputError naming the first non-numeric value of the data columns, if any."""
    import polars as pl

    try:
        text = pl.read_csv(
            file,
            has_header=False,
            skip_rows=1,
            separator=separator,
            infer_schema=False,
            new_columns=[f"c{i}" for i in range(len(header))],
            truncate_ragged_lines=False,
        )
    except pl.exceptions.PolarsError:
        return
    first = text.get_column("c0")
    for i in range(1, min(len(header), text.width)):
        column = text.get_column(f"c{i}")
        bad = (column.cast(pl.Float64, strict=False).is_null() & column.is_not_null()).arg_true()
        if len(bad):
            row = int(bad[0])
            name = first[row]
            row_name = "" if name is None or _is_number(name) else f", row {name!r}"
            raise InputError(
                f"{source}: non-numeric value {column[row]!r} in column {header[i]!r} at data row {row + 1} "
                f"(line {row + 2}{row_name})"
            )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_parquet(file: Path, source: str):
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # ParquetFile, not read_table: the dataset layer rejects repeated column names, which
        # are reported below as duplicate genes.
        table = pq.ParquetFile(file).read()
    except (pa.ArrowException, OSError) as exc:
        # pyarrow repeats the path; the message already starts with it.
        reason = re.sub(r"^Could not open Parquet input source '.*?': ", "", first_line(exc))
        raise InputError(f"{source}: not a readable Parquet file (truncated or corrupt?): {reason}") from None
    header = [str(name) for name in table.column_names]
    if not header:
        raise InputError(f"{source}: Parquet file has no columns")
    frame = pl.from_arrow(table.rename_columns([f"c{i}" for i in range(len(header))]))
    return frame, header, False


def _read_anndata(file: Path, source: str, kind: str, chunk_cells: int, var_names_column: str | None):
    """X of an h5ad file (backed) or zarr store as float32 ``[genes, cells]``, read
    ``chunk_cells`` cells at a time; returns ``(genes, values, cells)``."""
    try:
        import anndata
    except ImportError:
        raise InputError(
            f"{source}: reading .{kind} needs the anndata extra: pip install 'deeptgi-rt[anndata]'"
        ) from None
    try:
        # Backed mode keeps an h5ad's X on disk; anndata has no backed mode for zarr.
        adata = anndata.read_h5ad(file, backed="r") if kind == "h5ad" else anndata.read_zarr(file)
    except Exception as exc:  # h5py/zarr/anndata raise many types for a file that is not AnnData
        raise InputError(f"{source}: not a readable {kind} file: {first_line(exc)}") from None
    try:
        genes = _var_gene_names(adata, source, var_names_column)
        x = adata.X
        if x is None:
            raise InputError(f"{source}: {kind} file has no X matrix")
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
            raise InputError(f"{source}: {kind} X has non-numeric dtype {x.dtype}")
        n_cells, n_genes = x.shape
        values = np.empty((n_genes, n_cells), dtype=np.float32)
        step = max(1, int(chunk_cells))
        for start in range(0, n_cells, step):
            stop = min(start + step, n_cells)
            chunk = x[start:stop]
            chunk = chunk.toarray() if hasattr(chunk, "toarray") else np.asarray(chunk)
            values[:, start:stop] = chunk.T
        cells = [str(c) for c in adata.obs_names]
    finally:
        if adata.isbacked:
            adata.file.close()
    return genes, values, cells


def _var_gene_names(adata, source: str, column: str | None) -> list[str]:
    """Gene names from ``var_names`` or from the ``var`` column ``column``."""
    if column is None:
        return [str(g) for g in adata.var_names]
    if column not in adata.var.columns:
        found = preview(list(adata.var.columns)) or "(none)"
        raise InputError(f"{source}: no var column {column!r} for --var-names-column; var columns: {found}")
    names = adata.var[column]
    empty = names.isna().to_numpy() | (names.astype(str).str.strip() == "").to_numpy()
    if empty.any():
        row = int(np.argmax(empty))
        raise InputError(
            f"{source}: var column {column!r} has no gene name for var {adata.var_names[row]!r} "
            f"({int(empty.sum())} of {len(names)} empty)"
        )
    return [str(name) for name in names]


def _from_columns(frame, header: list[str], first_is_text: bool, layout: str, source: str):
    """Turn a table (columns ``c0..``, original names ``header``) into gene-major values.

    ``first_is_text`` marks a first column parsed as text from CSV/TSV (it may be numbers);
    a typed first column (Parquet, DataFrame) is a name column exactly when it is a string.

    Returns ``(genes, values float32 [genes, cells], cells or None, layout)``.
    """
    import polars as pl

    if frame.height == 0:
        raise InputError(f"{source}: no data rows")
    first = frame.get_column("c0")
    cell_id_header = header[0].casefold() in CELL_ID_HEADERS
    gene_id_header = layout == "auto" and header[0].strip().casefold() in GENE_ID_HEADERS
    if first_is_text:
        as_numbers = first.cast(pl.Float64, strict=False)
        # A mostly numeric first column is data with a typo in it, not names: report the typo
        # rather than guessing genes-by-cells and failing on "numeric gene names".
        first_numeric = as_numbers.null_count() - first.null_count() < max(1, frame.height // 2)
        if first_numeric and gene_id_header:
            _refuse_numeric_gene_ids(first, header[0], source)
        if first_numeric and layout != "genes-by-cells" and not cell_id_header:
            bad = (as_numbers.is_null() & first.is_not_null()).arg_true()
            if len(bad):
                row = int(bad[0])
                raise InputError(
                    f"{source}: non-numeric value {first[row]!r} in column {header[0]!r} at data row {row + 1} "
                    f"(line {row + 2})"
                )
            frame = frame.with_columns(as_numbers.alias("c0"))
            first_is_names = False
        else:
            first_is_names = layout == "genes-by-cells" or not first_numeric or cell_id_header
    else:
        if gene_id_header and first.dtype.is_numeric():
            _refuse_numeric_gene_ids(first, header[0], source)
        first_is_names = (
            first.dtype in (pl.String, pl.Categorical, pl.Enum) or layout == "genes-by-cells" or cell_id_header
        )
    if layout == "auto":
        chosen = "genes-by-cells" if first_is_names and not cell_id_header else "cells-by-genes"
    else:
        chosen = layout
    data_start = 1 if first_is_names else 0
    if data_start >= len(header):
        raise InputError(f"{source}: no numeric columns besides the first column {header[0]!r}")
    _check_numeric_columns(frame, header, data_start, source)
    names = None
    if first_is_names:
        names = first.cast(pl.String)
        null_rows = names.is_null().arg_true()
        if len(null_rows):
            what = "gene name" if chosen == "genes-by-cells" else "cell id"
            raise InputError(f"{source}: empty {what} in the first column at data row {int(null_rows[0]) + 1}")
        names = [str(n).strip() for n in names.to_list()]
    numeric = frame.select(pl.col(f"c{i}").cast(pl.Float64) for i in range(data_start, len(header)))
    _check_missing(numeric, header, data_start, names, source)
    column_names = header[data_start:]
    if chosen == "cells-by-genes":
        genes, cells = column_names, names
        values = np.empty((len(column_names), frame.height), dtype=np.float32)
        # Column by column into the gene-major output: no [rows, columns] float64 copy of the table.
        for g, column in enumerate(numeric.iter_columns()):
            values[g] = column.to_numpy()
    else:
        assert names is not None  # genes-by-cells always reads names from the first column
        genes, cells = names, column_names
        values = np.empty((frame.height, len(column_names)), dtype=np.float32)
        for j, column in enumerate(numeric.iter_columns()):
            values[:, j] = column.to_numpy()
    return list(genes), values, cells, chosen


def _refuse_numeric_gene_ids(first, name: str, source: str) -> None:
    """Numbers under a gene header: gene ids (e.g. Entrez) that the auto layout would take as data."""
    raise InputError(
        f"{source}: the first column {name!r} holds numbers ({preview(first.head(3).to_list(), 3)}); "
        "numeric gene ids need an explicit layout: --layout genes-by-cells (layout='genes-by-cells')"
    )


def _check_numeric_columns(frame, header: list[str], start: int, source: str) -> None:
    import polars as pl

    dtypes = frame.dtypes  # once: frame.schema rebuilds the whole schema on every access
    for i in range(start, len(header)):
        dtype = dtypes[i]
        if not (dtype.is_numeric() or dtype == pl.Boolean or dtype == pl.Null):
            column = frame.get_column(f"c{i}")
            example = column.drop_nulls().head(1).to_list()
            shown = f", e.g. {example[0]!r}" if example else ""
            raise InputError(f"{source}: column {header[i]!r} is not numeric ({dtype}{shown})")


def _check_missing(numeric, header: list[str], start: int, names: list[str] | None, source: str) -> None:
    counts = numeric.null_count().row(0)
    for offset, count in enumerate(counts):
        if count:
            column = numeric.get_column(numeric.columns[offset])
            row = int(column.is_null().arg_true()[0])
            where = f" ({names[row]!r})" if names is not None else ""
            raise InputError(
                f"{source}: missing (empty) value in column {header[start + offset]!r} at data row {row + 1}{where}"
            )


def _finish(genes, values, cells, source, layout, auto, transform, case_insensitive, numeric_hint=None) -> Expression:
    """Validate names and values shared by every reader, then apply ``transform``.

    ``auto``: the layout was guessed, so any all-numeric gene names mean a wrong guess.
    """
    _check_gene_names(genes, source, layout, auto, case_insensitive, numeric_hint)
    n_genes, n_cells = values.shape
    if n_cells < MIN_CELLS:
        raise InputError(f"{source}: {n_cells} cells; at least {MIN_CELLS} are needed for correlations ({layout})")
    bad = _first_non_finite(values)
    if bad is not None:
        gene, cell = bad
        raise InputError(f"{source}: {values[gene, cell]} value for gene {genes[gene]!r} in {_cell_label(cells, cell)}")
    expression = Expression(genes=genes, values=values, source=source, cells=cells, layout=layout)
    transform_values(expression, transform)
    return expression


def combined_transform(transform: str, log1p: bool = False) -> str:
    """``transform`` checked against :data:`TRANSFORMS`, with a ``log1p=True`` flag folded in
    (normalize_total_log1p already ends in log1p, so the flag adds nothing to it)."""
    if transform not in TRANSFORMS:
        raise InputError(f"transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}", parameter="transform")
    return "log1p" if log1p and transform == "none" else transform


def transform_values(expression: Expression, transform: str) -> None:
    """Apply ``transform`` to ``expression.values`` (float32 ``[genes, cells]``) in place.

    ``"log1p"``: ``log(1 + x)``. ``"normalize_total_log1p"``: each cell (column) scaled so its
    values over the file's genes sum to :data:`NORMALIZE_TOTAL`, then ``log1p``, as scanpy's
    ``normalize_total(target_sum=1e4)`` + ``log1p``; cells summing to 0 stay 0.

    Raises:
        InputError: a negative value (counts are expected; names the gene and cell).
    """
    if transform == "none":
        return
    values = expression.values
    negative = values.min(axis=1) < 0
    if negative.any():
        gene = int(np.argmax(negative))
        cell = int(np.argmax(values[gene] < 0))
        option = "--log1p" if transform == "log1p" else "--normalize total"
        raise InputError(
            f"{expression.source}: negative value {values[gene, cell]:g} for gene {expression.genes[gene]!r} in "
            f"{_cell_label(expression.cells, cell)}; {option} needs non-negative counts (is the data already "
            f"log-transformed? then drop {option})"
        )
    if transform == "normalize_total_log1p":
        totals = values.sum(axis=0, dtype=np.float64)
        scale = np.divide(NORMALIZE_TOTAL, totals, out=np.zeros_like(totals), where=totals > 0)
        values *= scale.astype(np.float32)[None, :]
    np.log1p(values, out=values)


def looks_like_counts(values: np.ndarray, block_values: int = 1 << 24) -> bool:
    """Whether float32 ``values`` look like raw counts: all non-negative integers with a
    maximum above :data:`COUNTS_MIN_MAX`. Checked in blocks of rows that stop at the first
    fraction, so log-scale data cost about one block."""
    if values.size == 0 or float(values.max()) <= COUNTS_MIN_MAX or float(values.min()) < 0:
        return False
    return first_fraction(values, block_values) is None


def first_fraction(values: np.ndarray, block_values: int = 1 << 24) -> tuple[int, int] | None:
    """``(row, column)`` of the first value of float ``values`` ``[genes, cells]`` that is not a
    whole number, or ``None`` when all are: the integer half of the raw-counts check
    (:func:`looks_like_counts`). Checked in blocks of rows that stop at the first fraction."""
    step = max(1, block_values // max(values.shape[1], 1))
    for start in range(0, values.shape[0], step):
        block = values[start : start + step]
        if not np.array_equal(block, np.floor(block)):
            row, column = np.argwhere(block != np.floor(block))[0]
            return start + int(row), int(column)
    return None


def not_counts_hint(expression: Expression, transform: str, what: str = "expression") -> str | None:
    """One warning line when ``transform`` (the user's ``"log1p"`` / ``"normalize_total_log1p"``)
    is asked for ``expression`` (its values before the transform) whose values are not whole
    numbers, so not raw counts; ``None`` when they are (or no transform is asked).

    ``what``: ``"expression"`` or ``"bulk"``, to name the option as given."""
    if transform == "none":
        return None
    where = first_fraction(expression.values)
    if where is None:
        return None
    gene, cell = where
    prefix, keyword = ("--bulk-", "bulk_transform") if what == "bulk" else ("--", "transform")
    flag = f"{prefix}normalize total" if transform == "normalize_total_log1p" else f"{prefix}log1p"
    return (
        f"{expression.source}: raw-counts check: the values are not whole numbers (first "
        f"{float(expression.values[gene, cell]):g}, gene {expression.genes[gene]!r}), so they do not look like raw "
        f"counts; {flag} ({keyword}={transform!r}) transforms counts and would transform already normalized "
        f"or log-scale values a second time: drop it if they are"
    )


def raw_counts_hint(expression: Expression) -> str:
    """One line naming the options that transform raw counts, for data that look like them."""
    return (
        f"{expression.source}: the values look like raw counts (non-negative integers, maximum "
        f"{float(expression.values.max()):g}); models score log-scale expression: add --normalize total "
        "(per-cell total to 10,000 then log1p, as scanpy) or --log1p (transform='normalize_total_log1p' "
        "or 'log1p')"
    )


def _first_non_finite(values: np.ndarray, block_values: int = 1 << 24) -> tuple[int, int] | None:
    """``(gene, cell)`` of the first NaN/inf in float32 ``[genes, cells]``, or ``None``.

    Checked in blocks of genes so that the boolean mask never spans a genome-scale matrix.
    """
    step = max(1, block_values // max(values.shape[1], 1))
    for start in range(0, values.shape[0], step):
        block = values[start : start + step]
        # The sum is NaN/inf exactly when some element is (or when finite values overflow,
        # which the exact mask below then rules out).
        if np.isfinite(block.sum(dtype=np.float64)):
            continue
        mask = ~np.isfinite(block)
        if mask.any():
            gene, cell = np.argwhere(mask)[0]
            return start + int(gene), int(cell)
    return None


def _cell_label(cells, index: int) -> str:
    return f"cell {cells[index]!r}" if cells is not None else f"cell at data row {index + 1}"


def _check_gene_names(
    genes: list[str], source: str, layout: str, auto: bool, case_insensitive: bool, numeric_hint: str | None = None
) -> None:
    if not genes:
        raise InputError(f"{source}: no genes")
    empty = [i for i, name in enumerate(genes) if not name.strip()]
    if empty:
        raise InputError(f"{source}: empty gene name at gene position {empty[0] + 1} of {len(genes)} ({layout})")
    if _names_look_numeric(genes, strict=not auto):
        hint = numeric_hint or (f"is the layout right? read as {layout}; use --layout genes-by-cells|cells-by-genes")
        raise InputError(f"{source}: gene names look numeric ({preview(genes, 3)}); {hint}")
    duplicates = duplicate_names(genes, case_insensitive=case_insensitive)
    if duplicates:
        kind = "gene names (ignoring case)" if case_insensitive else "gene names"
        raise InputError(f"{source}: duplicate {kind}: {preview(duplicates, 5)}")


def _names_look_numeric(genes: list[str], *, strict: bool) -> bool:
    """All names are numbers. With an explicit layout (``strict``) integer ids (e.g. Entrez)
    are accepted unless they are just the positions 0..n-1 or 1..n or have fractions."""
    numbers = []
    for name in genes:
        try:
            numbers.append(float(name))
        except ValueError:
            return False
    if not strict:
        return True
    if any(not math.isfinite(n) or n != int(n) for n in numbers):
        return True
    positions = [int(n) for n in numbers]
    return positions in (list(range(len(genes))), list(range(1, len(genes) + 1)))


def describe(expression: Expression) -> str:
    """One line for the CLI: ``read FILE: G genes x C cells (layout ...)``."""
    layout = f" (layout {expression.layout})" if expression.layout else ""
    return f"read {expression.source}: {len(expression.genes)} genes x {expression.n_cells} cells{layout}"


__all__ = [
    "CELL_ID_HEADERS",
    "TRANSFORMS",
    "combined_transform",
    "first_fraction",
    "looks_like_counts",
    "not_counts_hint",
    "raw_counts_hint",
    "transform_values",
    "GENE_ID_HEADERS",
    "Expression",
    "describe",
    "LAYOUTS",
    "expression_from_frame",
    "read_expression",
    "write_expression_parquet",
]
