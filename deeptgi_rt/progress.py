"""Progress bars and status lines on stderr, silenced by ``quiet``.

Library functions accept an optional :class:`Reporter`; the default reports nothing, so
pipelines embedding the runtime get no terminal output unless they ask for it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator


class Reporter:
    """Reports progress and one-line messages; the base class is silent."""

    def info(self, message: str) -> None:
        """Print one informational line."""

    def warn(self, message: str) -> None:
        """Print one warning line."""

    @contextlib.contextmanager
    def task(self, description: str, total: float | None, unit: str = "items") -> Iterator[Callable[[float], None]]:
        """Context manager yielding ``advance(n)`` for a task of ``total`` units."""

        def advance(n: float = 1) -> None:
            pass

        yield advance


class RichReporter(Reporter):
    """rich progress bars and messages on stderr."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, highlight=False)

    def info(self, message: str) -> None:
        self.console.print(message, markup=False, soft_wrap=True)

    def warn(self, message: str) -> None:
        self.console.print(f"warning: {message}", style="yellow", markup=False, soft_wrap=True)

    @contextlib.contextmanager
    def task(self, description: str, total: float | None, unit: str = "items") -> Iterator[Callable[[float], None]]:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=self.console, transient=False) as progress:
            task_id = progress.add_task(description, total=total, rate="")

            def advance(n: float = 1) -> None:
                progress.advance(task_id, n)
                task = progress.tasks[0]
                speed = task.speed
                if speed:
                    progress.update(task_id, rate=f"{speed:,.0f} {unit}/s")

            yield advance


class WarningsOnlyReporter(Reporter):
    """What ``--quiet`` gives: no progress or info, but warnings still reach stderr."""

    def warn(self, message: str) -> None:
        print(f"warning: {message}", file=sys.stderr)


def make_reporter(quiet: bool) -> Reporter:
    """The CLI's reporter: warnings only when ``quiet``, else rich progress bars and messages."""
    if quiet:
        return WarningsOnlyReporter()
    return RichReporter()
