"""Genome-wide held-out-TF benchmark: DeepTGI against GRNBoost2, |PCC| and a label-only prior.

Protocol, per data set and split seed:

* mdc: the TFs with edges in ``network-nonspecific.csv`` (and in the expression) are shuffled
  with the split seed and cut in halves (250 TFs: 125 train, 125 test). ``deeptgi-train fit``
  (lite, ``--negatives balanced``, training seed 0) learns from the train half's edges. Every
  method then scores all test TFs x all genes (self-pairs excluded), and each ranking of these
  same candidates is evaluated against the STRING, non-specific and cell-type-specific
  networks restricted to the test TFs.
* mhsc-e: its 45 TFs are split the same way (22 train, 23 test); training uses the train
  TFs' labelled pairs with their own negatives; the truth is the test TFs' labelled positives.
  Small: about 8,000 candidates with a few hundred positives, and candidates that are not
  labelled positives are unlabelled rather than known non-interactions.

Methods (each run as its own process, measured by ``os.wait4``: wall, CPU, peak RSS):

* ``lite-prior``: ``deeptgi-train fit --config lite --prior-offset`` (trained on the residual of
  the target prior, whose table the model carries) then ``deeptgi-rt score --tfs TEST`` (one
  network, scored with its target prior);
* ``lite``: the same without ``--prior-offset`` (the default);
* ``lite-contrast``: ``lite`` with ``--tf-contrast 1`` (a within-target contrast term in the loss);
* ``crossfit``: ``lite`` with ``--crossfit 5``;
* ``crossfit-contrast``: both;
* ``grnboost2``: arboreto 0.1.6 ``grnboost2`` (test TFs as regulators, all genes as targets,
  one in-process dask worker thread), run from a separate virtual environment this script
  creates (``--peer-venv``), because arboreto needs ``dask[dataframe]==2024.2.1`` and
  ``distributed==2024.2.1`` which the runtime must not depend on;
* ``pcc``: |Pearson correlation| of TF and target over cells;
* ``prior``: the label-only prior, the target's in-degree among the training edges (no expression).

Every run uses one thread. Predictions are cached in ``--work`` per data set / seed / method,
so the script resumes where it stopped and seeds run at different times merge; ``--evaluate``
rebuilds the results from whatever is cached. Metrics: ``deeptgi_rt.evaluation`` (AUROC,
AUPRC ratio, EPR, target-wise AUROC, AUROC on candidates whose target has no training edge),
bootstrap 95 % intervals over test TFs, and for each DeepTGI method the paired bootstrap interval of
its difference from the label-only prior (same resamples of test TFs for both).

Run: python benchmarks/grn.py [--datasets mdc mhsc-e] [--seeds 0 1 2]
     [--methods lite-prior lite lite-contrast crossfit crossfit-contrast grnboost2 pcc prior]
     [--bootstrap 1000] [--evaluate]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
WORK = REPO / "benchmarks" / ".grn-work"
RESULTS = REPO / "benchmarks" / "results" / "grn.json"
# Each DeepTGI method is `deeptgi-train fit --config lite` with these options.
FIT_OPTIONS = {
    # deeptgi-train fit as it is now by default: genome negatives, pair PCC, 5 members cross-fitted by TF.
    "default": [],
    "lite-prior": ["--prior-offset"],
    "lite": [],
    "lite-contrast": ["--tf-contrast", "1"],
    "crossfit": ["--crossfit", "5"],
    "crossfit-contrast": ["--crossfit", "5", "--tf-contrast", "1"],
}
DEEPTGI_METHODS = tuple(FIT_OPTIONS)
# Students distilled (deeptgi-train distill, issue #25) from the split's "default" model on the
# split's expression: its TFs plus the other genes as pseudo-TFs, no labels.
STUDENT_METHODS = ("student-compact", "student-lite")
# The peers every DeepTGI method's paired differences are computed against.
REFERENCES = ("prior", "pcc", "grnboost2")
METHODS = (*DEEPTGI_METHODS, *STUDENT_METHODS, "grnboost2", "pcc", "prior")
LABELS = {
    "default": "DeepTGI default (genome negatives, pair PCC, --crossfit 5)",
    "lite-prior": "DeepTGI lite --prior-offset, one network",
    "lite": "DeepTGI lite, one network",
    "lite-contrast": "DeepTGI lite --tf-contrast 1, one network",
    "crossfit": "DeepTGI lite --crossfit 5",
    "crossfit-contrast": "DeepTGI lite --crossfit 5 --tf-contrast 1",
    "student-compact": "compact student of the default (deeptgi-train distill --student compact)",
    "student-lite": "lite student of the default (deeptgi-train distill --student lite)",
    "grnboost2": "GRNBoost2 (arboreto 0.1.6)",
    "pcc": "|PCC|",
    "prior": "label-only prior (target in-degree among training edges)",
}
PEER_PACKAGES = (
    "arboreto==0.1.6",
    "dask[dataframe]==2024.2.1",
    "distributed==2024.2.1",
    "numpy<2",
    "pandas<2.2",
    "scikit-learn<1.6",
)
DATASETS = {
    "mdc": dict(
        expr=DATA / "mdc" / "expression.csv",
        genes_by_cells=True,
        split_network=DATA / "mdc" / "network-nonspecific.csv",
        negatives="balanced",
        truths={
            "STRING": DATA / "mdc" / "network-string.csv",
            "non-specific ChIP": DATA / "mdc" / "network-nonspecific.csv",
            "cell-type-specific ChIP": DATA / "mdc" / "network-specific.csv",
        },
    ),
    "mhsc-e": dict(
        expr=DATA / "mhsc-e" / "expression.csv",
        genes_by_cells=False,
        split_network=DATA / "mhsc-e" / "pairs.csv",
        negatives="none",
        labelled=True,
        truths={"labelled positives": DATA / "mhsc-e" / "pairs.csv"},
    ),
}
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


# ----------------------------------------------------------------------------- split and files


def read_edges(path: Path) -> list[tuple[str, str]]:
    """The positive (TF, target) pairs of a network or labelled-pair CSV, in file order."""
    import csv

    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    keys = {key.casefold(): key for key in rows[0]}
    tf, target = (keys["gene1"], keys["gene2"]) if "gene1" in keys else (keys["tf"], keys["target"])
    label = keys.get("label")
    return [(row[tf], row[target]) for row in rows if label is None or float(row[label]) == 1]


def expression_genes(spec: dict) -> list[str]:
    """Gene names of a data set's expression file, in file order."""
    with open(spec["expr"]) as handle:
        if spec["genes_by_cells"]:
            next(handle)
            return [line.split(",", 1)[0].strip().strip('"') for line in handle if line.strip()]
        return [name.strip().strip('"') for name in handle.readline().rstrip("\n").split(",")]


def split_tfs(spec: dict, seed: int) -> tuple[list[str], list[str]]:
    """(train TFs, test TFs): the TFs with edges in the split network, shuffled with ``seed``, cut in
    halves (the train half takes the odd one)."""
    genes = set(expression_genes(spec))
    tfs = sorted({tf for tf, target in read_edges(spec["split_network"]) if tf in genes})
    order = np.random.default_rng(seed).permutation(len(tfs))
    n_train = len(tfs) - len(tfs) // 2
    return sorted(tfs[i] for i in order[:n_train]), sorted(tfs[i] for i in order[n_train:])


def prepare_split(dataset: str, seed: int, work: Path) -> Path:
    """Write the split's TF lists and training labels under ``work``; returns the split folder."""
    spec = DATASETS[dataset]
    folder = work / dataset / f"seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    train, test = split_tfs(spec, seed)
    (folder / "train_tfs.txt").write_text("\n".join(train) + "\n")
    (folder / "test_tfs.txt").write_text("\n".join(test) + "\n")
    train_set = set(train)
    with open(spec["split_network"]) as handle:
        header, *lines = handle.read().splitlines()
    # Training labels are the split network's rows whose TF is a train TF (labelled files keep their
    # negatives; positives-only networks get balanced negatives from fit).
    kept = [line for line in lines if line.split(",", 1)[0] in train_set]
    (folder / "train_labels.csv").write_text("\n".join([header, *kept]) + "\n")
    return folder


# ----------------------------------------------------------------------------- measured processes


def measured(command: list[str], log: Path) -> dict:
    """Run ``command`` with one thread to completion; wall seconds, CPU seconds (user + system, the
    process and the children it waited for) and peak RSS (bytes) from ``os.wait4``."""
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'train'}"}
    started = time.perf_counter()
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed; see {log}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_bytes": usage.ru_maxrss * 1024}


def _console(name: str) -> str:
    """A console script of this environment (PYTHONPATH in :func:`measured` makes it run this checkout's code)."""
    return str(Path(sys.executable).parent / name)


def run_deeptgi(method: str, dataset: str, folder: Path, out: Path) -> dict:
    """Fit lite (one network or cross-fitted) on the train half and score test TFs x all genes."""
    spec = DATASETS[dataset]
    model = folder / f"{method}.onnx"
    fit = [
        _console("deeptgi-train"),
        "fit",
        "--expr",
        str(spec["expr"]),
        "--labels",
        str(folder / "train_labels.csv"),
        *([] if method == "default" else ["--negatives", spec["negatives"]]),
        "--config",
        "lite",
        "--seed",
        "0",
        "--threads",
        "1",
        "--out",
        str(model),
        "-q",
        *FIT_OPTIONS[method],
    ]
    fit_cost = measured(fit, folder / f"{method}-fit.log")
    score = [
        _console("deeptgi-rt"),
        "score",
        str(spec["expr"]),
        "--model",
        str(model),
        "--tfs",
        str(folder / "test_tfs.txt"),
        "--threads",
        "1",
        "--device",
        "cpu",
        "--out",
        str(out),
        "-q",
    ]
    score_cost = measured(score, folder / f"{method}-score.log")
    return _fit_and_score_cost(fit_cost, score_cost)


def _fit_and_score_cost(fit_cost: dict, score_cost: dict) -> dict:
    """A method's cost: its fit (or distillation) and its scoring run, and their totals."""
    return {
        "fit": fit_cost,
        "score": score_cost,
        "wall_s": fit_cost["wall_s"] + score_cost["wall_s"],
        "cpu_s": fit_cost["cpu_s"] + score_cost["cpu_s"],
        "peak_rss_bytes": max(fit_cost["peak_rss_bytes"], score_cost["peak_rss_bytes"]),
    }


def run_student(method: str, dataset: str, folder: Path, out: Path) -> dict:
    """Distil the split's ``default`` model (run it first) into a student and score test TFs x all genes."""
    spec = DATASETS[dataset]
    teacher, model = folder / "default.onnx", folder / f"{method}.onnx"
    if not teacher.exists():
        raise RuntimeError(f"{method} needs the split's default model {teacher}: run --methods default first")
    distill = [_console("deeptgi-train"), "distill", "--teacher", str(teacher), "--expr", str(spec["expr"])]
    distill += ["--student", method.removeprefix("student-"), "--threads", "1", "--out", str(model), "-q"]
    fit_cost = measured(distill, folder / f"{method}-fit.log")
    score = [_console("deeptgi-rt"), "score", str(spec["expr"]), "--model", str(model), "--tfs"]
    score += [str(folder / "test_tfs.txt"), "--threads", "1", "--device", "cpu", "--out", str(out), "-q"]
    score_cost = measured(score, folder / f"{method}-score.log")
    return _fit_and_score_cost(fit_cost, score_cost)


def ensure_peer_venv(venv: Path) -> Path:
    """The Python of the peers' virtual environment, created on first use (arboreto and its pinned dask)."""
    python = venv / "bin" / "python"
    stamp = venv / "peers-installed.txt"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
        stamp.write_text("\n".join(PEER_PACKAGES) + "\n")
    return python


def prediction_path(folder: Path, method: str) -> Path:
    """Where a method's predictions are cached: GRNBoost2's own adjacency TSV, the others' Parquet edge lists."""
    return folder / (f"{method}.tsv" if method == "grnboost2" else f"{method}.parquet")


def run_method(method: str, dataset: str, seed: int, work: Path, peer_venv: Path) -> dict:
    """Produce (or reuse) one method's predictions for one split; returns its cost record."""
    folder = work / dataset / f"seed{seed}"
    out, record = prediction_path(folder, method), folder / f"{method}.json"
    if record.exists() and out.exists():
        return json.loads(record.read_text())
    spec = DATASETS[dataset]
    tfs = folder / "test_tfs.txt"
    if method in DEEPTGI_METHODS:
        cost = run_deeptgi(method, dataset, folder, out)
    elif method in STUDENT_METHODS:
        cost = run_student(method, dataset, folder, out)
    elif method == "grnboost2":
        command = [
            str(ensure_peer_venv(peer_venv)),
            str(Path(__file__).resolve()),
            "_grnboost2",
            str(spec["expr"]),
            str(tfs),
            str(out),
            "--seed",
            str(seed),
        ]
        cost = measured(command + (["--genes-by-cells"] if spec["genes_by_cells"] else []), folder / "grnboost2.log")
    else:
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            f"_{method}",
            str(spec["expr"]),
            str(tfs),
            str(out),
            "--train-labels",
            str(folder / "train_labels.csv"),
        ]
        cost = measured(command, folder / f"{method}.log")
    cost.update(method=method, dataset=dataset, seed=seed)
    record.write_text(json.dumps(cost, indent=2) + "\n")
    return cost


# ----------------------------------------------------------------------------- the methods' own processes


def _grnboost2_main(args) -> int:
    """Runs inside the peers' venv: arboreto's grnboost2, test TFs x all genes, one dask thread."""
    import pandas as pd
    from arboreto.algo import grnboost2
    from distributed import Client, LocalCluster

    frame = pd.read_csv(args.expr, index_col=0 if args.genes_by_cells else None)
    if args.genes_by_cells:
        frame = frame.T
    tfs = [line.strip() for line in open(args.tfs) if line.strip()]
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        network = grnboost2(expression_data=frame, tf_names=tfs, client_or_address=client, seed=args.seed)
    network.to_csv(args.out, sep="\t", index=False)
    return 0


def _candidate_table(tfs: list[str], genes: list[str], scores: np.ndarray, out: str) -> None:
    """Write ``scores`` float ``[tfs, genes]`` as a TF, target, score Parquet file, self-pairs left out."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tf_rows, gene_rows = np.meshgrid(np.arange(len(tfs)), np.arange(len(genes)), indexing="ij")
    tf_names, gene_names = (
        np.asarray(tfs, dtype=object)[tf_rows.ravel()],
        np.asarray(genes, dtype=object)[gene_rows.ravel()],
    )
    keep = tf_names != gene_names
    pq.write_table(
        pa.table(
            {
                "TF": tf_names[keep].tolist(),
                "target": gene_names[keep].tolist(),
                "score": scores.ravel()[keep].astype(np.float64),
            }
        ),
        out,
    )


def _baseline_main(args) -> int:
    """|PCC| or the label-only prior for test TFs x all genes (main venv)."""
    from deeptgi_rt.expression import read_expression

    expression = read_expression(args.expr)
    genes = expression.genes
    tfs = [line.strip() for line in open(args.tfs) if line.strip()]
    if args.method == "pcc":
        values = expression.values.astype(np.float64)
        centered = values - values.mean(axis=1, keepdims=True)
        norms = np.linalg.norm(centered, axis=1)
        unit = centered / np.where(norms > 0, norms, 1.0)[:, None]
        rows = [genes.index(tf) for tf in tfs]
        scores = np.abs(unit[rows] @ unit.T)
    else:
        in_degree = dict.fromkeys(genes, 0)
        for _, target in read_edges(Path(args.train_labels)):
            if target in in_degree:
                in_degree[target] += 1
        scores = np.tile(np.array([in_degree[g] for g in genes], dtype=np.float64), (len(tfs), 1))
    _candidate_table(tfs, genes, scores, args.out)
    return 0


# ----------------------------------------------------------------------------- evaluation


def evaluate_split(dataset: str, seed: int, work: Path, methods, bootstrap: int) -> list[dict]:
    """Every cached method of one split against every truth of the data set, on the same candidates."""
    from scipy.stats import spearmanr

    from deeptgi_rt import metrics
    from deeptgi_rt.evaluation import build_candidates, evaluate_scores, read_predictions, read_truth

    spec = DATASETS[dataset]
    folder = work / dataset / f"seed{seed}"
    tfs = (folder / "test_tfs.txt").read_text().split()
    genes = expression_genes(spec)
    trained_targets = {target for _, target in read_edges(folder / "train_labels.csv")}
    available = [m for m in methods if (folder / f"{m}.json").exists()]
    predictions = {m: read_predictions(prediction_path(folder, m)) for m in available}
    rows = []
    for truth_name, truth_path in spec["truths"].items():
        candidates = build_candidates(read_truth(truth_path), tfs, genes)
        # Candidates whose target has no training edge: there the prior scores 0 for every TF.
        unseen = ~np.isin(np.asarray(genes, dtype=object)[candidates.gene_index], list(trained_targets))
        labelled = labelled_positions(spec, tfs, candidates) if spec.get("labelled") else None
        references = {ref: candidates.scores(predictions[ref])[0] for ref in REFERENCES if ref in available}
        for method in available:
            scores, _ = candidates.scores(predictions[method])
            extra_vs = {}
            if method in DEEPTGI_METHODS or method in STUDENT_METHODS:
                # Paired: the same resamples of test TFs for the method and each reference (a
                # student also against its teacher, the split's default).
                refs = dict(references)
                if method in STUDENT_METHODS and "default" in available:
                    refs["default"] = candidates.scores(predictions["default"])[0]
                    # Issue #25's agreement figure: over all candidates of the held-out TFs.
                    extra_vs["spearman_vs_default"] = float(spearmanr(scores, refs["default"])[0])
                for ref, ref_scores in refs.items():
                    extra_vs[f"vs_{ref}"] = {
                        key: list(value)
                        for key, value in metrics.paired_difference_intervals(
                            candidates.labels, scores, ref_scores, candidates.tf_index, resamples=bootstrap, seed=seed
                        ).items()
                    }
            result = evaluate_scores(
                method, str(folder), candidates, scores, bootstrap=bootstrap, seed=seed, curves=False
            )
            labels = candidates.labels[unseen]
            unseen_auroc = metrics.auroc(labels, scores[unseen]) if 0 < labels.sum() < labels.size else None
            tw, ps = result.target_wise, result.pair_specific
            extra = {}
            if labelled is not None:
                # The cross-validation view: only the test TFs' labelled pairs, with their own negatives.
                extra["auroc_labelled_pairs"] = metrics.auroc(labelled[1], scores[labelled[0]])
            rows.append(
                {
                    "dataset": dataset,
                    "seed": seed,
                    "truth": truth_name,
                    "method": method,
                    "candidates": len(candidates),
                    "true_edges": candidates.positives,
                    "listed": result.listed,
                    **result.summary,
                    "intervals": {k: list(v) for k, v in result.intervals.items()},
                    "target_wise_auroc": tw.mean,
                    "target_wise_targets": tw.targets,
                    "target_wise_interval": [tw.low, tw.high],
                    "pair_specific_auroc": ps.mean,
                    "pair_specific_interval": [ps.low, ps.high],
                    "unseen_target_candidates": int(unseen.sum()),
                    "unseen_target_true_edges": int(labels.sum()),
                    "auroc_unseen_targets": unseen_auroc,
                    **extra,
                    **extra_vs,
                    "cost": json.loads((folder / f"{method}.json").read_text()),
                }
            )
    return rows


def labelled_pairs_of(spec: dict, tfs: list[str]) -> tuple[list[tuple[str, str]], np.ndarray]:
    """The labelled pairs (and their 0/1 labels) of a labelled data set whose TF is in ``tfs``."""
    import csv

    with open(spec["split_network"], newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["TF"] in set(tfs)]
    return [(row["TF"], row["Target"]) for row in rows], np.array([int(float(row["Label"])) for row in rows])


def labelled_positions(spec: dict, tfs: list[str], candidates) -> tuple[np.ndarray, np.ndarray]:
    """(candidate positions, labels) of the test TFs' labelled pairs that are candidates."""
    import pyarrow as pa

    pairs, labels = labelled_pairs_of(spec, tfs)
    position = candidates.positions(
        pa.array([p[0] for p in pairs], pa.string()), pa.array([p[1] for p in pairs], pa.string())
    )
    return position[position >= 0], labels[position >= 0]


def evaluate_all(args) -> None:
    """Evaluate every cached split, aggregate over seeds, write JSON + markdown, print the markdown."""
    rows = []
    for dataset in args.datasets:
        for seed in sorted(int(p.name[4:]) for p in (args.work / dataset).glob("seed*")):
            rows += evaluate_split(dataset, seed, args.work, args.methods, args.bootstrap)
    if args.keep_earlier and args.out.exists():
        # Rows of methods whose predictions are not cached here (an earlier run on another checkout):
        # kept as they were, marked, so one table still holds every method; paired differences need
        # both predictions, so a kept row has differences only against what it was run beside.
        done = {(r["dataset"], r["seed"], r["method"]) for r in rows}
        for row in json.loads(args.out.read_text())["splits"]:
            if row["dataset"] not in args.datasets:
                # A data set this run did not evaluate keeps its rows as they were.
                rows.append(row)
            elif (row["dataset"], row["seed"], row["method"]) not in done:
                rows.append({**row, "earlier_run": True})
    payload = {
        "command": "python benchmarks/grn.py " + " ".join(sys.argv[1:]),
        "bootstrap": args.bootstrap,
        "threads": 1,
        "splits": rows,
        "summary": aggregate(rows),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(_finite(payload), indent=2) + "\n")
    text = markdown(payload)
    args.out.with_suffix(".md").write_text(text)
    print(text)


def _finite(value):
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


SUMMARY_KEYS = (
    "auroc",
    "auprc_ratio",
    "epr",
    "target_wise_auroc",
    "pair_specific_auroc",
    "auroc_unseen_targets",
    "auroc_labelled_pairs",
)


def _mean_sd(values) -> dict:
    values = np.array([v for v in values if v is not None], dtype=np.float64)
    if values.size == 0:
        return {"mean": None, "sd": None, "n": 0}
    return {
        "mean": float(values.mean()),
        "sd": float(values.std(ddof=1)) if values.size > 1 else None,
        "n": int(values.size),
    }


def aggregate(rows: list[dict]) -> list[dict]:
    """Mean ± sd over split seeds per data set, truth and method (and mean bootstrap bounds, mean costs)."""
    out = []
    keys = dict.fromkeys((r["dataset"], r["truth"], r["method"]) for r in rows)
    for dataset, truth, method in keys:
        group = [r for r in rows if (r["dataset"], r["truth"], r["method"]) == (dataset, truth, method)]
        entry = {
            "dataset": dataset,
            "truth": truth,
            "method": method,
            "label": LABELS[method] + (" (earlier run)" if any(r.get("earlier_run") for r in group) else ""),
            "earlier_run": any(r.get("earlier_run") for r in group),
            "seeds": [r["seed"] for r in group],
            "candidates": _mean_sd(r["candidates"] for r in group),
            "true_edges": _mean_sd(r["true_edges"] for r in group),
        }
        for key in SUMMARY_KEYS:
            entry[key] = _mean_sd(r.get(key) for r in group)
        for key in ("auroc", "auprc_ratio", "epr"):
            bounds = [r["intervals"].get(key) for r in group if r["intervals"]]
            entry[f"{key}_interval_mean"] = np.mean(bounds, axis=0).tolist() if bounds else None
        for key in ("target_wise", "pair_specific"):
            bounds = [r[f"{key}_interval"] for r in group if f"{key}_interval" in r]
            entry[f"{key}_interval_mean"] = np.nanmean(bounds, axis=0).tolist() if bounds else None
        costs = [r["cost"] for r in group]
        entry["cost"] = {key: _mean_sd(c.get(key) for c in costs) for key in ("wall_s", "cpu_s", "peak_rss_bytes")}
        if "fit" in costs[0]:
            entry["cost"]["fit_cpu_s"] = _mean_sd(c["fit"]["cpu_s"] for c in costs)
            entry["cost"]["score_wall_s"] = _mean_sd(c["score"]["wall_s"] for c in costs)
        out.append(entry)
    return out


def _cell(stat: dict, digits: int = 3) -> str:
    if stat["mean"] is None:
        return "—"
    sd = "" if stat["sd"] is None else f" ± {stat['sd']:.{digits}f}"
    return f"{stat['mean']:.{digits}f}{sd}"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def overview(summary: list[dict], dataset: str) -> list[str]:
    """One row per method: AUROC / AUPRC ratio / EPR per truth, then target-wise AUROC and AUROC on
    unseen targets against the split network's truth, and the CPU cost (README's table)."""
    truths = list(dict.fromkeys(e["truth"] for e in summary if e["dataset"] == dataset))
    main = truths[1] if len(truths) > 1 else truths[0]
    lines = [
        f"| method | seeds | {' | '.join(truths)} | target-wise AUROC ({main}) | pair-specific AUROC ({main}) "
        f"| AUROC, unseen targets ({main}) | CPU s per split |",
        "|---|---|" + "---|" * (len(truths) + 4),
    ]
    for method in dict.fromkeys(e["method"] for e in summary if e["dataset"] == dataset):
        by_truth = {e["truth"]: e for e in summary if (e["dataset"], e["method"]) == (dataset, method)}
        cells = [
            f"{_cell(by_truth[t]['auroc'])} / {_cell(by_truth[t]['auprc_ratio'], 2)} / {_cell(by_truth[t]['epr'], 2)}"
            for t in truths
        ]
        e = by_truth[main]
        lines.append(
            f"| {_md(e['label'])} | {len(e['seeds'])} | {' | '.join(cells)} | {_cell(e['target_wise_auroc'])} | "
            f"{_cell(e['pair_specific_auroc'])} | {_cell(e['auroc_unseen_targets'])} | {_cell(e['cost']['cpu_s'], 0)} |"
        )
    return lines


def differences(rows: list[dict], dataset: str, reference: str = "prior") -> list[str]:
    """Per split seed, each DeepTGI method minus ``reference`` with its paired bootstrap interval."""
    rows = [r for r in rows if r["dataset"] == dataset]
    refs = {(r["seed"], r["truth"]): r for r in rows if r["method"] == reference}
    key_vs = f"vs_{reference}"
    compared = [r for r in rows if r.get(key_vs) and (r["seed"], r["truth"]) in refs]
    if not compared:
        return []
    # A student against its teacher also gets their Spearman correlation over the candidates.
    agreement = reference == "default"
    lines = [
        f"### {dataset}: method minus {LABELS[reference]}, per split seed (95 % paired bootstrap over test TFs)",
        "",
        "| method | truth | seed | Δ AUROC | Δ AUPRC ratio | Δ EPR |" + (" Spearman |" if agreement else ""),
        "|---|---|---|---|---|---|" + ("---|" if agreement else ""),
    ]
    for r in compared:
        ref = refs[(r["seed"], r["truth"])]
        cells = [
            f"{r[key] - ref[key]:+.3f} [{r[key_vs][key][0]:+.3f}, {r[key_vs][key][1]:+.3f}]"
            for key in ("auroc", "auprc_ratio", "epr")
        ]
        if agreement:
            cells.append(f"{r['spearman_vs_default']:.3f}" if "spearman_vs_default" in r else "—")
        lines.append(f"| {_md(LABELS[r['method']])} | {r['truth']} | {r['seed']} | {' | '.join(cells)} |")
    return lines + [""]


def markdown(payload: dict) -> str:
    """Overview per data set, then per truth: method rows with mean ± sd over split seeds; then costs."""
    summary = payload["summary"]
    lines = [
        f"Command: `{payload['command']}`",
        "",
        "Held-out TFs, genome-wide candidates (test TFs x all genes, self-pairs excluded), mean ± sd over "
        "split seeds; [bracket] = mean over seeds of the 95 % bootstrap bounds (resampling test TFs; "
        "target-wise and pair-specific AUROC: resampling targets; pair-specific AUROC = target-wise AUROC "
        "after removing additive TF and target effects from the scores' rank logits). 'AUROC, unseen "
        "targets' = candidates whose target has no training edge; 'AUROC, labelled pairs only' (mhsc-e) = "
        "the test TFs' labelled pairs with their own negatives, the cross-validation view. One thread per run.",
        "",
    ]
    for dataset in dict.fromkeys(e["dataset"] for e in summary):
        lines += [
            f"## {dataset}: AUROC / AUPRC ratio / EPR, mean ± sd over split seeds",
            "",
            *overview(summary, dataset),
            "",
        ]
        for truth in dict.fromkeys(e["truth"] for e in summary if e["dataset"] == dataset):
            group = [e for e in summary if (e["dataset"], e["truth"]) == (dataset, truth)]
            first = group[0]
            labelled = first["auroc_labelled_pairs"]["n"] > 0
            lines += [
                f"### {dataset}, truth: {truth} ({first['candidates']['mean']:,.0f} candidates, "
                f"{first['true_edges']['mean']:,.0f} true edges on average)",
                "",
                "| method | seeds | AUROC | AUPRC ratio | EPR | target-wise AUROC | pair-specific AUROC "
                "| AUROC, unseen targets |" + (" AUROC, labelled pairs only |" if labelled else ""),
                "|---|---|---|---|---|---|---|---|" + ("---|" if labelled else ""),
            ]
            for e in group:

                def bracket(key, e=e):
                    bounds = e.get(f"{key}_interval_mean")
                    return f" [{bounds[0]:.2f}–{bounds[1]:.2f}]" if bounds else ""

                lines.append(
                    f"| {_md(e['label'])} | {len(e['seeds'])} | {_cell(e['auroc'])}{bracket('auroc')} | "
                    f"{_cell(e['auprc_ratio'], 2)}{bracket('auprc_ratio')} | {_cell(e['epr'], 2)}{bracket('epr')} | "
                    f"{_cell(e['target_wise_auroc'])}{bracket('target_wise')} | "
                    f"{_cell(e['pair_specific_auroc'])}{bracket('pair_specific')} | "
                    f"{_cell(e['auroc_unseen_targets'])} |"
                    + (f" {_cell(e['auroc_labelled_pairs'])} |" if labelled else "")
                )
            lines.append("")
        for reference in (*REFERENCES, "default"):
            lines += differences(payload["splits"], dataset, reference)
        lines += [
            f"### {dataset}: cost per split (mean over seeds, one thread, shared machine)",
            "",
            "| method | wall s | CPU s | of which fit CPU s | score wall s | peak RSS MiB |",
            "|---|---|---|---|---|---|",
        ]
        seen = set()
        for e in summary:
            if e["dataset"] != dataset or e["method"] in seen:
                continue
            seen.add(e["method"])
            c = e["cost"]
            fit = _cell(c["fit_cpu_s"], 0) if "fit_cpu_s" in c else "—"
            score = _cell(c["score_wall_s"], 1) if "score_wall_s" in c else "—"
            rss = c["peak_rss_bytes"]["mean"] / 2**20
            lines.append(
                f"| {_md(e['label'])} | {_cell(c['wall_s'], 0)} | {_cell(c['cpu_s'], 0)} | {fit} | {score} "
                f"| {rss:,.0f} |"
            )
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- driver


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="split seeds (default 0 1 2)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--work", type=Path, default=WORK, help=f"prediction cache (default {WORK})")
    parser.add_argument(
        "--peer-venv",
        type=Path,
        default=WORK / "peers-venv",
        help="virtual environment for arboreto (created on first use)",
    )
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples over test TFs (default 1000)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results JSON (default {RESULTS}; .md beside it)")
    parser.add_argument("--evaluate", action="store_true", help="only evaluate what is cached, run nothing")
    parser.add_argument(
        "--keep-earlier",
        action="store_true",
        help="keep the rows of --out for methods whose predictions are not cached (marked earlier_run)",
    )
    parser.add_argument("--run-only", action="store_true", help="only produce predictions, do not evaluate")
    return parser.parse_args(argv)


def _method_args(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("method")
    parser.add_argument("expr")
    parser.add_argument("tfs")
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--genes-by-cells", action="store_true")
    parser.add_argument("--train-labels")
    args = parser.parse_args(argv)
    args.method = args.method.lstrip("_")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("_grnboost2", "_pcc", "_prior"):
        args = _method_args(argv)
        return _grnboost2_main(args) if args.method == "grnboost2" else _baseline_main(args)
    args = parse_args(argv)
    if not args.evaluate:
        for dataset in args.datasets:
            for seed in args.seeds:
                prepare_split(dataset, seed, args.work)
                for method in args.methods:
                    started = time.perf_counter()
                    cost = run_method(method, dataset, seed, args.work, args.peer_venv)
                    print(
                        f"{dataset} seed {seed} {method}: wall {cost['wall_s']:.0f} s, cpu {cost['cpu_s']:.0f} s, "
                        f"peak RSS {cost['peak_rss_bytes'] / 2**20:.0f} MiB "
                        f"({time.perf_counter() - started:.0f} s this run)",
                        flush=True,
                    )
    if not args.run_only:
        evaluate_all(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
