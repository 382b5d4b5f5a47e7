"""The ``deeptgi-train`` command (not yet implemented)."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``deeptgi-train``."""
    parser = argparse.ArgumentParser(prog="deeptgi-train", description="Train and validate DeepTGI models.")
    parser.parse_args(argv)
    parser.print_help()
    return 0
