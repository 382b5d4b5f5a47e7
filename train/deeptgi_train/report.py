"""Cross-validation reports: a terminal table, metrics.json, metrics.csv, predictions.csv, roc.png and pr.png."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from deeptgi_rt.atomic import atomic_output
from deeptgi_rt.errors import InputError

from .baselines import BASELINE_TITLES, LABEL_ONLY_RULES, LABEL_ONLY_TITLES
from .cv import SUMMARY_METRICS, CVResult
from .metrics import pr_curve, roc_curve

_SHORT = {
    "auroc": "AUROC",
    "aupr": "AUPR",
    "auprc_ratio": "AUPRr",
    "epr": "EPR",
    "acc": "ACC",
    "f1": "F1",
    "recall": "Rec",
    "precision": "Prec",
}
_HEADERS = {
    "auroc": "AUROC",
    "aupr": "AUPR",
    "auprc_ratio": "AUPRC ratio",
    "epr": "EPR",
    "acc": "ACC",
    "f1": "F1",
    "recall": "Recall",
    "precision": "Precision",
}


def prepare_report_dir(path: str | Path) -> Path:
    """Create the report directory (its parent must exist); fail before any training if impossible."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise InputError(f"{target}: report path exists and is not a directory")
    if not target.parent.is_dir():
        raise InputError(f"{target}: parent directory {target.parent} does not exist")
    target.mkdir(exist_ok=True)
    return target


def print_table(result: CVResult, console=None) -> None:
    """Per-fold test metrics and mean ± sd as a rich table (threshold metrics at the validation threshold),
    followed by the optimistic test-fold-threshold figures and the label-only reference AUROCs."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    crossfit = result.settings.get("crossfit", 1)
    side_by_side = result.settings.get("model_config", {}).get("members", 1)
    model = (
        f"{crossfit} cross-fitted networks per fold"
        if crossfit > 1
        else f"{side_by_side} side-by-side networks per fold"
        if side_by_side > 1
        else "one network per fold"
    )
    table = Table(
        title=f"DeepTGI {len(result.folds)}-fold cross-validation, {result.protocol} split, {model} "
        "(ACC/F1/recall/precision at the validation threshold)",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("fold", justify="right", no_wrap=True, min_width=4)
    table.add_column("test", justify="right", no_wrap=True)
    table.add_column("epoch", justify="right", min_width=3)
    for name in SUMMARY_METRICS:
        table.add_column(_SHORT[name], justify="right", min_width=5, no_wrap=True)
        if name == "auroc":
            table.add_column("twAUC", justify="right", min_width=5, no_wrap=True)
    fold_target_wise = np.array([fold.target_wise()["model"] for fold in result.folds], dtype=np.float64)
    for fold, target_wise in zip(result.folds, fold_target_wise):
        table.add_row(
            str(fold.fold),
            str(fold.n_test),
            str(fold.best_epoch),
            *_with_target_wise([f"{fold.test[name]:.3f}" for name in SUMMARY_METRICS], f"{target_wise:.3f}"),
        )
    summary = result.summary()
    table.add_row(
        "mean",
        "",
        "",
        *_with_target_wise(
            [f"{summary[name]['mean']:.3f}" for name in SUMMARY_METRICS], f"{np.nanmean(fold_target_wise):.3f}"
        ),
        style="bold",
    )
    table.add_row(
        "± sd",
        "",
        "",
        *_with_target_wise(
            [f"{summary[name]['sd']:.3f}" for name in SUMMARY_METRICS],
            f"{np.nanstd(fold_target_wise, ddof=1):.3f}" if len(fold_target_wise) > 1 else "0.000",
        ),
    )
    console.print(table)
    optimistic = {
        name: np.mean([fold.test_fold_threshold[name] for fold in result.folds])
        for name in ("acc", "f1", "recall", "precision")
    }
    console.print(
        "test-fold threshold (optimistic, as in the paper): "
        + ", ".join(f"{_HEADERS[name]} {value:.3f}" for name, value in optimistic.items())
    )
    # Printed with every run because a label file's own sampling can make this high: the
    # model's AUROC is worth what it adds over it.
    label_only = result.label_only_summary()
    console.print(
        "label-only references, no expression (AUROC): "
        + ", ".join(
            f"{LABEL_ONLY_TITLES[rule]} {label_only[rule]['mean']:.3f} ± {label_only[rule]['sd']:.3f}"
            for rule in LABEL_ONLY_RULES
        )
    )
    baselines = result.baseline_summary()
    if baselines:
        console.print(
            "expression baselines on the same folds and inputs (AUROC): "
            + ", ".join(
                f"{BASELINE_TITLES[name]} {value['mean']:.3f} ± {value['sd']:.3f}" for name, value in baselines.items()
            )
        )
    console.print(target_wise_line(result.target_wise_summary()))
    console.print(pair_specific_line(result.pair_specific_summary()))
    line = genome_line(result)
    if line:
        console.print(line)
    for sentence in result.shortfalls():
        console.print(f"note: {sentence}.")


def genome_line(result: CVResult) -> str | None:
    """One line: the test TFs ranked against every gene (genome negatives, ``--split tf``) by the
    model, |PCC| and the target-degree prior, mean ± sd over folds; or why there is none."""
    genome = result.genome_summary()
    if genome is None:
        if result.settings.get("genome_negatives") and result.protocol != "tf":
            return "genome-wide test: run --split tf to rank held-out TFs against every gene"
        return None
    titles = {"model": "DeepTGI", "pcc": "|PCC|", "target_degree": "target-degree prior"}

    def cell(values: dict) -> str:
        return "AUROC {:.3f} ± {:.3f}, EPR {:.2f} ± {:.2f}".format(
            values["auroc"]["mean"], values["auroc"]["sd"], values["epr"]["mean"], values["epr"]["sd"]
        )

    return "genome-wide test (each fold's test TFs x every gene, unlabelled pairs as non-edges): " + "; ".join(
        f"{titles[name]} {cell(values)}" for name, values in genome.items()
    )


def _with_target_wise(cells: list[str], target_wise: str) -> list[str]:
    """``cells`` (one per :data:`SUMMARY_METRICS`) with the target-wise AUROC cell after AUROC's."""
    at = SUMMARY_METRICS.index("auroc") + 1
    return [*cells[:at], target_wise, *cells[at:]]


def target_wise_line(target_wise: dict) -> str:
    """One line: the target-wise AUROC of the model and each reference with its bootstrap interval."""
    model = target_wise.get("model")
    count = f"{model.targets} targets x test folds" if model is not None else "no targets"
    return (
        f"target-wise AUROC (each target's TFs ranked apart from other targets, {count}, 95 % bootstrap over "
        "them; 0.5 for any rule scoring by target alone): " + _interval_list(target_wise)
    )


def pair_specific_line(pair_specific: dict) -> str:
    """One line: the pair-specific AUROC of the model and each reference with its bootstrap interval."""
    return (
        "pair-specific AUROC (the same, after removing each TF's and each target's own effect; 0.5 for any "
        "rule of the TF alone, the target alone or their sum): " + _interval_list(pair_specific)
    )


def _interval_list(values: dict) -> str:
    titles = {"model": "DeepTGI", **BASELINE_TITLES, **LABEL_ONLY_TITLES}
    return ", ".join(
        f"{titles[name]} {value.mean:.3f} [{value.low:.3f}, {value.high:.3f}]" for name, value in values.items()
    )


def result_json(result: CVResult) -> dict:
    """JSON-ready summary: settings, per-fold metrics and mean ± sd."""
    return {
        "settings": result.settings,
        "summary": result.summary(),
        "label_only_auroc": result.label_only_summary(),
        "baseline_auroc": result.baseline_summary(),
        "shortfalls": result.shortfalls(),
        "target_wise_auroc": _intervals_json(result.target_wise_summary()),
        "pair_specific_auroc": _intervals_json(result.pair_specific_summary()),
        "genome_wide_test": result.genome_summary(),
        "folds": [
            {
                "fold": fold.fold,
                "n_fit": fold.n_fit,
                "n_validation": fold.n_validation,
                "n_test": fold.n_test,
                "best_epoch": fold.best_epoch,
                "seconds": round(fold.seconds, 3),
                "test": fold.test,
                "test_fold_threshold_optimistic": fold.test_fold_threshold,
                "validation": fold.validation,
                "label_only_auroc": fold.label_only,
                "baseline_auroc": fold.baselines,
                "target_wise_auroc": {name: _finite(value) for name, value in fold.target_wise().items()},
                "genome_wide_test": fold.genome_test,
            }
            for fold in result.folds
        ],
    }


def _intervals_json(values: dict) -> dict:
    return {
        name: {
            "mean": _finite(value.mean),
            "targets": value.targets,
            "low": _finite(value.low),
            "high": _finite(value.high),
        }
        for name, value in values.items()
    }


def _finite(value: float) -> float | None:
    """``value``, or ``None`` (JSON null) where it is NaN."""
    return float(value) if np.isfinite(value) else None


def write_predictions(result: CVResult, target: Path) -> Path:
    """Every fold's test and validation pairs with label and scores, as CSV at ``target``.

    Columns ``fold, part, tf, target, label, score`` and one ``score_<baseline>`` per expression
    baseline (test rows only; baselines have no validation part): enough to recompute any metric
    (e.g. target-wise AUROC) on test folds, or to choose settings on validation ones, without
    training again. ``part`` is ``test`` or ``validation``. Scores are written with 9 significant
    digits, which round-trip float32 exactly: with 6, the near-equal scores of a barely trained
    network tied and moved a fold's recomputed AUROC by 2e-4.
    """
    names = list(result.folds[0].baseline_scores) if result.folds else []
    with atomic_output(target) as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["fold", "part", "tf", "target", "label", "score", *(f"score_{name}" for name in names)])
            for fold in result.folds:
                for i in range(fold.n_test):
                    writer.writerow(
                        [
                            fold.fold,
                            "test",
                            fold.test_tfs[i],
                            fold.test_targets[i],
                            int(fold.labels[i]),
                            f"{fold.scores[i]:.9g}",
                            *(f"{fold.baseline_scores[name][i]:.9g}" for name in names),
                        ]
                    )
                for tf, gene, label, score in zip(*fold.validation_pairs):
                    writer.writerow(
                        [fold.fold, "validation", tf, gene, int(label), f"{score:.9g}", *([""] * len(names))]
                    )
    return target


def write_report(result: CVResult, directory: str | Path) -> list[Path]:
    """Write metrics.json, metrics.csv, predictions.csv, roc.png and pr.png into ``directory``; return the paths."""
    directory = prepare_report_dir(directory)
    paths = []
    target = directory / "metrics.json"
    with atomic_output(target) as tmp:
        tmp.write_text(json.dumps(result_json(result), indent=2) + "\n")
    paths.append(target)

    target = directory / "metrics.csv"
    baselines = result.baseline_summary()
    target_wise_names = list(result.folds[0].ranked_test_scores()) if result.folds else []
    with atomic_output(target) as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                [
                    "fold",
                    "n_test",
                    "best_epoch",
                    *SUMMARY_METRICS,
                    "threshold",
                    *(f"{name}_test_fold_threshold" for name in ("acc", "f1", "recall", "precision")),
                    *(f"auroc_{rule}" for rule in LABEL_ONLY_RULES),
                    *(f"auroc_{name}" for name in baselines),
                    *(f"target_wise_auroc_{name}" for name in target_wise_names),
                ]
            )
            for fold in result.folds:
                writer.writerow(
                    [
                        fold.fold,
                        fold.n_test,
                        fold.best_epoch,
                        *(f"{fold.test[name]:.6f}" for name in SUMMARY_METRICS),
                        f"{fold.test['threshold']:.6f}",
                        *(f"{fold.test_fold_threshold[name]:.6f}" for name in ("acc", "f1", "recall", "precision")),
                        *(f"{fold.label_only[rule]:.6f}" for rule in LABEL_ONLY_RULES),
                        *(f"{fold.baselines[name]:.6f}" for name in baselines),
                        *(f"{value:.6f}" for value in fold.target_wise().values()),
                    ]
                )
            summary, label_only = result.summary(), result.label_only_summary()
            per_fold = np.array([list(fold.target_wise().values()) for fold in result.folds], dtype=np.float64)
            fold_target_wise = {
                "mean": np.nanmean(per_fold, axis=0),
                "sd": np.nanstd(per_fold, axis=0, ddof=1) if len(per_fold) > 1 else np.zeros(per_fold.shape[1]),
            }
            for stat in ("mean", "sd"):
                writer.writerow(
                    [
                        stat,
                        "",
                        "",
                        *(f"{summary[name][stat]:.6f}" for name in SUMMARY_METRICS),
                        "",
                        "",
                        "",
                        "",
                        "",
                        *(f"{label_only[rule][stat]:.6f}" for rule in LABEL_ONLY_RULES),
                        *(f"{baselines[name][stat]:.6f}" for name in baselines),
                        *(f"{value:.6f}" for value in fold_target_wise[stat]),
                    ]
                )
    paths.append(target)
    paths.append(write_predictions(result, directory / "predictions.csv"))
    paths.extend(plot_curves(result, directory))
    return paths


def plot_curves(result: CVResult, directory: Path) -> list[Path]:
    """ROC and PR curves of every test fold: roc.png and pr.png in ``directory`` (drawn like
    ``deeptgi-rt eval``'s, by :func:`deeptgi_rt.evaluation_report.curve_figure`)."""
    from deeptgi_rt.evaluation_report import curve_figure

    roc = [
        (*roc_curve(fold.labels, fold.scores)[:2], f"fold {fold.fold} (AUROC {fold.test['auroc']:.3f})")
        for fold in result.folds
    ]
    pr = [
        (*pr_curve(fold.labels, fold.scores)[:2], f"fold {fold.fold} (AUPR {fold.test['aupr']:.3f})")
        for fold in result.folds
    ]
    return [
        curve_figure(kind, curves, f"{kind.upper()} curves, {result.protocol} split", directory / f"{kind}.png")
        for kind, curves in (("roc", roc), ("pr", pr))
    ]
