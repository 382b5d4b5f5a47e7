"""Cross-fitted ensembles: out-of-fold validation scores, shared input statistics, the averaged model."""

from __future__ import annotations

import numpy as np
import pytest

from deeptgi_rt.errors import InputError
from deeptgi_train.configs import model_config, train_config
from deeptgi_train.crossfit import train_crossfit
from deeptgi_train.cv import default_crossfit, run_cv
from deeptgi_train.splits import kfold
from deeptgi_train.trainer import predict

from .test_trainer import _dataset


def _crossfit(dataset, train_idx, parts=3, seed=5, protocol="random", **overrides):
    config = train_config("tiny", threads=1, **{"epochs": 3, **overrides})
    return train_crossfit(dataset, train_idx, model_config("tiny"), config, protocol=protocol, parts=parts, seed=seed)


def test_every_training_pair_is_scored_by_the_one_member_that_did_not_fit_it():
    dataset = _dataset()
    train_idx = np.arange(200)
    result = _crossfit(dataset, train_idx)
    np.testing.assert_array_equal(result.validation_idx, train_idx)
    assert len(result.model.members) == 3 and len(result.member_epochs) == 3
    parts = list(
        kfold(
            dataset.labels[train_idx],
            dataset.pair_tfs()[train_idx],
            dataset.pair_targets()[train_idx],
            protocol="random",
            folds=3,
            seed=5,
        )
    )
    held_out = np.concatenate([validation for _, validation in parts])
    np.testing.assert_array_equal(np.sort(held_out), np.arange(200))  # each pair out-of-fold exactly once
    for member, (_, validation) in zip(result.model.members, parts):
        np.testing.assert_allclose(
            predict(member, dataset, train_idx[validation]), result.validation_scores[validation], atol=1e-6
        )


def test_the_ensemble_averages_member_logits_over_shared_training_statistics():
    import torch

    dataset = _dataset()
    dataset.features[30:] += 0.5  # entities outside the training pairs would shift the statistics
    train_idx = np.flatnonzero(dataset.gene_idx < 30)
    result = _crossfit(dataset, train_idx, parts=2)
    entities = np.unique(np.r_[dataset.tf_idx[train_idx], dataset.gene_idx[train_idx]])
    expected = np.arctanh(np.clip(dataset.features[entities], -0.999, 0.999)).mean(axis=0)
    for member in result.model.members:
        np.testing.assert_allclose(member.input_transform.mean.numpy(), expected, atol=1e-5)
    tf = torch.from_numpy(dataset.features[dataset.tf_idx[:50]])
    gene = torch.from_numpy(dataset.features[dataset.gene_idx[:50]])
    with torch.no_grad():
        members = torch.stack([member(tf, gene) for member in result.model.members])
        torch.testing.assert_close(result.model(tf, gene), members.mean(dim=0))
    assert not torch.allclose(members[0], members[1])


def test_crossfit_is_deterministic_for_a_seed_and_differs_across_seeds():
    dataset = _dataset()
    train_idx = np.arange(200)
    first, again, other = (_crossfit(dataset, train_idx, seed=seed) for seed in (5, 5, 6))
    np.testing.assert_array_equal(first.validation_scores, again.validation_scores)
    assert not np.array_equal(first.validation_scores, other.validation_scores)


def test_cross_validation_with_crossfit_validates_out_of_fold_on_every_training_pair():
    dataset = _dataset()
    result = run_cv(
        dataset,
        model_config("tiny"),
        train_config("tiny", threads=1, epochs=2),
        protocol="tf",
        folds=2,
        seed=3,
        crossfit=2,
    )
    assert result.settings["crossfit"] == 2
    for fold in result.folds:
        assert fold.n_validation + fold.n_test == len(dataset) and fold.n_fit == fold.n_validation
        assert 0.0 <= fold.test["auroc"] <= 1.0


@pytest.mark.parametrize("parts, members, message", [(1, 1, "--crossfit 1"), (3, 2, "--members 2")])
def test_too_few_parts_or_side_by_side_members_are_refused(parts, members, message):
    dataset = _dataset()
    config = train_config("tiny", threads=1, epochs=1)
    with pytest.raises(InputError, match=message):
        train_crossfit(
            dataset,
            np.arange(200),
            model_config("tiny", members=members),
            config,
            protocol="random",
            parts=parts,
            seed=0,
        )


def test_a_part_without_both_classes_names_the_crossfit_option():
    dataset = _dataset()
    dataset.labels[:] = 0
    dataset.labels[:3] = 1
    with pytest.raises(InputError, match="--crossfit 5"):
        _crossfit(dataset, np.arange(200), parts=5)


def test_cross_validation_cross_fits_five_members_only_when_tfs_or_targets_are_held_out():
    assert [default_crossfit(protocol) for protocol in ("random", "tf", "gene")] == [1, 5, 5]
    # Degree-matched negatives do not combine with cross-fitting: one network.
    assert default_crossfit("tf", degree_matched=True) == 1
    # Nor do side-by-side members: --members 3 alone must not meet a --crossfit the user never gave.
    assert default_crossfit("gene", members=3) == 1
