"""`deeptgi-rt models`: list the shipped models that `--model NAME` accepts."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers) -> None:
    """Register the `models` subcommand."""
    parser = subparsers.add_parser(
        "models",
        help="list the shipped models (usable by name: --model NAME)",
        description="List the models installed with deeptgi-rt: the name that --model and load_model() accept, "
        "the card's one-line summary and the file. `deeptgi-rt info NAME` shows one model's metadata.",
    )
    parser.add_argument("--json", action="store_true", help="print name, summary, file and card as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the shipped models, one per line (or JSON)."""
    from ..catalog import shipped_models

    models = shipped_models()
    if args.json:
        rows = [
            {"name": m.name, "summary": m.summary, "file": str(m.path), "card": str(m.path.with_suffix(".md"))}
            for m in models
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if not models:
        print("no shipped models are installed")
        return 0
    width = max(len(m.name) for m in models)
    for m in models:
        print(f"{m.name:<{width}}  {m.summary}")
    print(f"(files in {models[0].path.parent}; each NAME.md is the model's card)")
    return 0
