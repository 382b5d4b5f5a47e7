"""Gene-list files: which genes (TFs, targets, PCC rows or columns) a command should use.

A gene list is either plain text, one name per line, or a CSV/TSV whose first column holds
the names (other columns are ignored). Blank lines and lines starting with ``#`` are skipped,
and a first row whose first field is a header word (:data:`HEADER_WORDS`) is skipped too.
Repeated names are kept once, at their first position, so a list assembled by concatenating
other lists still works; the order of first occurrence is the order of the output.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .errors import InputError
from .tables import DELIMITED_SUFFIXES, open_text, sniff_separator, split_compression

# A first row naming the column rather than a gene (compared casefolded).
HEADER_WORDS = frozenset({"gene", "genes", "tf", "tfs", "name", "symbol", "gene_name", "gene_symbol"})


def read_gene_list(path) -> list[str]:
    """Gene names from ``path``, in file order, each once.

    Args:
        path: a text file (one name per line) or a ``.csv``/``.tsv``/``.tab`` (first column);
            a ``.txt`` or extension-less file whose lines hold tabs or commas is split the same way;
            any of them optionally gzipped (``.gz``).

    Returns:
        The names, stripped of surrounding whitespace and quotes, without duplicates.

    Raises:
        InputError: missing or unreadable file, a row with an empty first field, or no names.
    """
    source = str(path)
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{source}: gene list not found" if not file.exists() else f"{source}: not a file")
    try:
        with open_text(file) as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise InputError(f"{source}: cannot read the gene list: {exc}") from None
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise InputError(f"{source}: gene list is empty")
    separator = _separator(file, lines[0][1])
    names: dict[str, None] = {}
    for index, (number, line) in enumerate(lines):
        field = next(csv.reader([line], delimiter=separator))[0] if separator else line
        name = field.strip().strip('"').strip()
        if index == 0 and name.casefold() in HEADER_WORDS:
            continue
        if not name:
            raise InputError(f"{source}: empty gene name at line {number}")
        names.setdefault(name, None)
    if not names:
        raise InputError(f"{source}: gene list has a header but no genes")
    return list(names)


def _separator(file: Path, first_line: str) -> str | None:
    """The separator from the name (.csv, .tsv, .tab), else from the first line; ``None`` for
    one name per line."""
    name, _ = split_compression(file)
    known = DELIMITED_SUFFIXES.get(Path(name).suffix)
    return known or sniff_separator(first_line, default=None)
