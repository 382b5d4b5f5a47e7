"""Label-only reference rules: the target label rate on hand-made pairs, and their place in cv."""

from __future__ import annotations

import numpy as np

from deeptgi_train.baselines import LABEL_ONLY_RULES, label_only_auroc, target_label_rate
from deeptgi_train.configs import model_config, train_config
from deeptgi_train.cv import cv_splits, run_cv
from deeptgi_train.metrics import auroc

from .test_trainer import _dataset


def test_target_label_rate_is_the_smoothed_positive_fraction_of_each_target():
    train_targets = np.array([0, 0, 0, 1, 1, 2])
    train_labels = np.array([1, 1, 0, 0, 0, 1])
    rate = target_label_rate(train_targets, train_labels, np.array([0, 1, 2, 3]), n_genes=4)
    # (positives + 0.5) / (pairs + 1); gene 3 never appears in training.
    np.testing.assert_allclose(rate, [2.5 / 4, 0.5 / 3, 1.5 / 2, 0.5])


def test_a_target_seen_only_as_an_interaction_outranks_an_unseen_target():
    rate = target_label_rate(np.array([1, 1]), np.array([1, 1]), np.array([0, 1]), n_genes=2)
    assert rate[0] == 0.5 and rate[1] > 0.5


def test_unseen_as_interaction_changes_only_the_targets_without_training_pairs():
    train_targets, train_labels = np.array([0, 0, 1]), np.array([1, 0, 0])
    rate = target_label_rate(train_targets, train_labels, np.array([0, 1, 2]), n_genes=3)
    unseen = target_label_rate(train_targets, train_labels, np.array([0, 1, 2]), n_genes=3, unseen=1.0)
    np.testing.assert_allclose(unseen[:2], rate[:2])
    assert rate[2] == 0.5 and unseen[2] == 1.0


def test_label_only_auroc_scores_each_rule_on_the_test_pairs():
    # Targets 0 and 1 recur with a telling history; target 2 and 3 first appear in the test part.
    gene_idx = np.array([0, 0, 0, 1, 1, 1, 0, 1, 2, 3])
    labels = np.array([1, 1, 0, 0, 0, 1, 1, 0, 1, 0])
    train, test = np.arange(6), np.arange(6, 10)
    figures = label_only_auroc(gene_idx, labels, train, test)
    assert list(figures) == list(LABEL_ONLY_RULES)
    # rate: target 0 -> 2.5/4, target 1 -> 1.5/4, unseen -> 0.5 (label 1) and 0.5 (label 0).
    assert figures["target_label_rate"] == auroc(labels[test], np.array([2.5 / 4, 1.5 / 4, 0.5, 0.5]))
    assert figures["unseen_target_as_interaction"] == auroc(labels[test], np.array([2.5 / 4, 1.5 / 4, 1.0, 1.0]))


def test_cross_validation_reports_the_label_only_rules_of_each_fold():
    dataset = _dataset()
    config = train_config("tiny", threads=1, epochs=1)
    for protocol in ("random", "gene"):
        result = run_cv(dataset, model_config("tiny"), config, protocol=protocol, folds=2, seed=3)
        splits = list(cv_splits(dataset, protocol=protocol, folds=2, seed=3))
        for fold, split in zip(result.folds, splits):
            expected = label_only_auroc(
                dataset.gene_idx, dataset.labels, np.r_[split.fit, split.validation], split.test
            )
            assert fold.label_only == expected
            if protocol == "gene":
                # No test target occurs in training, so every test pair gets the same score.
                assert set(expected.values()) == {0.5}
        summary = result.label_only_summary()
        assert summary["target_label_rate"]["mean"] == np.mean(
            [f.label_only["target_label_rate"] for f in result.folds]
        )
