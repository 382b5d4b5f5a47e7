"""Choose the ``lite`` training default on validation folds of mhsc-e and mdc together.

Each candidate is a way of training the same ``lite`` network:

* ``default``: the current default (mixup, input noise, binary cross-entropy);
* ``prior-offset``: the network fits the residual of the target label rate (``--prior-offset``);
* ``tf-contrast``: the within-target contrast added at weight 1 (``--tf-contrast 1``).

Every (data set, protocol, candidate) cell is ``deeptgi-train cv`` with one network per fold
(``--crossfit 1``), so each fold keeps a validation part of its training pairs (15 %, cut by the
fold's protocol), on which the network early-stops. The choice is made on those validation
parts only. The criterion is the pair-specific AUROC (:func:`deeptgi_rt.metrics.pair_specific_auroc`:
target-wise AUROC of the score's logit after removing additive TF and target effects, fitted per
fold), averaged over the four cells {mhsc-e, mdc} x {tf, gene}. Plain target-wise AUROC is not
the criterion because it rewards knowing which TFs have many edges, which no score should be
chosen for. Test-fold figures are printed beside, marked as not used for the choice.

Each cell is saved under ``--work`` as it finishes, so an interrupted run resumes; ``--threads 1``
keeps each job on one core.

Run: python benchmarks/defaults.py --datasets mhsc-e --epochs 300
     python benchmarks/defaults.py --datasets mdc --epochs 100
     python benchmarks/defaults.py --summarize   (reads every saved cell, writes benchmarks/results/defaults.{json,md})
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from deeptgi_rt.metrics import auroc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from accuracy import load  # noqa: E402

CANDIDATES = {"default": {}, "prior-offset": {"prior_offset": True}, "tf-contrast": {"tf_contrast": 1.0}}
PROTOCOLS = ("tf", "gene")
PARTS = ("validation", "test")


def run_cell(dataset, protocol: str, candidate: str, *, epochs: int | None, folds: int, threads: int) -> dict:
    """One cell's per-fold pairs and scores, as ``{f"{part}_{field}_{fold}": array}``."""
    from deeptgi_train.configs import model_config, train_config, with_epochs
    from deeptgi_train.cv import run_cv

    options = CANDIDATES[candidate]
    train = with_epochs(train_config("lite", seed=0, threads=threads), epochs)
    train = replace(train, tf_contrast=options.get("tf_contrast", 0.0))
    result = run_cv(
        dataset,
        model_config("lite"),
        train,
        protocol=protocol,
        folds=folds,
        seed=0,
        crossfit=1,
        prior_offset=options.get("prior_offset", False),
        baselines=(),
    )
    arrays = {}
    for fold in result.folds:
        tfs, targets, labels, scores = fold.validation_pairs
        arrays.update(
            {
                f"validation_tf_{fold.fold}": tfs.astype(str),
                f"validation_target_{fold.fold}": targets.astype(str),
                f"validation_label_{fold.fold}": labels,
                f"validation_score_{fold.fold}": scores,
                f"test_tf_{fold.fold}": fold.test_tfs.astype(str),
                f"test_target_{fold.fold}": fold.test_targets.astype(str),
                f"test_label_{fold.fold}": fold.labels,
                f"test_score_{fold.fold}": fold.scores,
                f"best_epoch_{fold.fold}": np.int64(fold.best_epoch),
            }
        )
    return arrays


def cell_figures(arrays, *, bootstrap: int = 1000) -> dict:
    """AUROC (mean over folds), target-wise and pair-specific AUROC (pooled over folds, a group
    being one target in one fold) of each part of a saved cell."""
    from deeptgi_train.cv import pooled_target_wise

    folds = sorted(int(key.rsplit("_", 1)[1]) for key in arrays if key.startswith("test_label_"))
    out = {"folds": len(folds), "best_epochs": [int(arrays[f"best_epoch_{fold}"]) for fold in folds]}
    if "provenance" in arrays:
        out["provenance"] = str(arrays["provenance"])
    for part in PARTS:
        per_fold = [
            tuple(np.asarray(arrays[f"{part}_{field}_{fold}"]) for field in ("tf", "target", "label", "score"))
            for fold in folds
        ]
        plain = pooled_target_wise(per_fold, bootstrap=bootstrap)
        specific = pooled_target_wise(per_fold, pair_specific=True, bootstrap=bootstrap)
        out[part] = {
            "auroc": float(np.mean([auroc(labels, scores) for _, _, labels, scores in per_fold])),
            "target_wise": [plain.mean, plain.low, plain.high],
            "pair_specific": [specific.mean, specific.low, specific.high],
            "targets": specific.targets,
        }
    return out


def summarize(work: Path, out: Path) -> dict:
    """Figures of every saved cell, the per-candidate means over cells and the choice."""
    cells = {}
    for path in sorted(work.glob("*__*__*.npz")):
        if path.name.endswith(".partial.npz"):
            continue
        dataset, protocol, candidate = path.stem.split("__")
        with np.load(path) as arrays:
            cells[(dataset, protocol, candidate)] = cell_figures(dict(arrays))
    candidates = sorted({key[2] for key in cells}, key=list(CANDIDATES).index)
    settings = sorted({key[:2] for key in cells})
    complete = [c for c in candidates if all((*s, c) in cells for s in settings)]
    means = {
        c: {
            part: {
                metric: float(
                    np.mean(
                        [
                            cells[(*s, c)][part][metric] if metric == "auroc" else cells[(*s, c)][part][metric][0]
                            for s in settings
                        ]
                    )
                )
                for metric in ("auroc", "target_wise", "pair_specific")
            }
            for part in PARTS
        }
        for c in complete
    }
    chosen = max(complete, key=lambda c: means[c]["validation"]["pair_specific"]) if complete else None
    report = {
        "criterion": "mean over (data set, protocol) cells of validation pair-specific AUROC",
        "settings": [list(s) for s in settings],
        "chosen": chosen,
        "means": means,
        "cells": [{"dataset": d, "protocol": p, "candidate": c, **figures} for (d, p, c), figures in cells.items()],
    }
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    out.with_suffix(".md").write_text(markdown(report) + "\n")
    return report


def markdown(report: dict) -> str:
    """The report as tables: per cell, then the means over cells and the choice."""

    def interval(values):
        return f"{values[0]:.3f} [{values[1]:.3f}, {values[2]:.3f}]"

    sources = list(dict.fromkeys(cell["provenance"] for cell in report["cells"] if "provenance" in cell))
    lines = [
        "| data set | protocol | candidate | folds | val AUROC | val target-wise | **val pair-specific** (targets) "
        "| test AUROC | test target-wise | test pair-specific | best epochs |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in report["cells"]:
        v, t = cell["validation"], cell["test"]
        mark = "†" * (sources.index(cell["provenance"]) + 1) if "provenance" in cell else ""
        lines.append(
            f"| {cell['dataset']} | {cell['protocol']} | {cell['candidate']}{mark} | {cell['folds']} "
            f"| {v['auroc']:.3f} "
            f"| {interval(v['target_wise'])} | **{interval(v['pair_specific'])}** ({v['targets']}) | {t['auroc']:.3f} "
            f"| {interval(t['target_wise'])} | {interval(t['pair_specific'])} | {cell['best_epochs']} |"
        )
    for i, source in enumerate(sources):
        named = ", ".join(
            f"{c['dataset']} {c['protocol']} {c['candidate']}" for c in report["cells"] if c.get("provenance") == source
        )
        lines += ["", f"{'†' * (i + 1)} {named}: from {source}."]
    lines += [
        "",
        "Means over the cells "
        + ", ".join("/".join(s) for s in report["settings"])
        + " (test columns are not used for the choice):",
        "",
        "| candidate | val AUROC | val target-wise | **val pair-specific** "
        "| test AUROC | test target-wise | test pair-specific |",
        "|---|---|---|---|---|---|---|",
    ]
    for candidate, m in report["means"].items():
        v, t = m["validation"], m["test"]
        lines.append(
            f"| {candidate} | {v['auroc']:.3f} | {v['target_wise']:.3f} | **{v['pair_specific']:.3f}** "
            f"| {t['auroc']:.3f} | {t['target_wise']:.3f} | {t['pair_specific']:.3f} |"
        )
    lines += ["", f"Chosen ({report['criterion']}): **{report['chosen']}**"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["mhsc-e", "mdc"])
    parser.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=PROTOCOLS)
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    parser.add_argument("--epochs", type=int, help="cap on epochs (the lite preset's 300 if not given)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / ".defaults-work")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "defaults")
    parser.add_argument("--summarize", action="store_true", help="only summarize the saved cells")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if not args.summarize:
        for name in args.datasets:
            dataset = load(name, 0)
            for protocol in args.protocols:
                for candidate in args.candidates:
                    path = args.work / f"{name}__{protocol}__{candidate}.npz"
                    if path.exists():
                        continue
                    started = time.perf_counter()
                    arrays = run_cell(
                        dataset, protocol, candidate, epochs=args.epochs, folds=args.folds, threads=args.threads
                    )
                    partial = path.with_suffix(".partial.npz")
                    np.savez(partial, **arrays)
                    partial.replace(path)
                    print(f"{name} {protocol} {candidate}: {time.perf_counter() - started:.0f} s", flush=True)
    print(markdown(summarize(args.work, args.out)))


if __name__ == "__main__":
    main()
