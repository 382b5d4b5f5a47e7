"""Degree-matched negatives: the matching property, and that only the fitted pairs change."""

from __future__ import annotations

import numpy as np
import pytest

from deeptgi_train.configs import model_config, train_config
from deeptgi_train.cv import cv_splits, run_cv, train_fold
from deeptgi_train.data import PairDataset
from deeptgi_train.labels import LabelledPairs, add_negatives, degree_matched_negatives
from deeptgi_train.negatives import degree_matched_fit


def _hub_network(seed=0, n_tfs=30, n_genes=200, edges_per_tf=5):
    """Edges whose targets follow a steep power law (a few hubs), as in curated networks."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_genes - n_tfs + 1) ** 0.8
    tfs, targets = [], []
    for tf in range(n_tfs):
        chosen = rng.choice(np.arange(n_tfs, n_genes), size=edges_per_tf, replace=False, p=weights / weights.sum())
        tfs += [tf] * edges_per_tf
        targets += chosen.tolist()
    return np.array(tfs), np.array(targets)


def _draw(tfs, targets, seed=0, forbidden=None):
    wanted = dict(zip(*[a.tolist() for a in np.unique(tfs, return_counts=True)]))
    forbidden = set(zip(tfs.tolist(), targets.tolist())) if forbidden is None else forbidden
    return degree_matched_negatives(tfs, targets, wanted, forbidden, seed=seed)


def test_every_target_occurs_among_negatives_as_often_as_among_positives():
    tfs, targets = _hub_network()
    neg_tfs, neg_targets = _draw(tfs, targets)
    # Per TF as many negatives as edges; here (sparse enough) every target's count matches exactly.
    np.testing.assert_array_equal(np.bincount(neg_tfs, minlength=30), np.bincount(tfs, minlength=30))
    np.testing.assert_array_equal(np.bincount(neg_targets, minlength=200), np.bincount(targets, minlength=200))
    # Uniform negatives (what "balanced" draws) would be far off on the hubs.
    assert np.bincount(targets).max() >= 8


def test_drawn_pairs_are_new_distinct_non_self_pairs_and_seeded():
    tfs, targets = _hub_network()
    # Forbid a further set of labelled pairs, as test pairs are in cross-validation.
    extra = {(tf, target) for tf in range(30) for target in range(30, 40)}
    forbidden = set(zip(tfs.tolist(), targets.tolist())) | extra
    neg_tfs, neg_targets = _draw(tfs, targets, seed=3, forbidden=forbidden)
    pairs = list(zip(neg_tfs.tolist(), neg_targets.tolist()))
    assert len(set(pairs)) == len(pairs)
    assert not set(pairs) & forbidden
    assert all(tf != target for tf, target in pairs)
    assert set(neg_targets.tolist()) <= set(targets.tolist())
    again = _draw(tfs, targets, seed=3, forbidden=forbidden)
    np.testing.assert_array_equal(again[1], neg_targets)
    assert any(
        not np.array_equal(_draw(tfs, targets, seed=s, forbidden=forbidden)[1], neg_targets) for s in range(4, 8)
    )


def test_a_hub_targeted_by_almost_every_tf_is_matched_as_far_as_the_data_allow():
    # Target 10 is an edge of 9 of 10 TFs: only one TF can take it as a negative.
    tfs = np.array([t for t in range(10) for _ in range(3)])
    targets = np.array([10 if (t < 9 and k == 0) else 11 + (t * 3 + k) % 20 for t in range(10) for k in range(3)])
    neg_tfs, neg_targets = _draw(tfs, targets)
    assert np.count_nonzero(neg_targets == 10) == 1
    # Each TF still gets its full count, filled by the global shares of the other targets.
    np.testing.assert_array_equal(np.bincount(neg_tfs, minlength=10), np.bincount(tfs, minlength=10))


def test_add_negatives_degree_matched_keeps_labelled_files_and_balances_positives_only_ones():
    genes = [f"G{i}" for i in range(12)]
    labelled = LabelledPairs(
        tfs=["G0", "G0", "G1"], targets=["G2", "G3", "G2"], labels=np.array([1, 0, 1], dtype=np.int8), source="l.csv"
    )
    assert add_negatives(labelled, genes, "degree-matched") is labelled
    edges = LabelledPairs(
        tfs=["G0", "G0", "G1"],
        targets=["G2", "G3", "G2"],
        labels=np.ones(3, dtype=np.int8),
        source="e.csv",
        had_labels=False,
    )
    matched = add_negatives(edges, genes, "degree-matched", seed=5)
    balanced = add_negatives(edges, genes, "balanced", seed=5)
    assert matched.targets == balanced.targets and matched.labels.tolist() == balanced.labels.tolist()


def _pair_dataset(seed=0, n_tfs=20, n_genes=120):
    """A labelled set of the hub kind, with uniform negatives (as --negatives balanced draws)."""
    rng = np.random.default_rng(seed)
    tfs, targets = _hub_network(seed, n_tfs=n_tfs, n_genes=n_genes, edges_per_tf=6)
    positives = set(zip(tfs.tolist(), targets.tolist()))
    neg = []
    for tf in range(n_tfs):
        choices = [g for g in range(n_tfs, n_genes) if (tf, g) not in positives]
        neg += [(tf, g) for g in rng.choice(choices, size=6, replace=False).tolist()]
    tf_idx = np.r_[tfs, [p[0] for p in neg]].astype(np.int64)
    gene_idx = np.r_[targets, [p[1] for p in neg]].astype(np.int64)
    labels = np.r_[np.ones(len(tfs)), np.zeros(len(neg))].astype(np.float32)
    features = rng.uniform(-1, 1, size=(n_genes, 1, 16)).astype(np.float32)
    return PairDataset(
        features=features,
        entities=[f"g{i}" for i in range(n_genes)],
        tf_idx=tf_idx,
        gene_idx=gene_idx,
        labels=labels,
        feature_genes=[f"f{i}" for i in range(16)],
    )


@pytest.mark.parametrize("protocol", ["random", "tf", "gene"])
def test_only_the_fitted_negatives_change_and_held_out_entities_stay_out(protocol):
    dataset = _pair_dataset()
    split = next(iter(cv_splits(dataset, protocol=protocol, folds=4, seed=1)))
    extended, fit_idx = degree_matched_fit(dataset, split.fit, seed=2)
    n = len(dataset)
    # The original pairs keep their indices and labels: validation and test pairs are unchanged.
    np.testing.assert_array_equal(extended.tf_idx[:n], dataset.tf_idx)
    np.testing.assert_array_equal(extended.gene_idx[:n], dataset.gene_idx)
    np.testing.assert_array_equal(extended.labels[:n], dataset.labels)
    assert extended.features is dataset.features
    fit_positives = split.fit[dataset.labels[split.fit] == 1]
    np.testing.assert_array_equal(np.sort(fit_idx[extended.labels[fit_idx] == 1]), np.sort(fit_positives))
    drawn = fit_idx[fit_idx >= n]
    assert np.all(extended.labels[drawn] == 0) and drawn.size == fit_positives.size
    labelled = set(zip(dataset.tf_idx.tolist(), dataset.gene_idx.tolist()))
    assert not set(zip(extended.tf_idx[drawn].tolist(), extended.gene_idx[drawn].tolist())) & labelled
    held_out = np.r_[split.validation, split.test]
    if protocol == "tf":
        assert not set(extended.tf_idx[drawn]) & set(dataset.tf_idx[held_out])
    if protocol == "gene":
        assert not set(extended.gene_idx[drawn]) & set(dataset.gene_idx[held_out])
    # Target shares of the fitted pairs now match between the classes (uniform ones did not).
    positives_per_target = np.bincount(dataset.gene_idx[fit_positives], minlength=len(dataset.entities))
    drawn_per_target = np.bincount(extended.gene_idx[drawn], minlength=len(dataset.entities))
    before = np.bincount(dataset.gene_idx[split.fit[dataset.labels[split.fit] == 0]], minlength=len(dataset.entities))
    assert np.abs(drawn_per_target - positives_per_target).sum() < np.abs(before - positives_per_target).sum() / 4


def test_cv_with_degree_matched_negatives_tests_the_same_pairs_as_without():
    dataset = _pair_dataset()
    train = train_config("tiny", threads=1, epochs=1)
    kwargs = dict(protocol="tf", folds=3, seed=0, baselines=(), crossfit=1)
    plain = run_cv(dataset, model_config("tiny"), train, **kwargs)
    matched = run_cv(dataset, model_config("tiny"), train, degree_matched=True, **kwargs)
    assert matched.settings["degree_matched_negatives"] is True
    for a, b in zip(plain.folds, matched.folds):
        np.testing.assert_array_equal(a.test_tfs, b.test_tfs)
        np.testing.assert_array_equal(a.test_targets, b.test_targets)
        np.testing.assert_array_equal(a.labels, b.labels)
        assert a.label_only == b.label_only and a.n_validation == b.n_validation
    # The fitted pairs did change: the networks score the same test pairs differently.
    assert any(not np.array_equal(a.scores, b.scores) for a, b in zip(plain.folds, matched.folds))


def test_train_fold_refuses_degree_matched_crossfit():
    from deeptgi_rt.errors import InputError

    dataset = _pair_dataset()
    split = next(iter(cv_splits(dataset, protocol="random", folds=3, seed=0)))
    with pytest.raises(InputError, match="degree-matched"):
        train_fold(
            dataset,
            split,
            model_config("tiny"),
            train_config("tiny", threads=1, epochs=1),
            protocol="random",
            seed=0,
            crossfit=2,
            degree_matched=True,
        )
