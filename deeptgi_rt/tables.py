"""Table files: what kind a file is, how its text is separated and compressed, which columns
hold TFs and targets, and the first line of a reader's error.

Every reader of the project (expression matrices, pairs, gene lists, edge lists, training
labels) asks this module, so a file name means the same thing to all of them:

* kinds: ``parquet`` (``.parquet``, ``.pq``), ``csv`` (``.csv``), ``tsv`` (``.tsv``, ``.tab``),
  ``h5ad`` and ``zarr`` (AnnData); suffixes are compared ignoring case;
* ``.txt`` (and, for lenient readers, any other name) is delimited text whose separator is
  taken from its first line: a tab, else a comma;
* delimited text may be gzip-compressed (``.gz``); other compressions are named and refused.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from .errors import InputError, preview

TableKind = Literal["parquet", "csv", "tsv", "h5ad", "zarr"]

PARQUET_SUFFIXES = (".parquet", ".pq")
# Separator by suffix; None: taken from the first line (a .txt may hold either).
DELIMITED_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None}
ANNDATA_SUFFIXES: dict[str, TableKind] = {".h5ad": "h5ad", ".zarr": "zarr"}
# Compressions recognized by name; only gzip is read (polars and pyarrow both decompress it).
COMPRESSION_SUFFIXES = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zst": "zstd", ".zip": "zip"}
READ_COMPRESSIONS = ("gzip",)
# Names of an edge-list output that mean the TSV adjacency format rather than Parquet.
TSV_OUTPUT_SUFFIXES = (".tsv", ".txt", ".tab")

# TF and target column names, compared casefolded: one list for pairs to score, training
# labels and anything else naming TF -> target pairs.
TF_COLUMNS = ("tf", "gene1", "source", "regulator")
TARGET_COLUMNS = ("target", "gene2", "gene")
# Pairs that belong together win over mixed ones (Gene1/Gene2 before TF/Gene2), in this order.
_NATURAL_PAIRS = (
    ("tf", "target"),
    ("gene1", "gene2"),
    ("tf", "gene"),
    ("source", "target"),
    ("regulator", "target"),
    ("regulator", "gene"),
)
PAIR_COLUMNS = _NATURAL_PAIRS + tuple(
    (tf, target) for tf in TF_COLUMNS for target in TARGET_COLUMNS if (tf, target) not in _NATURAL_PAIRS
)


@dataclass(frozen=True)
class TableFormat:
    """How a table file is stored.

    Attributes:
        kind: ``"parquet"``, ``"csv"``, ``"tsv"``, ``"h5ad"`` or ``"zarr"``.
        compression: ``"gzip"`` or ``None``.
    """

    kind: TableKind
    compression: str | None = None

    @property
    def separator(self) -> str | None:
        """``","`` for csv, ``"\\t"`` for tsv, ``None`` for the binary kinds."""
        return {"csv": ",", "tsv": "\t"}.get(self.kind)

    @property
    def delimited(self) -> bool:
        """Whether the file is delimited text (csv or tsv)."""
        return self.separator is not None


def split_compression(path: str | Path) -> tuple[str, str | None]:
    """``(name without the compression suffix, compression or None)``, the name lower-cased."""
    name = Path(path).name.lower()
    for suffix, compression in COMPRESSION_SUFFIXES.items():
        if name.endswith(suffix):
            return name[: -len(suffix)], compression
    return name, None


def table_format(path: str | Path, *, lenient: bool = False) -> TableFormat:
    """The :class:`TableFormat` of ``path``, from its name (and first line for ``.txt``).

    Args:
        path: the file.
        lenient: treat a name with no known suffix as delimited text (separator from its
            first line) instead of refusing it; for gene lists, pairs, labels and edge lists.

    Raises:
        InputError: an unknown suffix (unless ``lenient``), a compression other than gzip, or a
            compressed Parquet/AnnData file.
    """
    name, compression = split_compression(path)
    suffix = Path(name).suffix
    if compression is not None and compression not in READ_COMPRESSIONS:
        raise InputError(f"{path}: {compression}-compressed files are not read; decompress it or gzip it (.gz)")
    if suffix in PARQUET_SUFFIXES or suffix in ANNDATA_SUFFIXES:
        if compression:
            raise InputError(f"{path}: only delimited text is read compressed; decompress it first")
        return TableFormat("parquet" if suffix in PARQUET_SUFFIXES else ANNDATA_SUFFIXES[suffix])
    if suffix in DELIMITED_SUFFIXES or lenient:
        separator = DELIMITED_SUFFIXES.get(suffix) or sniff_separator(read_first_line(path))
        return TableFormat("csv" if separator == "," else "tsv", compression)
    raise InputError(
        f"{path}: unknown file type {suffix or '(no extension)'!r}; "
        "use .parquet, .csv, .tsv, .txt, .tab (optionally .gz), .h5ad or .zarr"
    )


def sniff_separator(line: str, default: str | None = "\t") -> str | None:
    """The separator of a delimited text line: a tab if it holds one, else a comma if it holds
    one, else ``default``."""
    if "\t" in line:
        return "\t"
    if "," in line:
        return ","
    return default


def open_text(path: str | Path) -> IO[str]:
    """``path`` opened for reading text (UTF-8, a byte-order mark dropped), gunzipped when its
    name ends in ``.gz``; lines keep their endings (``newline=""``, as :mod:`csv` wants)."""
    _, compression = split_compression(path)
    opener = gzip.open if compression == "gzip" else open
    return opener(path, "rt", encoding="utf-8-sig", newline="")


def read_first_line(path: str | Path) -> str:
    """The first line of a (possibly gzipped) text file, ``""`` if it is empty or unreadable
    (the reader that follows reports why)."""
    try:
        with open_text(path) as handle:
            return handle.readline()
    except (OSError, UnicodeDecodeError, EOFError):
        return ""


def is_tsv_output(path: str | Path) -> bool:
    """Whether an edge-list output named ``path`` is to be written as TSV: ``.tsv``, ``.txt``
    or ``.tab``, optionally compressed (``grn.tsv.gz``), any case. Anything else is Parquet."""
    name, _ = split_compression(path)
    return name.endswith(TSV_OUTPUT_SUFFIXES)


def find_column(names: Sequence[str], candidates: Sequence[str]) -> str | None:
    """The first of ``candidates`` (casefolded) among ``names`` (compared casefolded and
    stripped), spelled as in ``names``; ``None`` if there is none."""
    by_key: dict[str, str] = {}
    for name in names:
        by_key.setdefault(str(name).strip().casefold(), name)
    return next((by_key[key] for key in candidates if key in by_key), None)


def find_tf_target_columns(names: Sequence[str], source: str) -> tuple[str, str]:
    """The (TF, target) column names among ``names`` (see :data:`PAIR_COLUMNS`).

    Raises:
        InputError: naming ``source``, the columns found and the accepted names.
    """
    for tf_key, target_key in PAIR_COLUMNS:
        tf, target = find_column(names, (tf_key,)), find_column(names, (target_key,))
        if tf is not None and target is not None:
            return tf, target
    raise InputError(
        f"{source}: no TF and target columns (columns found: {preview(names) or '(none)'}; expected a TF column "
        f"named {'/'.join(TF_COLUMNS)} and a target column named {'/'.join(TARGET_COLUMNS)}, any case)"
    )


def read_frame(path: str | Path, *, what: str, as_text: bool = False):
    """A whole small table (Parquet, or CSV/TSV, optionally gzipped) as a polars DataFrame.

    Args:
        path: the file; any name not known as Parquet is read as delimited text.
        what: what the file is, for messages (``"label file"``, ``"edge list"``).
        as_text: read every CSV/TSV column as strings instead of inferring types.

    Raises:
        InputError: missing or unreadable file, naming it.
    """
    import polars as pl

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {what} not found" if not path.exists() else f"{path}: not a file")
    fmt = table_format(path, lenient=True)
    try:
        if fmt.kind == "parquet":
            return pl.read_parquet(path)
        if not fmt.delimited:
            raise InputError(f"{path}: a {what} is Parquet, CSV or TSV, not {fmt.kind}")
        return pl.read_csv(path, separator=fmt.separator or ",", infer_schema=not as_text)
    except InputError:
        raise
    except Exception as exc:  # polars/pyarrow raise many types for unreadable files
        raise InputError(f"{path}: cannot read the {what} ({first_line(exc)})") from None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when the message is empty):
    library errors run over many lines, and an :class:`InputError` is one."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
