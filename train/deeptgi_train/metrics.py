"""Classification metrics of trained models: the threshold-based ones, over the runtime's ranking metrics.

The ranking metrics (ROC/PR curves, AUROC, average precision, AUPRC ratio, EPR, target-wise
AUROC) live in :mod:`deeptgi_rt.metrics`, the project's one implementation; they are re-exported
here under their training-side names (``aupr`` = average precision). Every function takes
``labels`` (0/1, any integer or float dtype, ``[n]``) and ``scores`` (float ``[n]``, higher =
more likely an interaction).
"""

from __future__ import annotations

import numpy as np

from deeptgi_rt.metrics import (  # noqa: F401  (re-exported)
    auprc_ratio,
    auroc,
    average_precision,
    early_precision_ratio,
    pr_curve,
    roc_curve,
    target_wise_auroc,
)

aupr = average_precision


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
