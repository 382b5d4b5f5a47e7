"""Choose how ``deeptgi-train fit`` trains for genome-wide ranking, on validation TFs of mhsc-e and mdc.

Every candidate is a way of training the same cross-fitted ``lite`` model on a labelled pair list
(``deeptgi_train.fit.fit_model`` with genome negatives, :mod:`deeptgi_train.genome`):

* how negatives are drawn from the unlabelled TF x gene candidates each epoch (``uniform`` over all
  of them, or ``per-tf``: each TF in proportion to its positives), and how many per positive;
* whether the file's own negatives are pooled with the unlabelled candidates or kept every epoch;
* whether the head reads the pair's own PCC (``pcc``) and its CLR-like context form.

Data: the *training* half of the TFs of ``benchmarks/grn.py``'s split for each split seed (the
test half is never read here; ``grn.py`` evaluates on it). Each cell cross-fits 5 members by TF
on the training TFs' labels, so every training TF is held out by one member, and the figures are
the fit's own genome-wide check: the out-of-fold scores of every training TF against every gene
of the data, positives = its labelled positives (mhsc-e) or its edges in the network
(mdc, non-specific ChIP), beside |PCC| and the target-degree prior on the same candidates.

The criterion: mean over the data sets of the mean over split seeds of the out-of-fold AUROC and of
log2 EPR (EPR is a ratio; its log keeps one data set's large values from deciding alone).

Each cell is saved under ``--work`` as it finishes, so an interrupted run resumes.

Run: python benchmarks/genome_defaults.py --datasets mhsc-e --seeds 0 1 2 --threads 1
     python benchmarks/genome_defaults.py --datasets mdc --seeds 0 1 2 --epochs 100 --threads 1
     python benchmarks/genome_defaults.py --summarize
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import grn  # noqa: E402

WORK = REPO / "benchmarks" / ".genome-defaults-work"
RESULTS = REPO / "benchmarks" / "results" / "genome-defaults"

# name -> (GenomeOptions fields, model_config overrides)
CANDIDATES = {
    "pu": ({"ratio": 3.0, "scheme": "uniform", "file_negatives": "pool"}, {}),
    "pu+pcc": (
        {"ratio": 3.0, "scheme": "uniform", "file_negatives": "pool"},
        {"pair_features": ("pcc",), "pair_context": False},
    ),
    "pu+pcc+context": ({"ratio": 3.0, "scheme": "uniform", "file_negatives": "pool"}, {"pair_features": ("pcc",)}),
    "pu-per-tf+pcc+context": (
        {"ratio": 3.0, "scheme": "per-tf", "file_negatives": "pool"},
        {"pair_features": ("pcc",)},
    ),
    "pu-keep+pcc+context": ({"ratio": 3.0, "scheme": "uniform", "file_negatives": "keep"}, {"pair_features": ("pcc",)}),
    "pu10+pcc+context": ({"ratio": 10.0, "scheme": "uniform", "file_negatives": "pool"}, {"pair_features": ("pcc",)}),
}


def cell_path(work: Path, dataset: str, seed: int, candidate: str, crossfit: int) -> Path:
    return work / dataset / f"seed{seed}" / f"{candidate}-cf{crossfit}.json"


def run_cell(
    dataset: str, seed: int, candidate: str, *, epochs: int | None, threads: int, crossfit: int, work: Path
) -> dict:
    """Train one candidate on one split's training TFs; its genome-wide check and costs."""
    from deeptgi_rt.progress import Reporter
    from deeptgi_train.configs import model_config, train_config, with_epochs
    from deeptgi_train.data import load_training_set
    from deeptgi_train.fit import fit_model
    from deeptgi_train.genome import GenomeOptions

    folder = grn.prepare_split(dataset, seed, work / "splits")
    spec = grn.DATASETS[dataset]
    options, overrides = CANDIDATES[candidate]
    reporter = Reporter()
    training = load_training_set(
        spec["expr"],
        folder / "train_labels.csv",
        layout="genes-by-cells" if spec["genes_by_cells"] else "cells-by-genes",
        negatives="genome",
        reporter=reporter,
    )
    train = with_epochs(train_config("lite", seed=0, threads=threads), epochs)
    started, cpu = time.perf_counter(), time.process_time()
    result = fit_model(
        training,
        model_config("lite", **overrides),
        train,
        protocol="tf",
        crossfit=crossfit,
        reporter=reporter,
        genome=GenomeOptions(**options),
    )
    check = dict(result.genome_check)
    scores = result.trained.validation_scores
    check.update(
        dataset=dataset,
        seed=seed,
        candidate=candidate,
        crossfit=crossfit,
        options=options,
        overrides={k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items()},
        epochs=epochs,
        member_epochs=list(getattr(result.trained, "member_epochs", [result.trained.best_epoch])),
        wall_s=round(time.perf_counter() - started, 1),
        cpu_s=round(time.process_time() - cpu, 1),
        median_score=float(np.median(scores)),
        threshold=float(result.threshold),
        called_share=float(np.mean(scores >= result.threshold)),
    )
    return check


def summarize(work: Path) -> None:
    cells = [json.loads(path.read_text()) for path in sorted(work.glob("*/seed*/*.json"))]
    by = {}
    for cell in cells:
        by.setdefault((cell["candidate"], cell["crossfit"]), {}).setdefault(cell["dataset"], []).append(cell)
    lines = [
        "Command: `python benchmarks/genome_defaults.py ...` (see the script's docstring). Validation only: "
        "out-of-fold genome-wide check over the TRAINING TFs of grn.py's splits (the test TFs are never read). "
        "Each cell: AUROC / EPR, mean over split seeds; |PCC| and the target-degree prior on the same candidates.",
        "",
        "| candidate | members | data set | seeds | model AUROC | model EPR | AUPRC ratio "
        "| \\|PCC\\| AUROC | \\|PCC\\| EPR | degree prior AUROC | degree EPR | median score "
        "| share >= threshold | CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ranking = []
    for (candidate, crossfit), datasets in sorted(by.items()):
        criterion = []
        for dataset, group in sorted(datasets.items()):

            def mean(path, group=group):
                values = [cell for cell in group]
                for key in path:
                    values = [value[key] for value in values]
                return float(np.mean(values))

            lines.append(
                f"| {candidate} | {crossfit} | {dataset} | {len(group)} | {mean(('model', 'auroc')):.3f} "
                f"| {mean(('model', 'epr')):.2f} | {mean(('model', 'auprc_ratio')):.2f} | {mean(('pcc', 'auroc')):.3f} "
                f"| {mean(('pcc', 'epr')):.2f} | {mean(('target_degree', 'auroc')):.3f} "
                f"| {mean(('target_degree', 'epr')):.2f} | {mean(('median_score',)):.3f} "
                f"| {mean(('called_share',)):.3f} | {mean(('cpu_s',)):.0f} |"
            )
            auroc = mean(("model", "auroc"))
            log_epr = float(np.mean([np.log2(max(cell["model"]["epr"], 1e-3)) for cell in group]))
            criterion.append((auroc, log_epr, len(group)))
        if len(criterion) == 2:
            ranking.append(
                (candidate, crossfit, np.mean([c[0] for c in criterion]), np.mean([c[1] for c in criterion]))
            )
    lines += ["", "Criterion (both data sets present): mean AUROC and mean log2 EPR over data sets.", ""]
    lines += ["| candidate | members | mean AUROC | mean log2 EPR |", "|---|---|---|---|"]
    for candidate, crossfit, auroc, log_epr in sorted(ranking, key=lambda r: -(r[2] + r[3] / 10)):
        lines.append(f"| {candidate} | {crossfit} | {auroc:.3f} | {log_epr:.2f} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.with_suffix(".md").write_text("\n".join(lines) + "\n")
    RESULTS.with_suffix(".json").write_text(json.dumps(cells, indent=1) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["mhsc-e", "mdc"], choices=sorted(grn.DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    parser.add_argument("--crossfit", type=int, default=5)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--summarize", action="store_true")
    args = parser.parse_args()
    if args.summarize:
        summarize(args.work)
        return
    from deeptgi_rt.threads import limit_threads

    limit_threads(args.threads)
    for dataset in args.datasets:
        for seed in args.seeds:
            for candidate in args.candidates:
                path = cell_path(args.work, dataset, seed, candidate, args.crossfit)
                if path.exists():
                    continue
                cell = run_cell(
                    dataset,
                    seed,
                    candidate,
                    epochs=args.epochs,
                    threads=args.threads,
                    crossfit=args.crossfit,
                    work=args.work,
                )
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(cell, indent=1) + "\n")
                model, pcc, degree = cell["model"], cell["pcc"], cell["target_degree"]
                print(
                    f"{dataset} seed {seed} {candidate}: AUROC {model['auroc']:.3f} EPR {model['epr']:.2f} "
                    f"(|PCC| {pcc['auroc']:.3f} / {pcc['epr']:.2f}, degree {degree['auroc']:.3f} "
                    f"/ {degree['epr']:.2f}) {cell['cpu_s']:.0f} CPU s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
