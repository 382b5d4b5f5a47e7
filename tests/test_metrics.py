"""deeptgi_rt.metrics: hand-computed values, scikit-learn agreement, BEELINE's EPR, target-wise AUROC,
group bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics as skm

from deeptgi_rt import metrics

# Ranked: P(.9) N(.8) P(.7) N(.6) N(.5) P(unlisted).
HAND_LABELS = np.array([1, 0, 1, 0, 0, 1])
HAND_SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.5, -np.inf])


def test_hand_computed_example():
    # AUROC: of 3 x 3 positive/negative pairs the positives win 3 + 2 + 0 = 5.
    assert metrics.auroc(HAND_LABELS, HAND_SCORES) == pytest.approx(5 / 9)
    # Average precision: precision 1, 2/3 and 3/6 at the three positives.
    assert metrics.average_precision(HAND_LABELS, HAND_SCORES) == pytest.approx((1 + 2 / 3 + 1 / 2) / 3)
    assert metrics.auprc_ratio(HAND_LABELS, HAND_SCORES) == pytest.approx((1 + 2 / 3 + 1 / 2) / 3 / 0.5)
    # EPR: k = 3, top 3 = .9 .8 .7 holds 2 true edges; density 3/6.
    assert metrics.early_precision_ratio(HAND_LABELS, HAND_SCORES) == pytest.approx((2 / 3) / 0.5)
    assert metrics.summary(HAND_LABELS, HAND_SCORES) == pytest.approx(
        {"auroc": 5 / 9, "average_precision": 13 / 18, "auprc_ratio": 13 / 9, "epr": 4 / 3}
    )


@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_scikit_learn_with_and_without_ties(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    scores = rng.integers(0, 6, 300).astype(float) if seed % 2 else rng.normal(size=300)
    assert metrics.auroc(labels, scores) == pytest.approx(skm.roc_auc_score(labels, scores), abs=1e-12)
    assert metrics.average_precision(labels, scores) == pytest.approx(
        skm.average_precision_score(labels, scores), abs=1e-12
    )
    fpr, tpr, _ = metrics.roc_curve(labels, scores)
    sk_fpr, sk_tpr, _ = skm.roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)


def test_epr_on_a_tiny_network_by_hand():
    # 2 TFs x 4 genes = 8 candidates, 3 true edges (density 3/8), so k = 3.
    # Scores: A->g1 .9 (true), A->g2 .8, A->g3 .8 (true), A->g4 .1, B->g1 .8, B->g2 .3 (true), ...
    labels = np.array([1, 0, 1, 0, 0, 1, 0, 0])
    scores = np.array([0.9, 0.8, 0.8, 0.1, 0.8, 0.3, 0.2, 0.0])
    # The 3rd highest score is .8, tied by three candidates: all four with score >= .8 are the top
    # set (as BEELINE keeps every edge at least the k-th weight); 2 of them are true.
    assert metrics.early_precision_ratio(labels, scores) == pytest.approx((2 / 4) / (3 / 8))
    # The order of tied candidates does not matter.
    order = np.array([4, 1, 2, 0, 3, 5, 6, 7])
    assert metrics.early_precision_ratio(labels[order], scores[order]) == pytest.approx((2 / 4) / (3 / 8))
    # Unlisted candidates (-inf) never enter the top set, even when fewer than k are listed.
    listed_two = np.array([0.9, 0.8, -np.inf, -np.inf, -np.inf, -np.inf, -np.inf, -np.inf])
    assert metrics.early_precision_ratio(labels, listed_two) == pytest.approx((1 / 2) / (3 / 8))
    assert metrics.early_precision_ratio(labels, np.full(8, -np.inf)) == 0.0


def test_target_wise_auroc_of_a_pure_target_score_is_exactly_half():
    rng = np.random.default_rng(0)
    targets = np.repeat(np.arange(40), 12)
    labels = rng.random(targets.size) < np.repeat(rng.random(40), 12)  # targets differ in degree
    degree_score = np.bincount(targets, weights=labels)[targets]  # the target's in-degree: knows degree only
    result = metrics.target_wise_auroc(labels, degree_score, targets, bootstrap=50, seed=1)
    assert metrics.auroc(labels, degree_score) > 0.6  # the global AUROC rewards it
    assert result.mean == 0.5 and result.low == 0.5 and result.high == 0.5
    assert result.targets == int(sum(0 < labels[targets == t].sum() < 12 for t in range(40)))


def test_target_wise_auroc_of_a_planted_tf_signal():
    # Every target: true TFs score 4 and 2, false TFs 3 and 1, so 3 of 4 pairs are ordered: 0.75.
    # A per-target offset (degree) changes the global AUROC but not the target-wise one.
    within_labels, within_scores = np.array([1, 1, 0, 0]), np.array([4.0, 2.0, 3.0, 1.0])
    labels = np.tile(within_labels, 30)
    targets = np.repeat(np.arange(30), 4)
    scores = np.tile(within_scores, 30) + 10.0 * targets
    # Plus two targets that cannot be evaluated: only true TFs / only false TFs.
    labels = np.r_[labels, 1, 1, 0, 0]
    scores = np.r_[scores, 0.0, 5.0, 2.0, 3.0]
    targets = np.r_[targets, 100, 100, 101, 101]
    result = metrics.target_wise_auroc(labels, scores, targets, bootstrap=20)
    assert result.mean == pytest.approx(0.75)
    assert result.targets == 30
    assert result.low == pytest.approx(0.75) and result.high == pytest.approx(0.75)
    assert metrics.target_wise_auroc([1, 1], [0.1, 0.2], ["a", "b"]).targets == 0


def _sparse_pairs(seed: int):
    """Labelled pairs of 30 TFs x 60 targets, about a third of the grid, TFs and targets
    differing in degree (an incomplete, unbalanced design, as cross-validation folds are)."""
    rng = np.random.default_rng(seed)
    tfs, targets = np.nonzero(rng.random((30, 60)) < 1 / 3)
    tf_hub, target_hub = rng.normal(size=30), rng.normal(size=60)
    labels = rng.random(tfs.size) < 1 / (1 + np.exp(-(tf_hub[tfs] + target_hub[targets])))
    return tfs, targets, labels, tf_hub, target_hub


def test_pair_specific_auroc_gives_exactly_half_to_any_tf_plus_target_rule():
    tfs, targets, labels, tf_hub, target_hub = _sparse_pairs(0)
    tf_degree = np.bincount(tfs, weights=labels)[tfs]
    # The TF's degree ranks a target's TFs, so plain target-wise AUROC rewards it; this does not.
    assert metrics.target_wise_auroc(labels, tf_degree, targets).mean > 0.6
    for additive in (tf_degree, 3.0 * tf_hub[tfs] - 2.0 * target_hub[targets] + 7.0, target_hub[targets]):
        result = metrics.pair_specific_auroc(labels, additive, tfs, targets, bootstrap=20)
        assert result.mean == 0.5 and result.low == 0.5 and result.high == 0.5
    assert np.all(metrics.additive_residual(tf_hub[tfs] + target_hub[targets], tfs, targets) == 0.0)


def test_pair_specific_auroc_sees_a_planted_interaction_through_hub_effects():
    tfs, targets, labels, tf_hub, target_hub = _sparse_pairs(1)
    hubs = 5.0 * tf_hub[tfs] + 5.0 * target_hub[targets]
    perfect = hubs + np.where(labels, 1.0, -1.0)  # the pair's own signal, under large hub effects
    noise = np.random.default_rng(2).normal(size=tfs.size)
    assert metrics.pair_specific_auroc(labels, perfect, tfs, targets).mean > 0.95
    assert metrics.pair_specific_auroc(labels, hubs - np.where(labels, 1.0, -1.0), tfs, targets).mean < 0.05
    assert abs(metrics.pair_specific_auroc(labels, hubs + noise, tfs, targets).mean - 0.5) < 0.1


def test_additive_residual_is_the_least_squares_fit():
    tfs, targets, _, _, _ = _sparse_pairs(3)
    scores = np.random.default_rng(4).normal(size=tfs.size)
    design = np.c_[np.eye(30)[tfs], np.eye(60)[targets]]
    fitted = design @ np.linalg.lstsq(design, scores, rcond=None)[0]
    assert np.allclose(metrics.additive_residual(scores, tfs, targets), scores - fitted, atol=1e-8)


def test_rank_logits_keep_order_and_ties_and_ignore_rescaling():
    scores = np.array([0.2, -np.inf, 0.9, 0.2, 5.0, -np.inf])
    got = metrics.rank_logits(scores)
    assert np.all(np.isfinite(got)) and got[0] == got[3] and got[1] == got[5]
    assert np.array_equal(np.argsort(got, kind="stable"), np.argsort(scores, kind="stable"))
    assert np.array_equal(metrics.rank_logits(np.exp(3 * scores)), got)
    # Mid-ranks 1.5, 1.5, 3.5, 3.5, 5, 6 of 6: quantiles (rank - 0.5) / 6, symmetric around 0.
    assert got[[1, 0, 2, 4]] == pytest.approx(np.log(np.array([1, 3, 4.5, 5.5]) / np.array([5, 3, 1.5, 0.5])))


def test_grouped_areas_match_scikit_learn_per_group():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 400)
    scores = rng.integers(0, 8, 400).astype(float)
    groups = rng.choice(["TF1", "TF2", "TF3", "TF4"], 400)
    areas = metrics.grouped_areas(labels, scores, groups)
    assert list(areas.groups) == ["TF1", "TF2", "TF3", "TF4"]
    for i, group in enumerate(areas.groups):
        inside = groups == group
        assert areas.auroc[i] == pytest.approx(skm.roc_auc_score(labels[inside], scores[inside]), abs=1e-12)
        assert areas.average_precision[i] == pytest.approx(
            skm.average_precision_score(labels[inside], scores[inside]), abs=1e-12
        )
        assert areas.positives[i] == labels[inside].sum()


def test_group_bootstrap_equals_explicit_resampling():
    rng = np.random.default_rng(5)
    groups = np.repeat(np.arange(7), 9)
    labels = rng.integers(0, 2, groups.size)
    scores = np.round(rng.normal(size=groups.size), 1)  # ties across groups
    # One resample: its interval is its value. Redraw the same groups and duplicate them explicitly.
    got = metrics.bootstrap_by_group(labels, scores, groups, resamples=1, seed=9)
    drawn = np.random.default_rng(9).integers(0, 7, 7)
    rows = np.concatenate([np.flatnonzero(groups == g) for g in drawn])
    expected = metrics.summary(labels[rows], scores[rows])
    for name, value in expected.items():
        assert got[name][0] == pytest.approx(value) and got[name][1] == pytest.approx(value)
    wide = metrics.bootstrap_by_group(labels, scores, groups, resamples=200, seed=0)
    assert wide["auroc"][0] < metrics.auroc(labels, scores) < wide["auroc"][1]
    assert wide == metrics.bootstrap_by_group(labels, scores, groups, resamples=200, seed=0, max_values=100)


def test_paired_difference_intervals_measure_both_rankings_on_the_same_resamples():
    rng = np.random.default_rng(6)
    groups = np.repeat(np.arange(7), 9)
    labels = rng.integers(0, 2, groups.size)
    scores = rng.normal(size=groups.size) + labels
    reference = rng.normal(size=groups.size)
    # One resample: the interval is the difference of the two metrics on the same redrawn groups.
    got = metrics.paired_difference_intervals(labels, scores, reference, groups, resamples=1, seed=3)
    drawn = np.random.default_rng(3).integers(0, 7, 7)
    rows = np.concatenate([np.flatnonzero(groups == g) for g in drawn])
    for name, value in metrics.summary(labels[rows], scores[rows]).items():
        expected = value - metrics.summary(labels[rows], reference[rows])[name]
        assert got[name][0] == pytest.approx(expected) and got[name][1] == pytest.approx(expected)
    # A ranking against itself differs by exactly 0 on every resample.
    same = metrics.paired_difference_intervals(labels, scores, scores, groups, resamples=50, seed=0)
    assert all(interval == (0.0, 0.0) for interval in same.values())


def test_training_metrics_are_the_runtime_implementation():
    import deeptgi_train.metrics as train_metrics

    assert train_metrics.auroc is metrics.auroc
    assert train_metrics.aupr is metrics.average_precision
    assert train_metrics.early_precision_ratio is metrics.early_precision_ratio
    assert train_metrics.target_wise_auroc is metrics.target_wise_auroc


def test_rejects_nan_and_one_class():
    with pytest.raises(ValueError, match="NaN"):
        metrics.auroc([1, 0], [0.5, np.nan])
    with pytest.raises(ValueError, match="both"):
        metrics.early_precision_ratio([1, 1], [0.5, 0.2])
