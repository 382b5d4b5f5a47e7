"""`deeptgi-rt convert` (not yet implemented)."""

from __future__ import annotations


def add_parser(subparsers) -> None:
    """Register the `convert` subcommand."""
    parser = subparsers.add_parser("convert", help="(not yet implemented)")
    parser.set_defaults(run=run)


def run(args) -> int:
    """Run the subcommand."""
    raise SystemExit("deeptgi-rt convert: not yet implemented")
