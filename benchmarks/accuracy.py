"""Accuracy of DeepTGI against simple baselines, on identical cross-validation folds.

Data sets: mhsc-e (labelled pairs.csv) and mdc (network-nonspecific.csv, balanced negatives)
built in, or any other with ``--expr FILE --labels FILE [--name NAME]`` (a positives-only
network gets balanced negatives unless ``--negatives`` says otherwise).
Protocols: random (stratified over pairs), tf (TF held out) and gene (target held out).
Methods:

* DeepTGI ``lite`` and ``paper`` (early stopping and threshold on a validation split inside
  each training fold);
* |PCC| of the pair (TF vs target correlation, read from the TF's feature row);
* the target's label rate: the fraction of the target gene's training pairs that are
  interactions. It uses no expression at all; what it scores is how much of a protocol can be
  won by knowing which genes are frequent targets (under ``gene`` it is 0.5 by construction);
* the same label rate with every target that has no training pair scored as an interaction
  (``novelty``): still no expression; it measures how much a label file's negative sampling
  leaks, when its non-interactions are drawn from fewer targets than its interactions;
* logistic regression and HistGradientBoostingClassifier (scikit-learn) on the concatenated,
  flattened [tf_features, gene_features] — the same inputs DeepTGI sees.

Per method: AUROC and AUPR (mean ± sd over folds), and target-wise and pair-specific AUROC over
all folds' test pairs with a 95 % bootstrap interval over targets (``deeptgi_train.cv.pooled_target_wise``;
docs/training.md): what a method ranks within each target, beyond target hubness, and beyond
TF and target hubness.

Baselines are fit on fit + validation pairs of each fold (they need no early stopping); the
expression baselines are :func:`deeptgi_train.baselines.expression_baseline_scores`, the same
code ``deeptgi-train cv`` runs beside the model. ``--threads`` caps every method's threads
(torch, numba, BLAS, OpenMP). Timings are wall-clock on a shared machine: noisy.

Run: python benchmarks/accuracy.py [--datasets mhsc-e mdc | --expr E --labels L --name N] [--protocols random tf gene]
     [--methods lite paper pcc prior novelty logreg hgb] [--lite-members N] [--paper-epochs N]
     [--lite-genome] [--lite-crossfit N] [--lite-students lite compact]
     [--out benchmarks/results/accuracy.json]

``--lite-students`` distils each fold's lite model (the teacher, fitted on that fold's training
side only) into students as ``deeptgi-train distill`` does, on the data set's expression with no
labels, and reports each student on the teacher's test pairs, with its Spearman correlation to
the teacher there.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
DATASETS = {
    "mhsc-e": dict(expr=DATA / "mhsc-e" / "expression.csv", labels=DATA / "mhsc-e" / "pairs.csv", negatives="none"),
    "mdc": dict(
        expr=DATA / "mdc" / "expression.csv", labels=DATA / "mdc" / "network-nonspecific.csv", negatives="balanced"
    ),
}
PROTOCOLS = ("random", "tf", "gene")
METHODS = ("lite", "paper", "pcc", "prior", "novelty", "logreg", "hgb")
LABELS = {
    "lite": "DeepTGI lite",
    "paper": "DeepTGI paper",
    "pcc": "|PCC|",
    "prior": "target label rate",
    "novelty": "target label rate, unseen = 1",
    "logreg": "logistic regression",
    "hgb": "gradient boosting",
}
# The methods that are deeptgi-train cv's label-only reference rules (deeptgi_train.baselines).
LABEL_ONLY_METHODS = {"prior": "target_label_rate", "novelty": "unseen_target_as_interaction"}


def load(
    name: str,
    seed: int,
    *,
    expr=None,
    labels=None,
    negatives: str | None = None,
    genome: bool = False,
    with_data: bool = False,
):
    """The pair data set of a benchmark data set: a built-in one, or ``expr`` + ``labels`` under ``name``.

    The labelled pairs are the same with and without ``genome`` (a positives-only network gets
    its balanced negatives either way), so every method's folds are the same pairs; ``genome``
    appends every unlabelled TF x gene candidate after them, for training that draws negatives
    from the genome (``deeptgi-train``'s default, :mod:`deeptgi_train.genome`). ``with_data``
    returns ``(dataset, ExpressionData)``: what a fold's teacher needs to be exported.
    """
    from deeptgi_train.data import build_pair_dataset, load_training_set

    spec = DATASETS.get(name, {})
    expr, labels = expr or spec.get("expr"), labels or spec.get("labels")
    if expr is None or labels is None:
        raise SystemExit(f"data set {name!r}: not built in ({', '.join(DATASETS)}); give --expr and --labels")
    negatives = negatives or spec.get("negatives", "none")
    training = load_training_set(expr, labels, negatives="file" if negatives == "none" else negatives, seed=seed)
    dataset = build_pair_dataset(training.data, training.pairs, genome=True) if genome else training.dataset
    return (dataset, training.data) if with_data else dataset


def score_baseline(
    method: str, dataset, train_idx: np.ndarray, test_idx: np.ndarray, seed: int, threads: int | None = None
) -> np.ndarray:
    """Scores (float ``[test]``) of a baseline trained on ``train_idx`` (deeptgi_train.baselines)."""
    from deeptgi_train.baselines import expression_baseline_scores, label_only_scores

    if method in LABEL_ONLY_METHODS:
        return label_only_scores(LABEL_ONLY_METHODS[method], dataset.gene_idx, dataset.labels, train_idx, test_idx)
    return expression_baseline_scores(method, dataset, train_idx, test_idx, seed=seed, threads=threads)


def student_scores(kind: str, trained, dataset, data, expr, split, *, seed: int, threads: int) -> np.ndarray:
    """Probabilities (float32 ``[test]``) of ``split.test`` by a ``kind`` student of the fold's teacher.

    As a user distils: the teacher (``trained``, fitted on the fold's training side only) is
    exported to ONNX and, through the runtime, scores every TF x gene pair of the data set's
    expression file ``expr`` (its fitted TFs and every other gene as a pseudo-TF, no labels);
    ``deeptgi-train distill``'s :func:`~deeptgi_train.distill.train_student` fits the student to
    those logits. The test pairs are then scored from the same inputs as the teacher's.
    """
    import tempfile

    from deeptgi_rt.contract import ModelMetadata
    from deeptgi_rt.model import ScoringModel
    from deeptgi_train import distill
    from deeptgi_train.export import export_onnx
    from deeptgi_train.trainer import predict

    fitted = np.unique(
        dataset.tf_idx[np.r_[split.fit, split.validation][dataset.labels[np.r_[split.fit, split.validation]] > 0]]
    )
    metadata = ModelMetadata(
        feature_genes=list(data.feature_genes),
        modalities=list(data.modalities),
        preprocessing=list(data.preprocessing),
        threshold=0.5,
        tfs=[dataset.entities[row] for row in fitted],
        config=trained.model.config.to_dict(),
        training={"protocol": "benchmarks/accuracy.py fold teacher"},
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "teacher.onnx"
        export_onnx(trained.model, metadata, path)
        teacher = ScoringModel(path, device="cpu", threads=threads)
        labels = distill.teacher_labels(teacher, distill.read_modalities(teacher, expr, None), seed=seed)
    result = distill.train_student(labels, kind, seed=seed, threads=threads)
    return predict(result.model, dataset, split.test)


def summarize(folds: list[dict], scored: list[tuple], seed: int) -> dict:
    """Mean ± sd over folds of AUROC / AUPR / seconds, and pooled target-wise and pair-specific AUROC."""
    # Over all folds, a group being one target in one fold; 0.5 for a rule of the target alone
    # (target-wise) or of the TF, the target or their sum (pair-specific).
    from deeptgi_train.cv import pooled_target_wise

    degree_controlled = {
        name: pooled_target_wise(scored, pair_specific=name == "pair_specific", seed=seed)
        for name in ("target_wise", "pair_specific")
    }
    return {
        "folds": folds,
        **{
            f"{key}_{stat}": float(fn([f[key] for f in folds]))
            for key in ("auroc", "aupr", "seconds")
            for stat, fn in (("mean", np.mean), ("sd", lambda v: np.std(v, ddof=1)))
        },
        **{
            name: {"mean": value.mean, "low": value.low, "high": value.high, "targets": value.targets}
            for name, value in degree_controlled.items()
        },
    }


def run_method(
    method: str,
    dataset,
    splits,
    *,
    seed: int,
    epochs: dict,
    threads: int = 2,
    members: int = 1,
    crossfit: int = 1,
    protocol: str = "random",
    degree_matched: bool = False,
    prior_offset: bool = False,
    genome=None,
    pair_features: tuple[str, ...] | None = None,
    students: tuple[str, ...] = (),
    data=None,
    expr=None,
) -> dict:
    """Per-fold AUROC / AUPR / seconds of one method over ``splits``.

    ``members`` is lite's side-by-side ensemble size; ``crossfit`` >= 2 trains lite as a
    cross-fitted ensemble instead, seeded exactly as ``deeptgi-train cv --crossfit`` does;
    ``degree_matched`` gives lite degree-matched training negatives as ``deeptgi-train cv
    --negatives degree-matched`` does (test pairs unchanged); ``prior_offset`` trains lite on the
    residual of the target prior and scores its test pairs with it, as ``deeptgi-train cv`` does by
    default. ``genome`` (:class:`deeptgi_train.configs.GenomeOptions`, ``dataset`` a genome data set)
    trains lite on the file's positives against unlabelled candidates of the training side of each
    fold, cut as ``deeptgi-train cv`` cuts them; ``pair_features`` overrides lite's head inputs.
    ``students`` (lite only; needs ``data`` and ``expr``, :func:`student_scores`) also distils
    each fold's model into a student of each kind and evaluates it on the same test pairs: the
    result then holds ``students[kind]`` (the same figures, plus ``spearman_vs_teacher`` of the
    test pairs' scores per fold).
    """
    from scipy.stats import spearmanr

    from deeptgi_train.configs import model_config, train_config, with_epochs
    from deeptgi_train.cv import fold_test_scores, train_fold
    from deeptgi_train.metrics import aupr, auroc

    folds, scored = [], []
    student_folds: dict[str, tuple[list, list]] = {kind: ([], []) for kind in students if method == "lite"}
    for split in splits:
        started = time.perf_counter()
        if method in ("lite", "paper"):
            # train_fold shifts the seed by the fold, exactly as deeptgi-train cv does.
            train = with_epochs(train_config(method, seed=seed, threads=threads), epochs.get(method))
            overrides = {"members": members} if method == "lite" and members > 1 else {}
            if method == "lite" and pair_features is not None:
                overrides["pair_features"] = pair_features
            candidates = None
            if genome is not None and method == "lite":
                from deeptgi_train.genome import candidate_parts

                candidates = candidate_parts(
                    dataset, [np.r_[split.fit, split.validation], split.test], protocol=protocol, seed=seed + split.fold
                )[0]
            trained, _, _ = train_fold(
                dataset,
                split,
                model_config(method, **overrides),
                train,
                protocol=protocol,
                seed=seed,
                crossfit=crossfit if method == "lite" else 1,
                degree_matched=degree_matched and method == "lite",
                prior_offset=prior_offset and method == "lite",
                genome=genome if method == "lite" else None,
                candidates=candidates,
            )
            scores = fold_test_scores(trained, dataset, split, prior_offset=prior_offset and method == "lite")
            extra = {"best_epoch": trained.best_epoch, "validation_auroc": trained.validation_auroc}
        else:
            train_idx = np.r_[split.fit, split.validation]
            scores = score_baseline(method, dataset, train_idx, split.test, seed, threads)
            extra = {}
        labels = dataset.labels[split.test]
        seconds = time.perf_counter() - started
        pairs = (dataset.tf_idx[split.test], dataset.gene_idx[split.test], labels)
        folds.append(
            {"fold": split.fold + 1, "auroc": auroc(labels, scores), "aupr": aupr(labels, scores), "seconds": seconds}
            | extra
        )
        scored.append((*pairs, scores))
        for kind, (kind_folds, kind_scored) in student_folds.items():
            started = time.perf_counter()
            student = student_scores(kind, trained, dataset, data, expr, split, seed=seed + split.fold, threads=threads)
            kind_folds.append(
                {
                    "fold": split.fold + 1,
                    "auroc": auroc(labels, student),
                    "aupr": aupr(labels, student),
                    # The teacher's fit plus the distillation: what the student costs from labels.
                    "seconds": seconds + time.perf_counter() - started,
                    "spearman_vs_teacher": float(spearmanr(student, scores)[0]),
                }
            )
            kind_scored.append((*pairs, student))
    result = summarize(folds, scored, seed)
    if student_folds:
        result["students"] = {kind: summarize(*parts, seed) for kind, parts in student_folds.items()}
    return result


def markdown(results: list[dict]) -> str:
    """The results as a markdown table."""
    lines = [
        "| data | protocol | method | AUROC | AUPR | target-wise AUROC | pair-specific AUROC | s / fold |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results:
        label = row["label"].replace("|", "\\|")
        lines.append(
            f"| {row['dataset']} | {row['protocol']} | {label} | {row['auroc_mean']:.3f} ± "
            f"{row['auroc_sd']:.3f} | {row['aupr_mean']:.3f} ± {row['aupr_sd']:.3f} | "
            f"{_interval(row.get('target_wise'))} | {_interval(row.get('pair_specific'))} | "
            f"{row['seconds_mean']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def _interval(value: dict | None) -> str:
    """``mean [low, high]`` of a pooled target-wise figure; a dash for rows run before it existed."""
    if not value or value["mean"] is None or value["mean"] != value["mean"]:
        return "—"
    return f"{value['mean']:.3f} [{value['low']:.3f}, {value['high']:.3f}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument(
        "--expr", help="expression of a further data set (with --labels and --name; replaces --datasets)"
    )
    parser.add_argument("--labels", help="labelled pairs or a positives-only network of that data set")
    parser.add_argument("--name", help="the further data set's name in the results (default: the labels file's stem)")
    parser.add_argument(
        "--negatives",
        choices=("none", "balanced", "all"),
        help="negatives for --labels (default: balanced for a positives-only file, else none)",
    )
    parser.add_argument("--protocols", nargs="+", default=["random", "tf"], choices=PROTOCOLS)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="threads of every method: torch, numba (PCC features), BLAS and OpenMP (scikit-learn) "
        "(default 2; 1 when runs share the cores)",
    )
    parser.add_argument("--lite-epochs", type=int, help="cap lite's epochs (default: its preset)")
    parser.add_argument(
        "--lite-members",
        type=int,
        default=1,
        help="train lite as an ensemble of this many networks in one model (default 1)",
    )
    parser.add_argument(
        "--lite-crossfit",
        type=int,
        default=1,
        metavar="K",
        help="train lite as a cross-fitted ensemble of K networks (default 1: one network)",
    )
    parser.add_argument(
        "--lite-degree-matched",
        action="store_true",
        help="train lite on degree-matched negatives (deeptgi-train --negatives degree-matched)",
    )
    parser.add_argument(
        "--lite-prior-offset",
        action="store_true",
        help="train lite on the residual of the target prior and score with it, as "
        "deeptgi-train --prior-offset (default: on the labels alone)",
    )
    parser.add_argument(
        "--lite-genome",
        action="store_true",
        help="train lite as deeptgi-train does by default: negatives drawn from the unlabelled TF x gene pairs of "
        "the data, the pair's PCC as a head input (test folds: the same labelled pairs as every other method)",
    )
    parser.add_argument(
        "--lite-students",
        nargs="+",
        default=[],
        choices=("lite", "compact"),
        metavar="KIND",
        help="also distil each fold's lite model into a student of each KIND (lite, compact) as deeptgi-train "
        "distill does, and evaluate it on the same test pairs (issue #25's held-out protocols)",
    )
    parser.add_argument("--paper-epochs", type=int, help="cap paper's epochs (default: its preset)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "accuracy.json"))
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="JSON",
        help="only combine the results of earlier (e.g. parallel) runs into --out and print them",
    )
    args = parser.parse_args(argv)
    if args.merge:
        results, commands = [], []
        for part in args.merge:
            payload = json.loads(Path(part).read_text())
            results.extend(payload["results"])
            # A file merged before carries its runs' commands; a single run's file carries one.
            commands.extend(payload["commands"] if "commands" in payload else [payload["command"]])
        # One table in reading order: data set, protocol, then baselines before DeepTGI.
        order = ("pcc", "prior", "novelty", "logreg", "hgb", "paper", "lite", "student-lite", "student-compact")
        datasets = list(DATASETS) + sorted({row["dataset"] for row in results} - set(DATASETS))
        results.sort(
            key=lambda row: (
                datasets.index(row["dataset"]),
                PROTOCOLS.index(row["protocol"]),
                order.index(row["method"]),
                row.get("crossfit", 1),
                row.get("degree_matched", False),
                row.get("prior_offset", False),
                row.get("genome", False),
            )
        )
        write_results(
            Path(args.out), {"commands": commands, "folds": args.folds, "seed": args.seed, "results": results}
        )
        print_table(results, args.folds)
        return 0

    if (args.expr is None) != (args.labels is None):
        parser.error("--expr and --labels go together")
    limit_threads(args.threads)

    from deeptgi_train.cv import cv_splits

    out = Path(args.out)
    results: list[dict] = []
    epochs = {"lite": args.lite_epochs, "paper": args.paper_epochs}
    names = [args.name or Path(args.labels).stem] if args.expr else args.datasets
    for name in names:
        dataset, data = (
            load(
                name,
                args.seed,
                expr=args.expr,
                labels=args.labels,
                negatives=args.negatives or _default_negatives(args.labels),
                with_data=True,
            )
            if args.expr
            else load(name, args.seed, genome=args.lite_genome, with_data=True)
        )
        expr = args.expr or DATASETS[name]["expr"]
        for protocol in args.protocols:
            splits = list(cv_splits(dataset, protocol=protocol, folds=args.folds, seed=args.seed))
            for method in args.methods:
                label = LABELS[method]
                crossfit = args.lite_crossfit if method == "lite" else 1
                if method == "lite" and args.lite_members > 1:
                    label += f" ×{args.lite_members}"
                if crossfit > 1:
                    label += f", {crossfit} cross-fitted"
                degree_matched = args.lite_degree_matched and method == "lite"
                if degree_matched:
                    label += ", degree-matched negatives"
                prior_offset = args.lite_prior_offset and method == "lite"
                if prior_offset:
                    label += ", prior offset"
                genome = None
                if args.lite_genome and method == "lite":
                    from deeptgi_train.configs import GenomeOptions

                    genome = GenomeOptions()
                    label += ", genome negatives + pair PCC (the default)"
                row = {
                    "dataset": name,
                    "protocol": protocol,
                    "method": method,
                    "label": label,
                    "n_pairs": len(dataset),
                    "epochs_cap": epochs.get(method),
                    "crossfit": crossfit,
                    **run_method(
                        method,
                        dataset,
                        splits,
                        seed=args.seed,
                        epochs=epochs,
                        threads=args.threads,
                        members=args.lite_members if method == "lite" else 1,
                        crossfit=crossfit,
                        protocol=protocol,
                        degree_matched=degree_matched,
                        prior_offset=prior_offset,
                        genome=genome,
                        students=tuple(args.lite_students) if method == "lite" else (),
                        data=data,
                        expr=expr,
                    ),
                    **({"genome": True} if genome is not None else {}),
                    **({"degree_matched": True} if degree_matched else {}),
                    **({"prior_offset": True} if prior_offset else {}),
                }
                # A student's row follows its teacher's: same folds, same test pairs.
                rows = [row] + [
                    row | summary | {"method": f"student-{kind}", "label": f"{kind} student of: {label}"}
                    for kind, summary in row.pop("students", {}).items()
                ]
                for row in rows:
                    results.append(row)
                    print(
                        f"{name} {protocol} {row['label']}: AUROC {row['auroc_mean']:.3f} ± {row['auroc_sd']:.3f}, "
                        f"AUPR {row['aupr_mean']:.3f} ± {row['aupr_sd']:.3f}, {row['seconds_mean']:.1f} s/fold",
                        flush=True,
                    )
                # Rewritten after every method so an interrupted run still leaves its results.
                write_results(
                    out,
                    {
                        "command": "python benchmarks/accuracy.py " + " ".join(sys.argv[1:] if argv is None else argv),
                        "folds": args.folds,
                        "seed": args.seed,
                        "torch_threads": args.threads,
                        "results": results,
                    },
                )
    print_table(results, args.folds)
    return 0


def limit_threads(threads: int) -> None:
    """Cap every thread pool a method may use at ``threads``: torch, numba, BLAS and OpenMP.

    The environment variables reach pools created later (e.g. by a library imported after this);
    :func:`deeptgi_rt.threads.limit_threads` caps numba and the BLAS already loaded.
    """
    import os

    import torch

    from deeptgi_rt.threads import ENV_LIMITS
    from deeptgi_rt.threads import limit_threads as limit_loaded_pools

    for variable in ENV_LIMITS:
        os.environ[variable] = str(threads)
    limit_loaded_pools(threads)
    torch.set_num_threads(threads)


def _default_negatives(labels: str) -> str:
    from deeptgi_train.labels import read_labels

    return "none" if read_labels(labels).had_labels else "balanced"


def write_results(out: Path, payload: dict) -> None:
    """JSON results and the markdown table beside them (same name, .md)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(payload["results"]))


def print_table(results: list[dict], folds: int) -> None:
    """The results as a rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{folds}-fold CV, identical folds per data set and protocol (timings noisy: shared machine)")
    for column in ("data", "protocol", "method", "AUROC", "AUPR", "s / fold"):
        table.add_column(column, justify="left" if column in ("data", "protocol", "method") else "right")
    for row in results:
        table.add_row(
            row["dataset"],
            row["protocol"],
            row["label"],
            f"{row['auroc_mean']:.3f} ± {row['auroc_sd']:.3f}",
            f"{row['aupr_mean']:.3f} ± {row['aupr_sd']:.3f}",
            f"{row['seconds_mean']:.1f}",
        )
    Console(width=110).print(table)


if __name__ == "__main__":
    sys.exit(main())
