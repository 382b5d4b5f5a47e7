"""The paper's ablation (its Table 2) on mhsc-e, random protocol, 5-fold CV on identical folds.

Steps: CNN; CNN + Siamese; + auto-encoders; + multi-head attention fusion (the full model).
Each step is the ``lite`` config (or ``--config``) with :data:`deeptgi_train.configs.ABLATIONS`
overrides, trained with that config's training preset; early stopping and thresholds use a
validation split inside each training fold. Timings are wall-clock on a shared machine: noisy.

Run: python benchmarks/ablation.py [--config lite] [--epochs N] [--steps ...] [--out benchmarks/results/ablation.json]
     python benchmarks/ablation.py --merge A.json B.json [--out ...]   (combine runs of separate steps)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "mhsc-e"
STEPS = {
    "cnn": "CNN",
    "cnn+siamese": "CNN + Siamese",
    "cnn+siamese+autoencoder": "+ auto-encoders",
    "full": "+ multi-head attention (full)",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="lite", choices=("lite", "paper", "tiny"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2; 1 when runs share the cores)")
    parser.add_argument(
        "--epochs", type=int, help="epoch cap instead of the preset's (lower or higher; early stopping still applies)"
    )
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=list(STEPS))
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "ablation.json"))
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        help="only combine earlier runs (e.g. of different --steps, run in parallel) into --out",
    )
    args = parser.parse_args(argv)
    if args.merge:
        payloads = [json.loads(Path(part).read_text()) for part in args.merge]
        # Rows of different configs, budgets or folds do not belong in one table.
        settings = {(p["config"], p["epochs_cap"], p["folds"], p["seed"]) for p in payloads}
        if len(settings) > 1:
            parser.error(f"--merge: the runs differ in (config, epochs cap, folds, seed): {sorted(settings, key=str)}")
        rows = sorted((row for p in payloads for row in p["results"]), key=lambda row: list(STEPS).index(row["step"]))
        first = payloads[0]
        # A file merged before carries its runs' commands; a single run's file carries one.
        commands = [command for p in payloads for command in p.get("commands", [p.get("command")])]
        write_results(
            Path(args.out),
            {
                "commands": commands,
                "config": first["config"],
                "epochs_cap": first["epochs_cap"],
                "folds": first["folds"],
                "seed": first["seed"],
                "results": rows,
            },
        )
        print_table(rows, first["config"], first["folds"])
        return 0

    import torch

    from deeptgi_train.configs import ABLATIONS, model_config, train_config, with_epochs
    from deeptgi_train.cv import cv_splits
    from deeptgi_train.data import load_training_set
    from deeptgi_train.metrics import aupr, auroc
    from deeptgi_train.trainer import predict, train_model

    torch.set_num_threads(args.threads)
    dataset = load_training_set(DATA / "expression.csv", DATA / "pairs.csv", seed=args.seed).dataset
    splits = list(cv_splits(dataset, protocol="random", folds=args.folds, seed=args.seed))
    out = Path(args.out)
    rows = []
    for step in args.steps:
        config = model_config(args.config, **ABLATIONS[step])
        folds = []
        for split in splits:
            started = time.perf_counter()
            train = with_epochs(
                train_config(args.config, seed=args.seed + split.fold, threads=args.threads), args.epochs
            )
            trained = train_model(dataset, split.fit, split.validation, config, train)
            scores = predict(trained.model, dataset, split.test)
            labels = dataset.labels[split.test]
            folds.append(
                {
                    "fold": split.fold + 1,
                    "auroc": auroc(labels, scores),
                    "aupr": aupr(labels, scores),
                    "best_epoch": trained.best_epoch,
                    "seconds": time.perf_counter() - started,
                }
            )
        row = {"step": step, "label": STEPS[step], "config": config.to_dict(), "folds": folds}
        for key in ("auroc", "aupr", "seconds"):
            values = [fold[key] for fold in folds]
            row[f"{key}_mean"], row[f"{key}_sd"] = float(np.mean(values)), float(np.std(values, ddof=1))
        rows.append(row)
        print(
            f"{STEPS[step]}: AUROC {row['auroc_mean']:.3f} ± {row['auroc_sd']:.3f}, "
            f"AUPR {row['aupr_mean']:.3f} ± {row['aupr_sd']:.3f}",
            flush=True,
        )
        # Rewritten after every step so an interrupted run still leaves its results.
        write_results(
            out,
            {
                "command": "python benchmarks/ablation.py " + " ".join(sys.argv[1:] if argv is None else argv),
                "config": args.config,
                "epochs_cap": args.epochs,
                "folds": args.folds,
                "seed": args.seed,
                "results": rows,
            },
        )
    print_table(rows, args.config, args.folds)
    return 0


def write_results(out: Path, payload: dict) -> None:
    """JSON results and the markdown table beside them (same name, .md)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    lines = ["| model | AUROC | AUPR | s / fold |", "|---|---|---|---|"]
    lines += [
        f"| {r['label']} | {r['auroc_mean']:.3f} ± {r['auroc_sd']:.3f} | {r['aupr_mean']:.3f} ± "
        f"{r['aupr_sd']:.3f} | {r['seconds_mean']:.1f} |"
        for r in payload["results"]
    ]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


def print_table(rows: list[dict], config: str, folds: int) -> None:
    """The ablation rows as a rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Ablation on mhsc-e ({config}, random split, {folds}-fold; timings noisy)")
    for column in ("model", "AUROC", "AUPR", "s / fold"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for r in rows:
        table.add_row(
            r["label"],
            f"{r['auroc_mean']:.3f} ± {r['auroc_sd']:.3f}",
            f"{r['aupr_mean']:.3f} ± {r['aupr_sd']:.3f}",
            f"{r['seconds_mean']:.1f}",
        )
    Console(width=100).print(table)


if __name__ == "__main__":
    sys.exit(main())
