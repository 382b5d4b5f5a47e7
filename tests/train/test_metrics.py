"""Metrics agree with scikit-learn's definitions, including tied scores."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from deeptgi_train import metrics

LABELS = np.array([1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 0, 1])
# Ties across classes (0.8, 0.4, 0.35) and within a class (0.1).
SCORES = np.array([0.9, 0.8, 0.8, 0.4, 0.4, 0.35, 0.35, 0.2, 0.1, 0.6, 0.1, 0.05])


def _random_case(seed: int):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=200)
    labels[:2] = [0, 1]
    # Rounded scores produce many ties.
    scores = np.round(rng.random(200) * 0.5 + labels * rng.random(200) * 0.5, 2)
    return labels, scores


@pytest.mark.parametrize("case", ["fixed", 1, 2, 3])
def test_auroc_and_average_precision_equal_sklearn(case):
    labels, scores = (LABELS, SCORES) if case == "fixed" else _random_case(case)
    assert metrics.auroc(labels, scores) == pytest.approx(skm.roc_auc_score(labels, scores), abs=1e-12)
    assert metrics.aupr(labels, scores) == pytest.approx(skm.average_precision_score(labels, scores), abs=1e-12)


def test_roc_and_pr_curves_pass_through_sklearn_points():
    fpr, tpr, thresholds = metrics.roc_curve(LABELS, SCORES)
    sk_fpr, sk_tpr, _ = skm.roc_curve(LABELS, SCORES, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    recall, precision, _ = metrics.pr_curve(LABELS, SCORES)
    sk_precision, sk_recall, _ = skm.precision_recall_curve(LABELS, SCORES, drop_intermediate=False)
    np.testing.assert_allclose(recall, sk_recall[::-1])
    np.testing.assert_allclose(precision, sk_precision[::-1])


@pytest.mark.parametrize("threshold", [0.05, 0.35, 0.4, 0.6, 0.8, 0.95])
def test_threshold_metrics_equal_sklearn(threshold):
    predicted = (SCORES >= threshold).astype(int)
    got = metrics.threshold_metrics(LABELS, SCORES, threshold)
    assert got["acc"] == pytest.approx(skm.accuracy_score(LABELS, predicted))
    assert got["f1"] == pytest.approx(skm.f1_score(LABELS, predicted, zero_division=0))
    assert got["recall"] == pytest.approx(skm.recall_score(LABELS, predicted, zero_division=0))
    assert got["precision"] == pytest.approx(skm.precision_score(LABELS, predicted, zero_division=0))


def test_youden_threshold_on_hand_made_roc():
    # Thresholds 0.9 .. 0.1; J = TPR - FPR: 0.9 -> 1/3, 0.7 -> 2/3, 0.6 -> 2/3 - 1/3, 0.4 -> 1 - 1/3, 0.1 -> 0.
    labels = np.array([1, 1, 0, 1, 0, 0])
    scores = np.array([0.9, 0.7, 0.6, 0.4, 0.3, 0.1])
    # J at 0.4 is 1 - 1/3 = 2/3, equal to J at 0.7; the higher threshold wins ties.
    assert metrics.youden_threshold(labels, scores) == pytest.approx(0.7)
    labels = np.array([1, 1, 0, 1, 1, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    # At 0.5: TPR 1, FPR 1/4 -> J = 3/4, the unique maximum.
    assert metrics.youden_threshold(labels, scores) == pytest.approx(0.5)


def test_youden_threshold_matches_sklearn_roc_argmax():
    labels, scores = _random_case(7)
    fpr, tpr, thresholds = skm.roc_curve(labels, scores)
    best = thresholds[1:][np.argmax((tpr - fpr)[1:])]
    assert metrics.youden_threshold(labels, scores) == pytest.approx(best)


def test_beeline_ratios():
    labels = np.array([1, 0, 0, 0, 1, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    # Top 2 (k = positives) = {0.9 (pos), 0.8 (neg)}: precision 1/2 over positive fraction 1/4.
    assert metrics.early_precision_ratio(labels, scores) == pytest.approx(2.0)
    assert metrics.auprc_ratio(labels, scores) == pytest.approx(skm.average_precision_score(labels, scores) / 0.25)


def test_early_precision_counts_all_pairs_tied_at_the_kth_score():
    labels = np.array([1, 0, 1, 0, 0, 0])
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.1, 0.0])
    # k = 2; the 2nd score 0.5 is shared by three pairs, so the top set has 4 pairs, 2 positive.
    assert metrics.early_precision_ratio(labels, scores) == pytest.approx((2 / 4) / (2 / 6))


def test_metrics_reject_single_class():
    with pytest.raises(ValueError):
        metrics.auroc(np.ones(4), np.arange(4.0))
