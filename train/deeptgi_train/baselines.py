"""Label-only reference scores: how much of a cross-validation can be won without any expression.

A label file's pairs are not drawn at random from the genome. Known interactions pile up on
hub targets, and sampled non-interactions may reuse a few targets, so under the random and
TF-held-out protocols a test pair's target often recurs in training with a telling label
history. These rules score pairs from the training labels alone; a model is worth what it adds
over them. Under the target-held-out protocol every test target is new and both give 0.5.
"""

from __future__ import annotations

import numpy as np

from .metrics import auroc

# The reference rules, in report order, and the score each gives a target without training pairs.
UNSEEN_SCORES = {"target_label_rate": 0.5, "unseen_target_as_interaction": 1.0}
LABEL_ONLY_RULES = tuple(UNSEEN_SCORES)
LABEL_ONLY_TITLES = {"target_label_rate": "target label rate",
                     "unseen_target_as_interaction": "unseen target = interaction"}


def target_label_rate(train_targets: np.ndarray, train_labels: np.ndarray, test_targets: np.ndarray, *,
                      n_genes: int, unseen: float = 0.5) -> np.ndarray:
    """Per test pair, the smoothed fraction of its target's training pairs that are interactions.

    Args:
        train_targets, test_targets: int ``[pairs]`` indices of the pairs' targets among
            ``n_genes`` entities.
        train_labels: 0/1 ``[train pairs]``.
        unseen: the score of a target without training pairs (0.5 is what the smoothing gives;
            1.0 calls every unfamiliar target an interaction).

    Returns:
        float64 ``[test pairs]``: ``(positives + 0.5) / (pairs + 1)`` for targets with training
        pairs, ``unseen`` for the others.
    """
    positives = np.bincount(train_targets, weights=train_labels, minlength=n_genes)
    pairs = np.bincount(train_targets, minlength=n_genes)
    rate = np.where(pairs > 0, (positives + 0.5) / (pairs + 1.0), unseen)
    return rate[test_targets]


def label_only_scores(rule: str, gene_idx: np.ndarray, labels: np.ndarray, train_idx: np.ndarray,
                      test_idx: np.ndarray) -> np.ndarray:
    """Scores (float64 ``[test pairs]``) of one rule of :data:`LABEL_ONLY_RULES`, fitted on the training labels.

    Args:
        gene_idx: int ``[pairs]`` target index of every pair of the data set.
        labels: 0/1 ``[pairs]``.
        train_idx, test_idx: int pair indices of the training and the test part.
    """
    return target_label_rate(gene_idx[train_idx], labels[train_idx], gene_idx[test_idx],
                             n_genes=int(gene_idx.max()) + 1, unseen=UNSEEN_SCORES[rule])


def label_only_auroc(gene_idx: np.ndarray, labels: np.ndarray, train_idx: np.ndarray,
                     test_idx: np.ndarray) -> dict[str, float]:
    """Test AUROC of each rule in :data:`LABEL_ONLY_RULES` (arguments as :func:`label_only_scores`)."""
    return {rule: auroc(labels[test_idx], label_only_scores(rule, gene_idx, labels, train_idx, test_idx))
            for rule in LABEL_ONLY_RULES}
