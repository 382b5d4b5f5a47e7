"""`deeptgi-rt info`: show a DeepTGI model's metadata."""

from __future__ import annotations

import argparse
import json

PREVIEW_GENES = 8


def add_parser(subparsers) -> None:
    """Register the `info` subcommand."""
    parser = subparsers.add_parser(
        "info",
        help="show a DeepTGI model's metadata",
        description="Print the metadata of a DeepTGI .onnx model: feature genes, modalities, preprocessing, "
        "threshold, state tensors, TFs, configuration and training summary.",
    )
    parser.add_argument(
        "model", metavar="MODEL", help="the model file, or a shipped model's name (`deeptgi-rt models`)"
    )
    parser.add_argument("--json", action="store_true", help="print the metadata as raw JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the metadata (a rich table, or JSON with ``--json``)."""
    from ..catalog import resolve_model
    from ..errors import require_file

    require_file(resolve_model(args.model), what="model file", expected="an ONNX model")  # before onnx's import (~1 s)
    from ..model import read_model

    model, meta = read_model(args.model)
    if args.json:
        props = {prop.key: json.loads(prop.value) for prop in model.metadata_props if prop.key in meta.to_props()}
        print(json.dumps(props, indent=2))
        return 0
    from rich.console import Console

    Console(highlight=False).print(metadata_table(args.model, meta, model))
    return 0


def metadata_table(path: str, meta, model):
    """A rich table describing ``meta`` (a :class:`~deeptgi_rt.contract.ModelMetadata`)."""
    from rich.table import Table

    table = Table(title=f"DeepTGI model {path}", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    genes = meta.feature_genes
    table.add_row("format version", str(meta.format_version))
    table.add_row(
        "feature genes",
        f"{len(genes):,}: {', '.join(genes[:PREVIEW_GENES])}" + (", ..." if len(genes) > PREVIEW_GENES else ""),
    )
    table.add_row(
        "modalities", ", ".join(f"{name} ({prep})" for name, prep in zip(meta.modalities, meta.preprocessing))
    )
    table.add_row(
        "expression transform",
        ", ".join(f"{name}: {describe_transform(meta.transform_of(m))}" for m, name in enumerate(meta.modalities)),
    )
    table.add_row("threshold (Youden)", f"{meta.threshold:.6g}")
    from ..thresholds import model_threshold

    table.add_row("calibration", _calibration_words(meta.calibration))
    genome_wide = model_threshold(meta, "youden")
    table.add_row("threshold youden (genome-wide)", f"{genome_wide.value:.6g}: {genome_wide.describe()}")
    table.add_row(
        "pair features",
        "none (the head reads the two genes' feature rows only)"
        if not meta.pair_features
        else f"{', '.join(meta.pair_features)} of each TF x target pair, computed from the expression at scoring",
    )
    if meta.state_tensors:
        table.add_row("state tensors", f"TF: {meta.state_tensors['tf']}, gene: {meta.state_tensors['gene']}")
    else:
        table.add_row("state tensors", "none (scored end to end)")
    table.add_row(
        "target prior",
        "none (the network scores alone)"
        if meta.target_prior is None
        else f"{len(meta.target_prior['genes']):,} targets, added to the network's logit at scoring "
        "(--no-target-prior leaves it out)",
    )
    table.add_row(
        "TFs",
        f"{len(meta.tfs):,}"
        + (
            f": {', '.join(meta.tfs[:PREVIEW_GENES])}" + (", ..." if len(meta.tfs) > PREVIEW_GENES else "")
            if meta.tfs
            else ""
        ),
    )
    table.add_row(
        "opset / producer",
        f"{', '.join(str(op.version) for op in model.opset_import if op.domain in ('', 'ai.onnx'))}"
        f" / {model.producer_name or '?'} {model.producer_version}".rstrip(),
    )
    for key, value in meta.config.items():
        table.add_row(f"config.{key}", _short(value))
    training = dict(meta.training)
    metrics = training.pop("metrics", None)
    check = training.pop("genome_wide", None)
    if isinstance(check, dict):
        from ..evaluation_report import describe_genome_check

        table.add_row("genome-wide check", describe_genome_check(check))
    for key, value in training.items():
        table.add_row(f"training.{key}", _short(value))
    if isinstance(metrics, dict):
        for key, value in metrics.items():
            table.add_row(f"metric {key}", f"{value:.4f}" if isinstance(value, float) else _short(value))
    elif metrics is not None:
        table.add_row("metrics", _short(metrics))
    return table


def _calibration_words(calibration) -> str:
    if not calibration:
        return "none recorded (the genome-wide threshold shifts the raw score logit)"
    return (
        f"Platt slope {calibration['slope']:.4g}, intercept {calibration['intercept']:.4g} "
        f"(on {calibration.get('pairs', '?')} {calibration.get('source', 'held-out')} pairs)"
    )


TRANSFORM_WORDS = {
    "none": "none (trained on the values as given; they did not look like raw counts)",
    "log1p": "log1p (applied by the runtime too)",
    "normalize_total_log1p": "normalize_total_log1p: per-cell total 10,000, then log1p (applied by the runtime too)",
    "raw_counts": "none (trained on raw counts as given)",
    "unknown": "unknown (not recorded by this model's trainer)",
}


def describe_transform(transform: str) -> str:
    """An ``expression_transform`` value in words."""
    return TRANSFORM_WORDS.get(transform, transform)


def _short(value, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
