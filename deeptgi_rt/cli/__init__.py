"""The ``deeptgi-rt`` command: a thin layer over the library API.

Each subcommand lives in its own module with two functions, ``add_parser(subparsers)`` and
``run(args) -> int``. Modules import their heavy dependencies inside ``run`` so that
``deeptgi-rt --help`` starts fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import signal
import sys
import threading
import time

from ..errors import InputError

# When this package was imported, as near the process start as it can see.
_IMPORTED = time.perf_counter()
_started: float | None = None


def command_started() -> float:
    """``time.perf_counter()`` when the running command started: the import of this package for
    the process's first :func:`main` (so a fresh process counts its imports), the call of
    :func:`main` for later ones (a program calling it repeatedly). The score summary's ``load``
    stage runs from here."""
    return _IMPORTED if _started is None else _started


# Subcommand name -> module under deeptgi_rt.cli; order is the order shown in --help.
SUBCOMMANDS = ("score", "info", "models", "pcc", "convert", "plot", "eval")
# Library parameters whose flag is not ``--`` + the name with dashes.
FLAG_OF = {
    "min_coverage": "--allow-missing-features",
    "transform": "--log1p/--normalize",
    "bulk_transform": "--bulk-log1p/--bulk-normalize",
}


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="deeptgi-rt",
        description="Infer genome-wide TF -> target gene networks from expression data with DeepTGI models.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"deeptgi-rt {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        module.add_parser(subparsers)
    return parser


def add_quiet(parser: argparse.ArgumentParser) -> None:
    """The ``--quiet`` flag every subcommand shares."""
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bars or info lines (warnings still shown)"
    )


def require_inputs(*inputs: tuple[object, str]) -> None:
    """Fail on the first input path that does not exist, before anything heavy is imported.

    Each input is ``(path, what)``: ``path`` (``None`` or a list of paths is allowed; ``None``
    is skipped) and ``what`` the words of the reader's own message, so the line is the one the
    reader would print later, only seconds sooner (``PATH: <what> not found``; a ``.zarr``
    store's is ``PATH: zarr store not found``). Only existence is checked here: what an existing
    file holds is the reader's to judge.
    """
    for path, what in inputs:
        for item in path if isinstance(path, (list, tuple)) else (path,):
            if item is None or os.path.exists(item):
                continue
            if str(item).rstrip("/\\").lower().endswith(".zarr"):
                what = "zarr store"
            raise InputError(f"{item}: {what} not found")


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread so that every cleanup written for Ctrl-C
    (``finally`` blocks, :func:`~deeptgi_rt.atomic.atomic_output`) runs for them too."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


# Workflow managers and batch schedulers cancel jobs with SIGTERM (Snakemake, Nextflow, SLURM);
# a closed terminal sends SIGHUP.
_CLEANUP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _raise_terminated(signum, frame):
    # A second signal of the same kind kills at once, as without this handler.
    signal.signal(signum, signal.SIG_DFL)
    raise Terminated(signum)


@contextlib.contextmanager
def _signals_raise_terminated():
    """While active, SIGTERM and SIGHUP raise :class:`Terminated` (main thread only; a signal
    the parent set to be ignored, as ``nohup`` does for SIGHUP, stays ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in _CLEANUP_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, _raise_terminated)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_command(prog: str, args: argparse.Namespace) -> int:
    """Run a parsed subcommand (``args.run``) the way every console script of the project does:
    a user mistake (:class:`InputError`, or a file that cannot be written or read for lack of
    space or permission) becomes one line ``PROG: error: ...`` on stderr and exit code 2; an
    interrupt (SIGINT) exit code 130, SIGTERM / SIGHUP 128 + the signal number, after the same
    cleanup (no partial output left)."""
    from ..atomic import WRITE_ERRNOS

    try:
        with _signals_raise_terminated():
            return int(args.run(args) or 0)
    except InputError as exc:
        print(f"{prog}: error: {flag_message(exc, vars(args))}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            raise
        where = f"{exc.filename}: " if exc.filename is not None else ""
        print(f"{prog}: error: {where}{os.strerror(exc.errno or 0)}", file=sys.stderr)
        return 2
    except Terminated as exc:
        print(f"{prog}: terminated by {signal.Signals(exc.signum).name}", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def flag_message(exc: InputError, options: dict) -> str:
    """``exc``'s message in the command line's words: when it names Python parameters
    (``exc.parameter`` set), a leading ``top_k`` becomes ``--top-k`` and ``name='value'`` /
    ``name=`` become ``--name value`` / ``--name``, for the command's ``options`` (parsed
    argument names) and :data:`FLAG_OF`; other words are left alone."""
    message = str(exc)
    if exc.parameter is None:
        return message
    known = set(options) | set(FLAG_OF)

    def flag(name: str) -> str:
        return FLAG_OF.get(name, "--" + name.replace("_", "-"))

    def keyword(match: re.Match) -> str:
        name, value = match[1], match[2] if match[2] is not None else match[3]
        if name not in known:
            return match[0]
        return flag(name) + (f" {value}" if value else "")

    message = re.sub(r"(?<![^\s(])([a-z][a-z_]*)=(?:'([^']*)'|([^\s,;)']+))?", keyword, message)
    leading = re.match(r"[a-z][a-z_]*\b(?!=)", message)
    if leading and leading[0] == exc.parameter and exc.parameter in known:
        message = flag(exc.parameter) + message[leading.end() :]
    return message


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``deeptgi-rt``; returns the process exit code (see :func:`run_command`)."""
    global _started
    _started = _IMPORTED if _started is None else time.perf_counter()
    return run_command("deeptgi-rt", build_parser().parse_args(argv))
