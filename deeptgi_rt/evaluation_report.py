"""Reports of :func:`deeptgi_rt.evaluation.evaluate`: the terminal table, metrics.json, metrics.csv, roc.png, pr.png.

matplotlib is imported only to draw the curves; without it ``--report`` fails before any work,
with one line naming the ``plot`` extra.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from .atomic import atomic_output
from .errors import InputError
from .evaluation import Evaluation, MethodResult

# Curves are drawn from at most this many points: a genome-wide ranking has millions of steps,
# far beyond what a 5-inch figure shows.
MAX_CURVE_POINTS = 4000
CSV_COLUMNS = (
    "method",
    "source",
    "listed",
    "auroc",
    "auroc_low",
    "auroc_high",
    "average_precision",
    "auprc_ratio",
    "auprc_ratio_low",
    "auprc_ratio_high",
    "epr",
    "epr_low",
    "epr_high",
    "target_wise_auroc",
    "target_wise_low",
    "target_wise_high",
    "target_wise_targets",
    "pair_specific_auroc",
    "pair_specific_low",
    "pair_specific_high",
    "per_tf_auroc_median",
    "per_tf_average_precision_median",
    "tfs_evaluable",
)


def check_report_dir(path) -> Path:
    """Fail before any work if the report cannot be written: parent missing, a file in the way, no matplotlib."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise InputError(f"{target}: report path exists and is not a directory")
    if not target.parent.is_dir():
        raise InputError(f"{target}: parent directory {target.parent} does not exist")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError(
            "--report draws roc.png and pr.png with matplotlib, which is not installed: pip install 'deeptgi-rt[plot]'"
        ) from None
    return target


def _bounds(low: float, high: float) -> str:
    return "" if math.isnan(low) else f"{low:.2f}–{high:.2f}"


def print_table(result: Evaluation, console=None) -> None:
    """The candidate set and one row per method (a second row with the bootstrap intervals) on stderr."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console(stderr=True)
        if not console.is_terminal:
            # Logs and pipes default to 80 columns, which folds every figure of this table.
            console = Console(stderr=True, width=120)
    c = result.candidates
    for line in candidates_lines(result):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    table = Table(title=str(result.truth), box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("method", no_wrap=True, overflow="fold")
    for column in ("listed", "AUROC", "AUPRC", "ratio", "EPR", "TW-AUROC", "PS-AUROC", "TF med"):
        table.add_column(column, justify="right", no_wrap=True)
    for method in result.methods:
        s, tw, ps = method.summary, method.target_wise, method.pair_specific
        table.add_row(
            method.name,
            f"{method.listed:,}",
            f"{s['auroc']:.3f}",
            f"{s['average_precision']:.4f}",
            f"{s['auprc_ratio']:.2f}",
            f"{s['epr']:.2f}",
            f"{tw.mean:.3f}",
            f"{ps.mean:.3f}",
            f"{method.per_tf_quantiles('auroc')[1]:.3f}",
        )
        if result.bootstrap:
            table.add_row(
                "  95 % interval",
                "",
                _bounds(*method.intervals["auroc"]),
                "",
                _bounds(*method.intervals["auprc_ratio"]),
                _bounds(*method.intervals["epr"]),
                _bounds(tw.low, tw.high),
                _bounds(ps.low, ps.high),
                "",
                style="dim",
            )
    console.print(table)
    first = result.methods[0].target_wise.targets
    console.print(
        f"ratio = AUPRC / edge density; EPR = precision of the top {c.positives:,} / edge density; TW-AUROC = "
        f"target-wise AUROC, mean over {first:,} targets with a true and a false TF (0.5 for any score of the "
        "target alone); PS-AUROC = the same after removing each TF's and each target's own effect from the scores' "
        "rank logits (0.5 for any score of the TF alone, the target alone or their sum); TF med = median per-TF "
        f"AUROC over {int(np.count_nonzero(result.methods[0].per_tf.evaluable)):,} TFs."
        + (
            f" Intervals: {result.bootstrap} resamples of TFs (TW- and PS-AUROC: of targets), seed {result.seed}."
            if result.bootstrap
            else ""
        )
    )


def candidates_lines(result: Evaluation) -> list[str]:
    """The candidate set the figures are computed on: its size, its TFs and genes and which
    input gave each, and where every truth edge went (among the candidates, a TF -> itself
    pair, outside the candidates)."""
    from .errors import preview

    c = result.candidates
    selfs = f"{c.truth_self_pairs:,} self-pair{'' if c.truth_self_pairs == 1 else 's'}"
    return [
        f"candidates: {len(c.tfs):,} TFs x {len(c.genes):,} genes, self-pairs excluded = {len(c):,} pairs; "
        f"true edges among them: {c.positives:,} (edge density {c.positives / len(c):.4f})",
        f"  TFs from {result.tfs_from or 'the given TFs'}: {preview(c.tfs)}",
        f"  genes from {result.genes_from or 'the given genes'}: {preview(c.genes)}",
        f"  truth edges: {c.truth_edges:,} = {c.positives:,} among the candidates + {selfs} (TF -> itself, "
        f"never a candidate) + {c.truth_outside:,} outside the candidates (ignored)",
    ]


def write_report(result: Evaluation, directory) -> list[Path]:
    """metrics.json, metrics.csv, roc.png and pr.png in ``directory`` (created if missing), each written atomically."""
    directory = Path(directory)
    directory.mkdir(exist_ok=True)
    paths = [directory / "metrics.json", directory / "metrics.csv"]
    with atomic_output(paths[0]) as tmp:
        tmp.write_text(json.dumps(_jsonable(result.to_dict()), indent=2) + "\n")
    with atomic_output(paths[1]) as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            for method in result.methods:
                writer.writerow(csv_row(method))
    return paths + plot_curves(result, directory)


def csv_row(method: MethodResult) -> list:
    """One metrics.csv row (:data:`CSV_COLUMNS`)."""
    s, tw, ps = method.summary, method.target_wise, method.pair_specific
    bounds = {name: method.intervals.get(name, (math.nan, math.nan)) for name in ("auroc", "auprc_ratio", "epr")}
    return [
        method.name,
        method.source,
        method.listed,
        s["auroc"],
        *bounds["auroc"],
        s["average_precision"],
        s["auprc_ratio"],
        *bounds["auprc_ratio"],
        s["epr"],
        *bounds["epr"],
        tw.mean,
        tw.low,
        tw.high,
        tw.targets,
        ps.mean,
        ps.low,
        ps.high,
        method.per_tf_quantiles("auroc")[1],
        method.per_tf_quantiles("average_precision")[1],
        int(np.count_nonzero(method.per_tf.evaluable)),
    ]


def _jsonable(value):
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if x.size <= MAX_CURVE_POINTS:
        return x, y
    keep = np.unique(np.r_[np.linspace(0, x.size - 1, MAX_CURVE_POINTS).astype(np.int64), x.size - 1])
    return x[keep], y[keep]


def plot_curves(result: Evaluation, directory: Path) -> list[Path]:
    """roc.png and pr.png in ``directory``: one curve per method, the chance level dashed."""
    density = result.candidates.positives / len(result.candidates)
    title = f"{Path(result.truth).name}, {len(result.candidates):,} candidates"
    curves = [(m, m.roc, m.pr) for m in result.methods if m.roc is not None and m.pr is not None]
    roc = [(*_thin(*r), f"{m.name} (AUROC {m.summary['auroc']:.3f})") for m, r, _ in curves]
    pr = [(*_thin(*p), f"{m.name} (AUPRC {m.summary['average_precision']:.3f})") for m, _, p in curves]
    return [
        curve_figure("roc", roc, f"ROC: {title}", directory / "roc.png"),
        curve_figure("pr", pr, f"PR: {title}", directory / "pr.png", chance=density),
    ]


def curve_figure(kind: str, curves, title: str, out: Path, chance: float | None = None) -> Path:
    """Draw ROC (``kind="roc"``, chance = the diagonal) or PR curves (``"pr"``, steps; ``chance`` =
    the positive fraction, dashed) into the PNG ``out``, written atomically.

    ``curves``: ``(x, y, label)`` per curve, x and y float ``[points]`` (fpr/tpr or recall/precision).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5.5, 5))
    for x, y, label in curves:
        axes.plot(x, y, lw=1.2, label=label, drawstyle="steps-post" if kind == "pr" else "default")
    if kind == "roc":
        axes.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        axes.set_xlabel("false positive rate")
        axes.set_ylabel("true positive rate")
    else:
        if chance is not None:
            axes.axhline(chance, color="grey", lw=0.8, ls="--")
        axes.set_xlabel("recall")
        axes.set_ylabel("precision")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_title(title)
    axes.legend(loc="lower right" if kind == "roc" else "upper right", fontsize=7)
    with atomic_output(out) as tmp:
        figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    return out


def describe_genome_check(check: dict) -> str:
    """One line of a model's genome-wide check (metadata ``training.genome_wide``, written by
    ``deeptgi-train fit``): the model beside |PCC| and the target-degree prior on the same
    held-out candidates, and whether it ranks them better than |PCC|."""

    def cell(name: str) -> str:
        values = check[name]
        return f"AUROC {values['auroc']:.3f}, AUPRC ratio {values['auprc_ratio']:.2f}, EPR {values['epr']:.2f}"

    held = "held-out TFs" if check["protocol"] == "tf" else f"held-out pairs ({check['protocol']} split)"
    verdict = (
        "it ranks them better than |PCC|"
        if check["beats_pcc"]
        else "it does NOT rank them better than |PCC| (AUROC and EPR): check before relying on its genome-wide ranking"
    )
    return (
        f"genome-wide check ({check['source']}, {check['tfs']} {held} x every gene, {check['candidates']:,} pairs, "
        f"{check['positives']:,} labelled positives): model {cell('model')}; |PCC| {cell('pcc')}; "
        f"target-degree prior {cell('target_degree')}; {verdict}"
    )
