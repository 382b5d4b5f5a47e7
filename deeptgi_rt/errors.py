"""User-facing errors.

A user's mistake (a bad file, a missing gene, a wrong option) raises :class:`InputError`
with one line that names the file and the offending item. The CLI turns it into that line
on stderr and exit code 2; library callers can catch it like any exception.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from os import PathLike
    from pathlib import Path


class InputError(ValueError):
    """A problem with the user's input, described in one self-contained line.

    Attributes:
        parameter: the Python parameter at fault (``"top_k"``, ``"device"``, ...) when the
            message names parameters as ``name`` / ``name=value``; a command line rewrites
            those to its own flags. ``None`` for problems with a file's content.
    """

    def __init__(self, message: str, *, parameter: str | None = None):
        # One line only: the CLI prints it verbatim and pipelines log it as one record.
        super().__init__(" ".join(str(message).split()))
        self.parameter = parameter


def require_file(path: str | PathLike[str], *, what: str = "file", expected: str = "a file") -> Path:
    """``path`` as a Path if it names an existing regular file; else :class:`InputError`
    ("PATH: <what> not found" or "PATH: is a directory, not <expected>")."""
    from pathlib import Path

    file = Path(path)
    if not file.exists():
        raise InputError(f"{path}: {what} not found")
    if file.is_dir():
        raise InputError(f"{path}: is a directory, not {expected}")
    return file


def preview(items: Iterable[object], limit: int = 5) -> str:
    """Render the first ``limit`` items of a collection for an error message.

    >>> preview(["a", "b", "c"], limit=2)
    'a, b, ... (3 in all)'
    """
    listed = list(items)
    shown = ", ".join(str(item) for item in listed[:limit])
    if len(listed) > limit:
        shown += f", ... ({len(listed)} in all)"
    return shown
