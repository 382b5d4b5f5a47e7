"""Training options that do not combine are refused with one line naming both flags, by the
options check itself and by every library path that takes them, before any training."""

from __future__ import annotations

import numpy as np
import pytest

from deeptgi_rt.errors import InputError
from deeptgi_train.configs import check_training_options, model_config, train_config
from deeptgi_train.crossfit import train_crossfit
from deeptgi_train.cv import cv_splits, run_cv, train_fold
from deeptgi_train.data import TrainingSet
from deeptgi_train.fit import fit_model
from deeptgi_train.trainer import TrainingPairs

from .test_tf_contrast import _dense_pairs
from .test_trainer import _dataset

REFUSED = [
    (dict(crossfit=3, members=2), ("--crossfit 3", "--members 2")),
    (dict(crossfit=2, degree_matched=True), ("--crossfit 2", "--negatives degree-matched")),
    (dict(prior_offset=True, degree_matched=True), ("--prior-offset", "--negatives degree-matched")),
    (dict(prior_offset=True, swap_augment=True), ("--prior-offset", "--swap-augment")),
    (dict(tf_contrast=0.5, prior_offset=True), ("--tf-contrast 0.5", "--prior-offset")),
    (dict(tf_contrast=0.5, swap_augment=True), ("--tf-contrast 0.5", "--swap-augment")),
]


def _one_line_naming(error: pytest.ExceptionInfo, flags: tuple[str, ...]) -> None:
    message = str(error.value)
    assert "\n" not in message and "choose one" in message
    for flag in flags:
        assert flag in message


@pytest.mark.parametrize("options, flags", REFUSED)
def test_each_combination_is_refused_naming_both_flags(options, flags):
    with pytest.raises(InputError) as error:
        check_training_options(**options)
    _one_line_naming(error, flags)


@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(crossfit=5, prior_offset=True),
        dict(crossfit=5, tf_contrast=1.0),
        dict(members=3, degree_matched=True),
        dict(crossfit=1, members=3, prior_offset=True),
        dict(degree_matched=True, swap_augment=True),
        dict(degree_matched=True, tf_contrast=1.0),
    ],
)
def test_combinations_that_train_are_accepted(options):
    check_training_options(**options)


def test_crossfit_below_one_is_refused_but_one_is_one_network():
    with pytest.raises(InputError, match="--crossfit 0"):
        check_training_options(crossfit=0)
    check_training_options(crossfit=1, degree_matched=True)


@pytest.mark.parametrize(
    "swap_augment, offset, tf_contrast, flags",
    [
        (True, True, 0.0, ("--prior-offset", "--swap-augment")),
        (True, False, 2.0, ("--tf-contrast 2", "--swap-augment")),
        (False, True, 2.0, ("--tf-contrast 2", "--prior-offset")),
    ],
)
def test_training_pairs_refuse_what_the_cli_refuses(swap_augment, offset, tf_contrast, flags):
    dataset = _dense_pairs()
    logit_offset = np.zeros(len(dataset), dtype=np.float32) if offset else None
    with pytest.raises(InputError) as error:
        TrainingPairs.from_dataset(
            dataset, np.arange(12), swap_augment=swap_augment, logit_offset=logit_offset, tf_contrast=tf_contrast
        )
    _one_line_naming(error, flags)


@pytest.mark.parametrize(
    "train_options, cv_options, flags",
    [
        (dict(), dict(crossfit=2, degree_matched=True), ("--crossfit 2", "--negatives degree-matched")),
        (dict(), dict(prior_offset=True, degree_matched=True), ("--prior-offset", "--negatives degree-matched")),
        (dict(swap_augment=True), dict(prior_offset=True), ("--prior-offset", "--swap-augment")),
        (dict(tf_contrast=1.0), dict(prior_offset=True), ("--tf-contrast 1", "--prior-offset")),
    ],
)
def test_cross_validation_and_fit_refuse_before_training(train_options, cv_options, flags):
    dataset = _dataset()
    train = train_config("tiny", threads=1, epochs=1, **train_options)
    with pytest.raises(InputError) as error:
        run_cv(dataset, model_config("tiny"), train, protocol="random", folds=2, seed=0, **cv_options)
    _one_line_naming(error, flags)
    # fit_model reads only the pairs' data set before its options are checked.
    training = TrainingSet(data=None, pairs=None, dataset=dataset)
    with pytest.raises(InputError) as error:
        fit_model(training, model_config("tiny"), train, **cv_options)
    _one_line_naming(error, flags)


def test_fold_fitting_and_cross_fitting_refuse_side_by_side_members():
    dataset = _dataset()
    train = train_config("tiny", threads=1, epochs=1)
    split = next(iter(cv_splits(dataset, protocol="random", folds=2, seed=0)))
    with pytest.raises(InputError) as error:
        train_fold(dataset, split, model_config("tiny", members=2), train, protocol="random", seed=0, crossfit=3)
    _one_line_naming(error, ("--crossfit 3", "--members 2"))
    with pytest.raises(InputError) as error:
        train_crossfit(
            dataset,
            np.arange(200),
            model_config("tiny"),
            train_config("tiny", threads=1, swap_augment=True),
            protocol="random",
            parts=2,
            seed=0,
            prior_offset=True,
        )
    _one_line_naming(error, ("--prior-offset", "--swap-augment"))
