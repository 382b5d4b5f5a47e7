"""CVResult's pair-specific AUROC over folds, on synthetic folds."""

import numpy as np

from deeptgi_train.cv import CVResult, FoldResult


def _fold_with_scores(
    fold: int, logits: np.ndarray, labels: np.ndarray, tfs: np.ndarray, targets: np.ndarray
) -> FoldResult:
    scores = 1.0 / (1.0 + np.exp(-logits))  # float64: an additive logit stays additive to rounding
    return FoldResult(
        fold=fold,
        n_fit=0,
        n_validation=0,
        n_test=len(labels),
        best_epoch=1,
        seconds=0.0,
        test={},
        test_fold_threshold={},
        validation={},
        label_only={},
        labels=labels.astype(np.int8),
        scores=scores,
        test_tfs=tfs.astype(object),
        test_targets=targets.astype(object),
    )


def test_pair_specific_summary_removes_each_folds_own_tf_and_target_effects():
    rng = np.random.default_rng(0)
    folds = []
    for fold in (1, 2):
        tf_rows, target_rows = np.nonzero(rng.random((12, 30)) < 0.4)
        labels = rng.random(tf_rows.size) < 0.4
        tfs, targets = np.char.add("TF", tf_rows.astype(str)), np.char.add("g", target_rows.astype(str))
        # Each fold's network has its own hub effects (the same names, different sizes).
        hubs = 1.5 * fold * rng.normal(size=12)[tf_rows] + 1.0 * rng.normal(size=30)[target_rows]
        folds.append((fold, hubs, labels, tfs, targets))
    hubs_only = CVResult("gene", [_fold_with_scores(f, h, y, t, g) for f, h, y, t, g in folds], {})
    summary = hubs_only.pair_specific_summary(bootstrap=10)["model"]
    assert summary.mean == 0.5 and summary.high == 0.5 and summary.targets > 20
    # Plain target-wise AUROC credits the TF hub effect wherever it happens to follow the labels.
    assert hubs_only.target_wise_summary(bootstrap=0)["model"].mean != 0.5
    signal = CVResult(
        "gene", [_fold_with_scores(f, h + np.where(y, 1.5, -1.5), y, t, g) for f, h, y, t, g in folds], {}
    )
    assert signal.pair_specific_summary(bootstrap=10)["model"].mean > 0.9
