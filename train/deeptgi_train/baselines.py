"""Reference scores beside the model: label-only rules, and simple methods on the model's own inputs.

Label-only rules: how much of a cross-validation can be won without any expression.

A label file's pairs are not drawn at random from the genome. Known interactions pile up on
hub targets, and sampled non-interactions may reuse a few targets, so under the random and
TF-held-out protocols a test pair's target often recurs in training with a telling label
history. These rules score pairs from the training labels alone; a model is worth what it adds
over them. Under the target-held-out protocol every test target is new and both give 0.5.

Expression baselines (:func:`expression_baseline_scores`): |PCC| of the pair, logistic
regression and gradient boosting (scikit-learn) on the concatenated, flattened TF and target
feature rows, the very inputs the network sees. ``deeptgi-train cv`` runs gradient boosting on
every fold beside the model and ``benchmarks/accuracy.py`` all of them, through this one
implementation.
"""

from __future__ import annotations

import numpy as np

from .metrics import auroc

# The reference rules, in report order, and the score each gives a target without training pairs.
UNSEEN_SCORES = {"target_label_rate": 0.5, "unseen_target_as_interaction": 1.0}
LABEL_ONLY_RULES = tuple(UNSEEN_SCORES)
LABEL_ONLY_TITLES = {
    "target_label_rate": "target label rate",
    "unseen_target_as_interaction": "unseen target = interaction",
}
# Expression baselines, by the short names benchmarks/accuracy.py uses.
EXPRESSION_BASELINES = ("pcc", "logreg", "hgb")
BASELINE_TITLES = {"pcc": "|PCC|", "logreg": "logistic regression", "hgb": "gradient boosting"}


def target_label_rate(
    train_targets: np.ndarray, train_labels: np.ndarray, test_targets: np.ndarray, *, n_genes: int, unseen: float = 0.5
) -> np.ndarray:
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


def label_only_scores(
    rule: str, gene_idx: np.ndarray, labels: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray
) -> np.ndarray:
    """Scores (float64 ``[test pairs]``) of one rule of :data:`LABEL_ONLY_RULES`, fitted on the training labels.

    Args:
        gene_idx: int ``[pairs]`` target index of every pair of the data set.
        labels: 0/1 ``[pairs]``.
        train_idx, test_idx: int pair indices of the training and the test part.
    """
    return target_label_rate(
        gene_idx[train_idx],
        labels[train_idx],
        gene_idx[test_idx],
        n_genes=int(gene_idx.max()) + 1,
        unseen=UNSEEN_SCORES[rule],
    )


def label_only_auroc(
    gene_idx: np.ndarray, labels: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray
) -> dict[str, float]:
    """Test AUROC of each rule in :data:`LABEL_ONLY_RULES` (arguments as :func:`label_only_scores`)."""
    return {
        rule: auroc(labels[test_idx], label_only_scores(rule, gene_idx, labels, train_idx, test_idx))
        for rule in LABEL_ONLY_RULES
    }


def expression_baseline_scores(
    method: str, dataset, train_idx: np.ndarray, test_idx: np.ndarray, *, seed: int = 0, threads: int | None = None
) -> np.ndarray:
    """Scores (float64 ``[test pairs]``) of an expression baseline fitted on ``train_idx``.

    Args:
        method: one of :data:`EXPRESSION_BASELINES`: ``pcc`` (|PCC| of TF and target, nothing
            fitted), ``logreg`` (standardized logistic regression, C = 0.1) or ``hgb``
            (scikit-learn's HistGradientBoostingClassifier with its defaults, ``random_state``
            ``seed``).
        dataset: a :class:`~deeptgi_train.data.PairDataset`.
        train_idx, test_idx: int pair indices of the training and the test part.
        threads: cap on the BLAS / OpenMP threads scikit-learn uses (None: no cap). Without it
            gradient boosting's OpenMP pool takes every core of the machine.
    """
    if method == "pcc":
        from .data import pair_pcc

        return np.abs(np.nan_to_num(pair_pcc(dataset)[test_idx])).astype(np.float64)
    if method not in EXPRESSION_BASELINES:
        raise ValueError(f"unknown baseline {method!r} (choose from {', '.join(EXPRESSION_BASELINES)})")
    import contextlib

    from threadpoolctl import threadpool_limits

    x_train, x_test = dataset.flat_inputs(train_idx), dataset.flat_inputs(test_idx)
    y_train = dataset.labels[train_idx].astype(int)
    if method == "logreg":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
    else:
        from sklearn.ensemble import HistGradientBoostingClassifier

        model = HistGradientBoostingClassifier(random_state=seed)
    with threadpool_limits(limits=threads) if threads else contextlib.nullcontext():
        model.fit(x_train, y_train)
        return model.predict_proba(x_test)[:, 1].astype(np.float64)
