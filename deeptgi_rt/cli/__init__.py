"""The ``deeptgi-rt`` command: a thin layer over the library API.

Each subcommand lives in its own module with two functions, ``add_parser(subparsers)`` and
``run(args) -> int``. Modules import their heavy dependencies inside ``run`` so that
``deeptgi-rt --help`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import InputError

# Subcommand name -> module under deeptgi_rt.cli; order is the order shown in --help.
SUBCOMMANDS = ("score", "info", "pcc", "convert", "plot", "eval")


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
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or info lines (warnings still shown)")


def run_command(prog: str, args: argparse.Namespace) -> int:
    """Run a parsed subcommand (``args.run``) the way every console script of the project does:
    a user mistake (:class:`InputError`) becomes one line ``PROG: error: ...`` on stderr and exit
    code 2, an interrupt exit code 130."""
    try:
        return int(args.run(args) or 0)
    except InputError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``deeptgi-rt``; returns the process exit code (see :func:`run_command`)."""
    return run_command("deeptgi-rt", build_parser().parse_args(argv))
