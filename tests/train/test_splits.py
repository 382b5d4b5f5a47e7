"""Cross-validation protocols: stratification, group separation, holdouts, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from deeptgi_train.splits import fold_assignment, holdout, kfold


def _pairs(seed=0, n=400):
    rng = np.random.default_rng(seed)
    tfs = np.array([f"T{i}" for i in rng.integers(0, 20, n)], dtype=object)
    targets = np.array([f"G{i}" for i in rng.integers(0, 60, n)], dtype=object)
    labels = (rng.random(n) < 0.3).astype(np.int8)
    return labels, tfs, targets


def test_random_split_is_stratified_and_a_partition():
    labels, tfs, targets = _pairs()
    seen = []
    for train, test in kfold(labels, tfs, targets, protocol="random", folds=5, seed=1):
        assert not set(train) & set(test)
        seen.extend(test)
        assert abs(labels[test].mean() - labels.mean()) < 0.02
        assert abs(len(test) - len(labels) / 5) <= 1
    assert sorted(seen) == list(range(len(labels)))


@pytest.mark.parametrize("protocol, column", [("tf", 1), ("gene", 2)])
def test_group_split_keeps_test_groups_out_of_training(protocol, column):
    data = _pairs()
    groups = data[column]
    sizes = []
    for train, test in kfold(*data, protocol=protocol, folds=4, seed=2):
        assert not set(groups[train]) & set(groups[test])
        sizes.append(len(test))
    assert max(sizes) - min(sizes) < 0.25 * len(groups)


def test_holdout_follows_protocol_and_is_disjoint():
    labels, tfs, targets = _pairs()
    train, _ = next(kfold(labels, tfs, targets, protocol="tf", folds=5, seed=0))
    fit, validation = holdout(train, labels, tfs, targets, protocol="tf", fraction=0.2, seed=0)
    assert sorted(np.r_[fit, validation]) == sorted(train)
    assert not set(tfs[fit]) & set(tfs[validation])
    assert set(labels[validation]) == {0, 1}


def test_splits_are_deterministic_for_a_seed():
    data = _pairs()
    a = fold_assignment(*data, protocol="random", folds=5, seed=7)
    b = fold_assignment(*data, protocol="random", folds=5, seed=7)
    c = fold_assignment(*data, protocol="random", folds=5, seed=8)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("protocol, column", [("tf", 1), ("gene", 2)])
def test_group_holdout_takes_whole_groups_near_the_fraction(protocol, column):
    data = _pairs(seed=4)
    groups = data[column]
    idx = np.arange(len(groups))
    fit, validation = holdout(idx, *data, protocol=protocol, fraction=0.2, seed=1)
    assert not set(groups[fit]) & set(groups[validation])
    assert 0.05 * len(idx) < len(validation) < 0.35 * len(idx)
