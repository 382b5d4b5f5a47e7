"""Candidate pairs to score, streamed from a Parquet or CSV/TSV file (or an in-memory table).

A pairs table has a TF column and a target column, recognized case-insensitively by
:func:`deeptgi_rt.tables.find_tf_target_columns` (``TF``/``Target``, ``Gene1``/``Gene2``,
``TF``/``gene``, ``source``/``target``, ``regulator``/``target``, ...), the names training
labels are read with; other columns are ignored. Files are read in record batches
(``pyarrow.parquet.ParquetFile.iter_batches`` / ``pyarrow.csv.open_csv``), never whole, and
names are mapped to gene indices by :class:`deeptgi_rt.names.GeneMatcher` (Arrow hash lookup).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import InputError, preview
from .names import GeneMatcher
from .tables import find_tf_target_columns, first_line, table_format

PAIRS_BATCH_ROWS = 1 << 20


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
            self._format = table_format(self._path, lenient=True)
            if not (self._format.kind == "parquet" or self._format.delimited):
                raise InputError(f"{self.source}: a pairs file is Parquet, CSV or TSV, not {self._format.kind}")
            names = self._file_columns()
        else:
            self.source = "<pairs table>"
            self._path = None
            self._table = _as_arrow_table(pairs)
            names = self._table.column_names
        self.tf_column, self.gene_column = find_tf_target_columns(names, self.source)

    def _is_parquet(self) -> bool:
        return self._format.kind == "parquet"

    def _delimiter(self) -> str:
        return self._format.separator

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
            raise InputError(f"{self.source}: cannot read the pairs file ({first_line(exc)})") from None

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
            raise InputError(f"{self.source}: cannot read the pairs file ({first_line(exc)})") from None


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


def scan_pairs(pairs: PairSource, index: GeneMatcher, batch_rows: int = PAIRS_BATCH_ROWS) -> PairScan:
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


def iter_known_pairs(
    pairs: PairSource, index: GeneMatcher, batch_rows: int = PAIRS_BATCH_ROWS
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Second pass: yield ``(tf_rows, gene_rows)``, int32 ``[n]`` gene-list positions of each
    batch's pairs, in file order, pairs naming unknown genes left out."""
    for tf_names, gene_names in pairs.batches(batch_rows):
        tf_rows, gene_rows = index.lookup(tf_names), index.lookup(gene_names)
        known = (tf_rows >= 0) & (gene_rows >= 0)
        if not known.all():
            tf_rows, gene_rows = tf_rows[known], gene_rows[known]
        yield tf_rows, gene_rows
