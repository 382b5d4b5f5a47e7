"""Add the metadata fields of a newer trainer to a shipped model, from the files it was trained on.

    python tools/add_training_facts.py deeptgi_rt/models/mhsc-e-lite.onnx [--check]

Models exported before ``label_prior`` and ``expression_transform`` existed lack them. Both
are facts of the training files named in the model's ``training`` metadata (under
``examples/``), recomputed here with the trainer's own code (the same label reading, unknown
genes dropped, seeded negatives, and count check as ``deeptgi-train fit``); the script refuses
when the recomputed labelled pairs differ from the counts the model recorded (``n_pairs``,
``n_positive``). Only ``metadata_props`` change; the graph is written back byte for byte.
``--check`` prints the fields without writing.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import onnx

REPO = Path(__file__).resolve().parent.parent


def training_facts(meta) -> dict:
    """``{"label_prior": ..., "expression_transform": [...]}`` recomputed from the files and
    options of ``meta.training["command"]``."""
    from deeptgi_rt.errors import InputError
    from deeptgi_rt.expression import looks_like_counts, read_expression
    from deeptgi_train.cli import build_parser
    from deeptgi_train.export import genome_label_prior, label_prior
    from deeptgi_train.labels import add_negatives, drop_unknown_genes, read_labels

    args = build_parser().parse_args(shlex.split(meta.training["command"])[1:])
    if args.bulk or args.tfs or args.log1p or args.normalize:
        raise InputError(f"{args.expr}: only single-modality models trained without transforms are handled here")
    expression = read_expression(REPO / args.expr, layout=args.layout, case_insensitive=args.case_insensitive)
    pairs = read_labels(REPO / args.labels)
    pairs = drop_unknown_genes(pairs, expression.genes, data_source=args.expr)
    pairs = add_negatives(pairs, expression.genes, args.negatives, seed=args.seed)
    recorded = (meta.training["n_pairs"], meta.training["n_positive"])
    if (len(pairs), int(pairs.labels.sum())) != recorded:
        raise InputError(
            f"{args.labels}: recomputed {len(pairs)} pairs ({int(pairs.labels.sum())} positive), the "
            f"model recorded {recorded[0]} ({recorded[1]}); not the files it was trained on"
        )
    prior = label_prior(pairs.tfs, pairs.labels, len(expression.genes))
    if meta.training.get("genome_wide") is not None:
        prior = genome_label_prior(prior)
    return {
        "label_prior": prior,
        "expression_transform": ["raw_counts" if looks_like_counts(expression.values) else "none"],
    }


def main(argv: list[str] | None = None) -> int:
    from deeptgi_rt.atomic import atomic_output
    from deeptgi_rt.contract import ModelMetadata

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--check", action="store_true", help="print the fields, write nothing")
    args = parser.parse_args(argv)
    proto = onnx.load_model(args.model)
    props = {prop.key: prop.value for prop in proto.metadata_props}
    meta = ModelMetadata.from_props(props, str(args.model))
    facts = training_facts(meta)
    print(json.dumps(facts, indent=1))
    if args.check:
        return 0
    for key, value in facts.items():
        props[key] = json.dumps(value)
    ModelMetadata.from_props(props, str(args.model))  # the result must still be a valid model
    del proto.metadata_props[:]
    for key, value in props.items():
        proto.metadata_props.add(key=key, value=value)
    with atomic_output(args.model) as partial:
        onnx.save_model(proto, partial)
    return 0


if __name__ == "__main__":
    sys.exit(main())
