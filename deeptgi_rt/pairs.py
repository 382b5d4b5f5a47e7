"""Candidate pairs to score, streamed from a Parquet or CSV/TSV file (or an in-memory table).

A pairs table has a TF column and a target column, recognized case-insensitively under the
names in :data:`PAIR_COLUMNS` (``TF``/``Target``, ``Gene1``/``Gene2``, ``TF``/``gene``,
``source``/``target``); other columns are ignored. Files are read in record batches
(``pyarrow.parquet.ParquetFile.iter_batches`` / ``pyarrow.csv.open_csv``), never whole, and
names are mapped to gene indices with Arrow's hash lookup (``pyarrow.compute.index_in``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import InputError, preview

# Accepted (TF column, target column) names, compared casefolded, first match wins.
PAIR_COLUMNS = (("tf", "target"), ("gene1", "gene2"), ("tf", "gene"), ("source", "target"))
PAIRS_BATCH_ROWS = 1 << 20
_PARQUET_SUFFIXES = (".parquet", ".pq")
_TAB_SUFFIXES = (".tsv", ".tab", ".txt")


def find_pair_columns(names: Sequence[str], source: str) -> tuple[str, str]:
    """The (TF, target) column names among ``names``; :class:`InputError` if there are none."""
    by_key = {}
    for name in names:
        by_key.setdefault(str(name).casefold(), name)
    for tf_key, gene_key in PAIR_COLUMNS:
        if tf_key in by_key and gene_key in by_key:
            return by_key[tf_key], by_key[gene_key]
    accepted = ", ".join(f"{tf}/{gene}" for tf, gene in PAIR_COLUMNS)
    raise InputError(
        f"{source}: no TF and target columns (found {preview(names)}; expected one of {accepted}, any case)"
    )


class PairSource:
    """A table of pairs that can be read several times, each time in record batches.

    Attributes:
        source: the file path or ``"<memory>"``, for messages.
        tf_column, gene_column: the recognized column names.
    """

    def __init__(self, pairs):
        if isinstance(pairs, (str, Path)):
            self.source = str(pairs)
            self._path = Path(pairs)
            self._table = None
            if not self._path.is_file():
                raise InputError(f"{self.source}: pairs file not found")
            names = self._file_columns()
        else:
            self.source = "<pairs table>"
            self._path = None
            self._table = _as_arrow_table(pairs)
            names = self._table.column_names
        self.tf_column, self.gene_column = find_pair_columns(names, self.source)

    def _is_parquet(self) -> bool:
        return self._path.name.lower().endswith(_PARQUET_SUFFIXES)

    def _delimiter(self) -> str:
        name = self._path.name.lower().removesuffix(".gz")
        if name.endswith(".csv"):
            return ","
        if name.endswith(_TAB_SUFFIXES):
            return "\t"
        with open(self._path, "rb") as handle:
            first = handle.readline()
        return "\t" if b"\t" in first else ","

    def _file_columns(self) -> list[str]:
        try:
            if self._is_parquet():
                import pyarrow.parquet as pq

                return pq.ParquetFile(str(self._path)).schema_arrow.names
            import pyarrow.csv as pacsv

            reader = pacsv.open_csv(str(self._path), parse_options=pacsv.ParseOptions(delimiter=self._delimiter()))
            names = reader.schema.names
            reader.close()
            return names
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"{self.source}: cannot read the pairs file ({_first_line(exc)})") from None

    def batches(self, batch_rows: int = PAIRS_BATCH_ROWS) -> Iterator[tuple[pa.Array, pa.Array]]:
        """Yield ``(tf_names, target_names)`` string arrays, one record batch at a time."""
        columns = [self.tf_column, self.gene_column]
        try:
            if self._table is not None:
                stream = self._table.select(columns).to_batches(max_chunksize=batch_rows)
            elif self._is_parquet():
                import pyarrow.parquet as pq

                stream = pq.ParquetFile(str(self._path)).iter_batches(batch_size=batch_rows, columns=columns)
            else:
                import pyarrow.csv as pacsv

                stream = pacsv.open_csv(
                    str(self._path),
                    read_options=pacsv.ReadOptions(block_size=1 << 24),
                    parse_options=pacsv.ParseOptions(delimiter=self._delimiter()),
                    convert_options=pacsv.ConvertOptions(
                        include_columns=columns, column_types={name: pa.string() for name in columns}
                    ),
                )
            for batch in stream:
                yield _as_strings(batch.column(0)), _as_strings(batch.column(1))
        except pa.ArrowException as exc:
            raise InputError(f"{self.source}: cannot read the pairs file ({_first_line(exc)})") from None


def _as_arrow_table(pairs) -> pa.Table:
    if isinstance(pairs, pa.Table):
        return pairs
    module = type(pairs).__module__.split(".")[0]
    if module == "polars":
        return pairs.to_arrow()
    if module == "pandas":
        return pa.Table.from_pandas(pairs, preserve_index=False)
    raise InputError(f"pairs: expected a file path or a polars/pandas/pyarrow table, got {type(pairs).__name__}")


def _as_strings(array) -> pa.Array:
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if array.type != pa.string():
        array = pc.cast(array, pa.string())
    return array


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class GeneIndex:
    """Maps gene names to their positions in a gene list, vectorized, optionally ignoring case."""

    def __init__(self, genes: Sequence[str], case_insensitive: bool = False):
        self.case_insensitive = case_insensitive
        self.n_genes = len(genes)
        self._value_set = self._key(pa.array(list(genes), type=pa.string()))

    def _key(self, names: pa.Array) -> pa.Array:
        return pc.utf8_lower(names) if self.case_insensitive else names

    def lookup(self, names: pa.Array) -> np.ndarray:
        """int32 ``[n]`` positions of ``names`` in the gene list, -1 for unknown names."""
        found = pc.index_in(self._key(names), value_set=self._value_set)
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)


@dataclass
class PairScan:
    """What a first pass over a pairs table found.

    Attributes:
        pairs: rows in the table.
        unknown_pairs: rows naming a gene that is not in the data.
        unknown_genes: distinct names not in the data, in order of first appearance.
        tf_used, gene_used: bool ``[genes]``, which genes occur as TF / as target in known pairs.
    """

    pairs: int
    unknown_pairs: int
    unknown_genes: list[str] = field(default_factory=list)
    tf_used: np.ndarray | None = None
    gene_used: np.ndarray | None = None

    def unknown_message(self, source: str) -> str:
        """One line describing the unknown pairs."""
        return (
            f"{source}: {self.unknown_pairs} of {self.pairs} pairs name genes that are not in the expression "
            f"data ({len(self.unknown_genes)} genes: {preview(self.unknown_genes)})"
        )


def scan_pairs(pairs: PairSource, index: GeneIndex, batch_rows: int = PAIRS_BATCH_ROWS) -> PairScan:
    """First pass: count the pairs, find unknown genes, and mark the genes used as TFs and targets."""
    tf_used = np.zeros(index.n_genes, dtype=bool)
    gene_used = np.zeros(index.n_genes, dtype=bool)
    unknown: dict[str, None] = {}
    total = unknown_pairs = 0
    for tf_names, gene_names in pairs.batches(batch_rows):
        tf_rows, gene_rows = index.lookup(tf_names), index.lookup(gene_names)
        known = (tf_rows >= 0) & (gene_rows >= 0)
        total += len(known)
        unknown_pairs += int(len(known) - np.count_nonzero(known))
        tf_used[tf_rows[known]] = True
        gene_used[gene_rows[known]] = True
        for names, rows in ((tf_names, tf_rows), (gene_names, gene_rows)):
            if (rows < 0).any():
                missing = pc.unique(pc.filter(names, pa.array(rows < 0))).to_pylist()
                unknown.update((name if name else "(empty)", None) for name in missing)
    return PairScan(total, unknown_pairs, list(unknown), tf_used, gene_used)


def iter_known_pairs(pairs: PairSource, index: GeneIndex,
                     batch_rows: int = PAIRS_BATCH_ROWS) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Second pass: yield ``(tf_rows, gene_rows)``, int32 ``[n]`` gene-list positions of each
    batch's pairs, in file order, pairs naming unknown genes left out."""
    for tf_names, gene_names in pairs.batches(batch_rows):
        tf_rows, gene_rows = index.lookup(tf_names), index.lookup(gene_names)
        known = (tf_rows >= 0) & (gene_rows >= 0)
        if not known.all():
            tf_rows, gene_rows = tf_rows[known], gene_rows[known]
        yield tf_rows, gene_rows
