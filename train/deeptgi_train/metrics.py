"""Classification metrics for TF -> gene interaction scores, in plain numpy.

Definitions follow scikit-learn (AUROC, average precision) and BEELINE (AUPRC ratio, early
precision ratio) so figures are comparable with published ones. Every function takes
``labels`` (0/1, any integer or float dtype, ``[n]``) and ``scores`` (float ``[n]``, higher =
more likely an interaction).
"""

from __future__ import annotations

import numpy as np


def _curve_counts(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True/false positive counts at each distinct score, scanning from the highest score down.

    Returns ``(tps, fps, thresholds)``, each ``[distinct scores]``: predicting positive for
    ``score >= thresholds[i]`` gives ``tps[i]`` true and ``fps[i]`` false positives.
    """
    labels = np.asarray(labels).astype(np.float64).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in shape")
    if labels.size == 0:
        raise ValueError("no labels")
    order = np.argsort(-scores, kind="mergesort")
    scores = scores[order]
    labels = labels[order]
    # Tied scores form one step: only the last position of each run of equal scores counts.
    last_of_run = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    tps = np.cumsum(labels)[last_of_run]
    fps = (last_of_run + 1) - tps
    return tps, fps, scores[last_of_run]


def _check_both_classes(labels: np.ndarray) -> tuple[int, int]:
    labels = np.asarray(labels).ravel()
    positives = int(np.count_nonzero(labels == 1))
    negatives = int(labels.size - positives)
    if positives == 0 or negatives == 0:
        raise ValueError("metric needs both positive and negative labels")
    return positives, negatives


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve points.

    Returns ``(fpr, tpr, thresholds)``, float64 ``[distinct scores + 1]``; the first point is
    (0, 0) with threshold ``inf`` (nothing predicted positive).
    """
    positives, negatives = _check_both_classes(labels)
    tps, fps, thresholds = _curve_counts(labels, scores)
    fpr = np.r_[0.0, fps / negatives]
    tpr = np.r_[0.0, tps / positives]
    return fpr, tpr, np.r_[np.inf, thresholds]


def pr_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision-recall curve points, recall increasing.

    Returns ``(recall, precision, thresholds)``, float64 ``[distinct scores + 1]``; the first
    point is recall 0, precision 1 (scikit-learn's convention).
    """
    _check_both_classes(labels)
    tps, fps, thresholds = _curve_counts(labels, scores)
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return np.r_[0.0, recall], np.r_[1.0, precision], np.r_[np.inf, thresholds]


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (trapezoidal, ties count one half), as ``roc_auc_score``."""
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def aupr(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision: sum over thresholds of (recall step) x precision, as ``average_precision_score``."""
    recall, precision, _ = pr_curve(labels, scores)
    return float(np.sum(np.diff(recall) * precision[1:]))


def youden_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """Score threshold maximizing Youden's J = TPR - FPR over the ROC thresholds.

    Predict an interaction for ``score >= threshold``. Among equal J the highest threshold wins
    (fewest predicted positives). The ``inf`` starting point is never returned.
    """
    fpr, tpr, thresholds = roc_curve(labels, scores)
    j = (tpr - fpr)[1:]
    # Equal J values can differ in the last bit (2/3 - 0 vs 1 - 1/3); compare with a tolerance.
    best = int(np.flatnonzero(j >= j.max() - 1e-12)[0])
    return float(thresholds[1:][best])


def confusion_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, int]:
    """Counts ``tp, fp, tn, fn`` when predicting positive for ``score >= threshold``."""
    labels = np.asarray(labels).ravel() == 1
    predicted = np.asarray(scores, dtype=np.float64).ravel() >= threshold
    return {
        "tp": int(np.count_nonzero(predicted & labels)),
        "fp": int(np.count_nonzero(predicted & ~labels)),
        "tn": int(np.count_nonzero(~predicted & ~labels)),
        "fn": int(np.count_nonzero(~predicted & labels)),
    }


def threshold_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, F1, recall and precision at ``threshold`` (0 where undefined, as scikit-learn's default)."""
    c = confusion_at(labels, scores, threshold)
    total = c["tp"] + c["fp"] + c["tn"] + c["fn"]
    precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
    recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
    f1 = 2 * c["tp"] / (2 * c["tp"] + c["fp"] + c["fn"]) if c["tp"] + c["fp"] + c["fn"] else 0.0
    return {
        "acc": (c["tp"] + c["tn"]) / total,
        "f1": f1,
        "recall": recall,
        "precision": precision,
    }


def auprc_ratio(labels: np.ndarray, scores: np.ndarray) -> float:
    """BEELINE's AUPRC ratio: average precision divided by the positive fraction (random = 1)."""
    positives, negatives = _check_both_classes(labels)
    return aupr(labels, scores) / (positives / (positives + negatives))


def early_precision_ratio(labels: np.ndarray, scores: np.ndarray) -> float:
    """BEELINE's EPR: precision among the top-k scores (k = number of positives) over the positive fraction.

    Pairs tied with the k-th highest score are all included, as BEELINE does, so ties neither
    help nor hurt by their order.
    """
    labels = np.asarray(labels).ravel()
    positives, negatives = _check_both_classes(labels)
    scores = np.asarray(scores, dtype=np.float64).ravel()
    kth = np.sort(scores)[::-1][positives - 1]
    top = scores >= kth
    precision = np.count_nonzero(labels[top] == 1) / np.count_nonzero(top)
    return precision / (positives / (positives + negatives))


def evaluate(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """All summary metrics of one set of predictions.

    Returns ``auroc, aupr, auprc_ratio, epr`` (threshold-free) and ``acc, f1, recall,
    precision`` at ``threshold``, plus the threshold itself.
    """
    out = {
        "auroc": auroc(labels, scores),
        "aupr": aupr(labels, scores),
        "auprc_ratio": auprc_ratio(labels, scores),
        "epr": early_precision_ratio(labels, scores),
    }
    out.update(threshold_metrics(labels, scores, threshold))
    out["threshold"] = float(threshold)
    return out
