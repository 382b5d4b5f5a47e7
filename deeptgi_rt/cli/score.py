"""`deeptgi-rt score` (not yet implemented)."""

from __future__ import annotations


def add_parser(subparsers) -> None:
    """Register the `score` subcommand."""
    parser = subparsers.add_parser("score", help="(not yet implemented)")
    parser.set_defaults(run=run)


def run(args) -> int:
    """Run the subcommand."""
    raise SystemExit("deeptgi-rt score: not yet implemented")
