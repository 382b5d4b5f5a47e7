"""Write a shipped model's card from its metadata and its cross-validation reports.

    python tools/make_card.py deeptgi_rt/models/mhsc-e-lite.onnx --title "..." --provenance "..." \
        --cv random=cv/mhsc-e-random/metrics.json --cv tf=cv/mhsc-e-tf/metrics.json > deeptgi_rt/models/mhsc-e-lite.md

The "Model" table is derived from the ONNX metadata by :func:`model_facts`; the test suite
derives it again and checks that every card still matches its model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CV_METRICS = (
    ("auroc", "AUROC"),
    ("aupr", "AUPR"),
    ("acc", "ACC"),
    ("f1", "F1"),
    ("recall", "recall"),
    ("precision", "precision"),
    ("auprc_ratio", "AUPRC ratio"),
    ("epr", "EPR"),
)


# The cross-validation settings a card names.
CARD_SETTINGS = ("folds", "config", "epochs", "seed", "negatives", "source", "crossfit")


def _card_settings(settings: dict) -> dict:
    return {key: settings[key] for key in sorted(settings) if key in CARD_SETTINGS}


def model_facts(path: str | Path) -> dict[str, str]:
    """The card's "Model" table rows (label -> text), from the model file and its metadata."""
    import deeptgi_rt

    path = Path(path)
    meta = deeptgi_rt.load_model(path, device="cpu").metadata
    training = meta.training
    if "teacher" in training:
        return student_facts(path, meta)
    validation = training.get("validation_metrics", {})
    modalities = ", ".join(f"{name} ({prep})" for name, prep in zip(meta.modalities, meta.preprocessing))
    crossfit = training.get("crossfit")
    if crossfit:
        # A cross-fitted ensemble validates on out-of-fold scores of every pair, not a held-out split.
        validation_split = (
            f"out-of-fold scores of all {training.get('n_validation')} pairs "
            f"({crossfit} cross-fitted members, {training.get('protocol')} protocol)"
        )
        best_epoch = f"{training.get('best_epoch')} (median of members: {training.get('member_epochs')})"
    else:
        validation_split = f"{training.get('n_validation')} pairs, {training.get('protocol')} protocol"
        best_epoch = str(training.get("best_epoch"))
    facts = {
        "file": path.name,
        "size": f"{path.stat().st_size / 1e6:.2f} MB",
        "config": str(meta.config.get("name")),
        "feature genes": str(len(meta.feature_genes)),
        "modalities (preprocessing)": modalities,
        "TFs": str(len(meta.tfs)),
        "training pairs": f"{training.get('n_pairs')} ({training.get('n_positive')} positive)",
        "validation split": validation_split,
        "threshold (Youden, on validation)": f"{meta.threshold:.4f}",
        "validation AUROC": f"{validation.get('auroc', float('nan')):.4f}",
        "validation AUPR": f"{validation.get('aupr', float('nan')):.4f}",
        "best epoch": best_epoch,
        **calibration_facts(meta),
    }
    check = training.get("genome_wide")
    if check:
        facts["genome-wide check (held-out TFs x every gene)"] = genome_check_fact(check)
    if meta.target_prior is not None:
        facts["target prior (added at scoring)"] = target_prior_fact(meta.target_prior)
    return facts


def student_facts(path: Path, meta) -> dict[str, str]:
    """The "Model" rows of a distilled student (``deeptgi-train distill``): its teacher, how well
    it agrees with it, and the threshold semantics it carries over."""
    training = meta.training
    teacher, distill = training["teacher"], training["distillation"]
    agreement = distill["agreement"]

    def figures(part: dict) -> str:
        return (
            f"Spearman {part['spearman']:.4f} (within TF {part.get('spearman_within_tf', float('nan')):.4f}), "
            f"logit RMSE {part['rmse_logit']:.3f}, calls at the threshold agree on {part['call_agreement']:.1%}"
        )

    facts = {
        "file": path.name,
        "size": f"{path.stat().st_size / 1e6:.2f} MB",
        "config": f"{meta.config.get('name')} student" + (" (bilinear head)" if meta.head else ""),
        "feature genes": str(len(meta.feature_genes)),
        "modalities (preprocessing)": ", ".join(
            f"{name} ({prep})" for name, prep in zip(meta.modalities, meta.preprocessing)
        ),
        "TFs": str(len(meta.tfs)),
        "teacher": f"{teacher['file']} ({teacher['members']} x {teacher['config']}, sha256 {teacher['sha256'][:16]}…)",
        "distilled on": f"{distill['pairs']:,} teacher-scored pairs ({distill['tfs']} TFs and "
        f"{distill['pseudo_tfs']} pseudo-TFs x {distill['genes']} genes), {distill['loss']}",
        f"agreement, {len(distill['validation_tfs'])} held-out TFs ({agreement['validation_pairs']:,} pairs)": figures(
            agreement["validation"]
        ),
        f"agreement, all {agreement['pairs']:,} pairs of its TFs": figures(agreement["all"]),
        "threshold (carried over from the teacher)": f"{meta.threshold:.4f}",
        **calibration_facts(meta),
    }
    if teacher.get("genome_wide"):
        facts["teacher's genome-wide check (held-out TFs x every gene)"] = genome_check_fact(teacher["genome_wide"])
    return facts


def genome_check_fact(check: dict) -> str:
    """The card's line on a model's genome-wide check (metadata ``training.genome_wide``)."""

    def cell(name: str) -> str:
        return f"AUROC {check[name]['auroc']:.3f}, EPR {check[name]['epr']:.2f}"

    return (
        f"model {cell('model')}; \\|PCC\\| {cell('pcc')}; target-degree prior {cell('target_degree')} "
        f"({check['tfs']} TFs, {check['candidates']:,} pairs, {check['positives']} positives)"
    )


def calibration_facts(meta) -> dict[str, str]:
    """The card rows of a model's Platt calibration and the genome-wide cut it gives (none for
    models written before ``calibration``)."""
    from deeptgi_rt.thresholds import model_threshold

    calibration = meta.calibration
    if not calibration:
        return {}
    genome_wide = model_threshold(meta, "youden")
    return {
        "calibration (Platt, held-out scores)": f"slope {calibration['slope']:.3f}, intercept "
        f"{calibration['intercept']:.3f} ({calibration['pairs']} "
        f"{calibration['source']} pairs)",
        "genome-wide threshold (`--threshold youden`)": f"{genome_wide.value:.4f}",
    }


def target_prior_fact(table: dict) -> str:
    """The card's line on a model's ``target_prior`` table: what it holds and what scoring does with it."""
    return (
        f"logit of the target label rate for {len(table['genes'])} targets of the fitted pairs, added to the "
        f"network's logit; other targets {table['default_logit']:g} (the network alone); "
        "`--no-target-prior` scores the network alone"
    )


def cv_rows(report: dict) -> list[str]:
    """mean ± sd of each metric of one ``deeptgi-train cv`` metrics.json ("—" where absent)."""
    summary = report["summary"]
    return [
        f"{summary[key]['mean']:.3f} ± {summary[key]['sd']:.3f}" if key in summary else "—" for key, _ in CV_METRICS
    ]


# The label-only reference rules of a cv report, and the benchmark methods that compute the same.
LABEL_ONLY = (("target_label_rate", "prior"), ("unseen_target_as_interaction", "novelty"))


def label_only_cell(report: dict) -> str:
    """Mean label-only reference AUROCs of a report as "rate / unseen = 1" ("—" if it has none)."""
    figures = report.get("label_only_auroc")
    if not figures or any(rule not in figures for rule, _ in LABEL_ONLY):
        return "—"
    return " / ".join(f"{figures[rule]['mean']:.3f}" for rule, _ in LABEL_ONLY)


def target_wise_cell(report: dict) -> str:
    """The model's target-wise AUROC of a cv report as "mean [low, high]" ("—" if absent)."""
    value = report.get("target_wise_auroc", {}).get("model")
    if not value or value.get("mean") is None:
        return "—"
    return f"{value['mean']:.3f} [{value['low']:.3f}, {value['high']:.3f}]"


def benchmark_report(path: str | Path, dataset: str, protocol: str, crossfit: int = 1) -> dict:
    """DeepTGI lite's row of ``benchmarks/accuracy.py``'s JSON, shaped like a cv metrics.json
    (AUROC and AUPR, and the label-only rules where the file has their rows; ``settings`` says
    where it came from). ``crossfit`` picks the row of that many cross-fitted members (1: the
    single network), so a card quotes the figures of the kind of model it describes."""
    results = json.loads(Path(path).read_text())
    here = [r for r in results["results"] if r["dataset"] == dataset and r["protocol"] == protocol]
    rows = {r["method"]: r for r in here if r.get("crossfit", 1) == 1}
    matches = [r for r in here if r["method"] == "lite" and r.get("crossfit", 1) == crossfit]
    if not matches:
        raise SystemExit(f"{path}: no DeepTGI lite row with crossfit {crossfit} for {dataset} {protocol}")
    row = matches[0]
    settings = {
        "folds": results["folds"],
        "config": "lite",
        "epochs": row.get("epochs_cap"),
        "seed": results["seed"],
        "source": "benchmarks/accuracy.py",
    }
    if crossfit > 1:
        settings["crossfit"] = crossfit
    report = {
        "settings": settings,
        "summary": {key: {"mean": row[f"{key}_mean"], "sd": row[f"{key}_sd"]} for key in ("auroc", "aupr")},
    }
    if all(method in rows for _, method in LABEL_ONLY):
        report["label_only_auroc"] = {
            rule: {"mean": rows[method]["auroc_mean"], "sd": rows[method]["auroc_sd"]} for rule, method in LABEL_ONLY
        }
    return report


def render(path: Path, title: str, provenance: str, cv: dict[str, dict]) -> str:
    """The card as Markdown."""
    import deeptgi_rt

    meta = deeptgi_rt.load_model(path, device="cpu").metadata
    facts = model_facts(path)
    lines = [f"# {title}", "", provenance, "", "## Model", "", "| | |", "|---|---|"]
    lines += [f"| {label} | {value} |" for label, value in facts.items()]
    if cv:
        lines += ["", "## Cross-validation", ""]
        settings = next(iter(cv.values())).get("settings", {})
        lines += [
            f"5-fold unless stated; each fold's threshold comes from validation data of its training "
            f"part (never the test fold). Settings: `{json.dumps(_card_settings(settings))}`.",
            "",
            "| protocol | " + " | ".join(label for _, label in CV_METRICS) + " | label-only AUROC ¹ |",
            "|---|" + "---|" * (len(CV_METRICS) + 1),
        ]
        target_wise = all("target_wise_auroc" in report for report in cv.values())
        if target_wise:
            lines[-2] += " target-wise AUROC ² |"
            lines[-1] += "---|"
        lines += [
            f"| {protocol} | "
            + " | ".join(cv_rows(report))
            + f" | {label_only_cell(report)} |"
            + (f" {target_wise_cell(report)} |" if target_wise else "")
            for protocol, report in cv.items()
        ]
        lines += [
            "",
            "¹ the same folds scored without any expression, from the training labels alone: "
            "target label rate / the same with targets that have no training pair called interactions "
            '(`docs/training.md`, "Label-only references"). The model is worth what it adds over these.',
        ]
        if target_wise:
            lines += [
                "",
                "² the mean over targets (within each test fold) of the AUROC over each target's TFs, "
                "95 % bootstrap over targets: how well the model ranks one target's TFs, which no rule "
                "scoring by target alone (and no target prior) can do; label-only rules get 0.5.",
            ]
    lines += ["", "## Rebuild", "", "```", meta.training.get("command", "(not recorded)"), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--title", required=True)
    parser.add_argument("--provenance", required=True, help="Markdown paragraph: data, source, labels")
    parser.add_argument(
        "--cv", action="append", default=[], metavar="PROTOCOL=METRICS.json", help="a `deeptgi-train cv` report"
    )
    parser.add_argument(
        "--cv-benchmark",
        action="append",
        default=[],
        metavar="PROTOCOL=ACCURACY.json:DATASET",
        help="DeepTGI lite's figures from benchmarks/accuracy.py instead",
    )
    parser.add_argument(
        "--benchmark-crossfit",
        type=int,
        default=1,
        metavar="K",
        help="with --cv-benchmark: the rows of K cross-fitted members (default 1: one network)",
    )
    args = parser.parse_args(argv)
    cv = {}
    for item in args.cv:
        protocol, _, report = item.partition("=")
        cv[protocol] = json.loads(Path(report).read_text())
    for item in args.cv_benchmark:
        protocol, _, source = item.partition("=")
        path, _, dataset = source.rpartition(":")
        cv[protocol] = benchmark_report(path, dataset, protocol, args.benchmark_crossfit)
    sys.stdout.write(render(Path(args.model), args.title, args.provenance, cv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
