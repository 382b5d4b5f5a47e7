"""Prior-aware training (--prior-offset): the offset's values, its place in the loss and in early
stopping, and a model trained with it exports and scores like any other."""

from __future__ import annotations

import numpy as np
import pytest

from deeptgi_rt.errors import InputError
from deeptgi_train.configs import model_config, train_config
from deeptgi_train.data import PairDataset
from deeptgi_train.metrics import auroc
from deeptgi_train.prior import target_prior_logits
from deeptgi_train.trainer import train_model

from .test_trainer import _dataset


def _logit(p):
    return np.log(p) - np.log1p(-p)


def _four_targets():
    """Six pairs of TF a; fitting pairs 0-3, target b has labels 1, 1, 0, target c label 1, and d
    (pair 5) is never fitted; pair 4 is b's, unfitted."""
    return PairDataset(
        features=np.zeros((4, 1, 2), dtype=np.float32),
        entities=["a", "b", "c", "d"],
        tf_idx=np.array([0, 0, 0, 0, 0, 0]),
        gene_idx=np.array([1, 1, 1, 2, 1, 3]),
        labels=np.array([1, 1, 0, 1, 0, 1], dtype=np.float32),
        feature_genes=["x", "y"],
    )


def test_fitted_pairs_get_their_targets_leave_one_out_rate_and_others_the_full_rate():
    dataset = _four_targets()
    offsets = target_prior_logits(dataset, np.array([0, 1, 2, 3]))
    expected = _logit(
        np.array(
            [
                (1 + 0.5) / 3,
                (1 + 0.5) / 3,
                (2 + 0.5) / 3,
                0.5 / 1,  # leave-one-out
                (2 + 0.5) / 4,
                0.5,
            ]
        )
    )  # pair 4: all three fitted pairs of target 1; pair 5 unseen
    np.testing.assert_allclose(offsets, expected, rtol=1e-6)
    assert offsets.dtype == np.float32 and offsets[5] == 0.0


def _train(dataset, offset=None, **overrides):
    config = train_config("tiny", threads=1, **{"epochs": 3, **overrides})
    idx = np.arange(len(dataset))
    return train_model(dataset, idx[:180], idx[180:], model_config("tiny"), config, logit_offset=offset)


def test_a_zero_offset_changes_nothing_and_a_real_one_changes_the_fit():
    dataset = _dataset()
    plain = _train(dataset)
    zero = _train(dataset, np.zeros(len(dataset), dtype=np.float32))
    np.testing.assert_array_equal(plain.validation_scores, zero.validation_scores)
    prior = target_prior_logits(dataset, np.arange(180))
    shifted = _train(dataset, prior)
    assert not np.array_equal(plain.validation_scores, shifted.validation_scores)


def test_early_stopping_ranks_validation_pairs_by_network_plus_offset_and_returns_the_network_alone():
    from deeptgi_train.trainer import predict

    dataset = _dataset()
    rng = np.random.default_rng(1)
    offset = rng.normal(0, 2, len(dataset)).astype(np.float32)
    result = _train(dataset, offset, epochs=3, patience=3)
    labels = dataset.labels[180:]
    network = np.clip(predict(result.model, dataset, np.arange(180, len(dataset))).astype(np.float64), 1e-7, 1 - 1e-7)
    # The validation scores are the network's plus the offset, as the runtime scores a model with its table.
    expected = 1 / (1 + np.exp(-(_logit(network) + offset[180:])))
    np.testing.assert_allclose(result.validation_scores, expected, atol=1e-6)
    with_offset = auroc(labels, _logit(network) + offset[180:])
    assert result.validation_auroc == pytest.approx(with_offset, abs=1e-9)
    assert max(h.validation_auroc for h in result.history) == pytest.approx(with_offset, abs=1e-9)
    # The returned model is the network alone: its own scores rank differently from network + offset.
    assert auroc(labels, network) != pytest.approx(with_offset, abs=1e-6)


def test_swap_augment_with_an_offset_is_refused():
    from deeptgi_rt.errors import InputError

    dataset = _dataset()
    with pytest.raises(InputError, match="swapped"):
        _train(dataset, np.zeros(len(dataset), dtype=np.float32), swap_augment=True)


def test_fit_with_prior_offset_exports_with_parity_and_scores_factorized_as_end_to_end(shared_data, tmp_path):
    import deeptgi_rt
    from deeptgi_rt.model import ScoringModel
    from deeptgi_train.cli import main

    data = shared_data / "mhsc-e"
    out = tmp_path / "m.onnx"
    assert (
        main(
            [
                "fit",
                "--expr",
                str(data / "expression.csv"),
                "--labels",
                str(data / "pairs.csv"),
                "--config",
                "tiny",
                "--epochs",
                "2",
                "--threads",
                "1",
                "--quiet",
                "--prior-offset",
                "--negatives",
                "file",
                "--validation-split",
                "tf",
                "--out",
                str(out),
                "--checkpoint",
                str(tmp_path / "m.pt"),
            ]
        )
        == 0
    )
    meta = deeptgi_rt.load_model(out, device="cpu").metadata
    assert meta.training["prior_offset"] is True and meta.training["validation_protocol"] == "tf"
    model = ScoringModel(out, device="cpu")
    assert model.factorized
    rng = np.random.default_rng(0)
    tf = rng.uniform(-1, 1, (40, 1, 354)).astype(np.float32)
    gene = rng.uniform(-1, 1, (40, 1, 354)).astype(np.float32)
    factorized = model.pair_scores(model.tf_table(tf), model.gene_table(gene))
    # The exported network is the trained network without the offset: PyTorch agrees to 1e-5.
    import torch

    from deeptgi_train.export import load_checkpoint

    net, _ = load_checkpoint(tmp_path / "m.pt")
    with torch.no_grad():
        expected = torch.sigmoid(net(torch.from_numpy(tf), torch.from_numpy(gene))).numpy()
    np.testing.assert_allclose(factorized, expected, atol=1e-5)


@pytest.mark.parametrize("extra", [["--negatives", "degree-matched"], ["--swap-augment"]])
def test_prior_offset_refuses_what_it_does_not_combine_with(shared_data, tmp_path, capsys, extra):
    from deeptgi_train.cli import main

    data = shared_data / "mhsc-e"
    code = main(
        [
            "cv",
            "--expr",
            str(data / "expression.csv"),
            "--labels",
            str(data / "pairs.csv"),
            "--config",
            "tiny",
            "--epochs",
            "1",
            "--threads",
            "1",
            "--quiet",
            "--prior-offset",
            "--negatives",
            "file",
            *extra,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "--prior-offset" in err and len(err.strip().splitlines()) == 1


def _resolved(argv):
    from deeptgi_train.cli import _configs, build_parser

    args = build_parser().parse_args(argv)
    _configs(args)
    return args.prior_offset


@pytest.mark.parametrize("command", ["fit", "cv"])
def test_training_on_the_labels_alone_is_the_default_and_the_offset_is_asked_for(command, capsys):
    base = [command, "--expr", "e.csv", "--labels", "l.csv", "--threads", "1", "--negatives", "file"] + (
        ["--out", "m.onnx"] if command == "fit" else []
    )
    assert _resolved(base) is False
    assert _resolved(base + ["--prior-offset"]) is True
    assert _resolved(base + ["--no-prior-offset"]) is False
    assert _resolved(base + ["--prior-offset", "--crossfit", "3"]) is True
    for extra in (["--negatives", "degree-matched"], ["--swap-augment"]):
        assert _resolved(base + extra) is False and capsys.readouterr().err == ""
    # The prior is a label rate of the file's pairs: with genome negatives (the default) it is refused.
    genome = [arg for arg in base if arg not in ("--negatives", "file")]
    assert _resolved(genome) is False
    with pytest.raises(InputError, match="--prior-offset with --negatives genome"):
        _resolved(genome + ["--prior-offset"])


def test_the_exported_table_is_the_rate_over_the_fitted_pairs_without_leaving_any_out():
    from deeptgi_train.prior import target_prior_table

    dataset = _four_targets()
    table = target_prior_table(dataset, np.array([0, 1, 2, 3]))
    assert table["genes"] == ["b", "c"] and table["default_logit"] == 0.0  # d was never fitted
    np.testing.assert_allclose(table["logits"], _logit(np.array([2.5 / 4, 1.5 / 2])), rtol=1e-12)
    # The same figures training gave the pairs it did not fit.
    np.testing.assert_allclose(
        target_prior_logits(dataset, np.array([0, 1, 2, 3]))[[4, 5]], [table["logits"][0], 0.0], rtol=1e-6
    )


def test_crossfit_members_fit_their_own_priors_and_their_out_of_fold_scores_carry_them():
    from deeptgi_rt.target_prior import add_target_prior
    from deeptgi_train.crossfit import train_crossfit
    from deeptgi_train.splits import kfold
    from deeptgi_train.trainer import predict

    dataset = _dataset()
    train_idx = np.arange(200)
    config = train_config("tiny", threads=1, epochs=2)
    result = train_crossfit(
        dataset, train_idx, model_config("tiny"), config, protocol="random", parts=2, seed=5, prior_offset=True
    )
    parts = list(
        kfold(
            dataset.labels[train_idx],
            dataset.pair_tfs()[train_idx],
            dataset.pair_targets()[train_idx],
            protocol="random",
            folds=2,
            seed=5,
        )
    )
    for member, (fit_part, validation_part) in zip(result.model.members, parts):
        offset = target_prior_logits(dataset, train_idx[fit_part])[train_idx[validation_part]]
        network = predict(member, dataset, train_idx[validation_part])
        np.testing.assert_allclose(
            result.validation_scores[validation_part], add_target_prior(network, offset), atol=1e-6
        )
        assert np.abs(offset).max() > 0.1  # the offsets are real, so the check could fail


@pytest.mark.parametrize("crossfit", [1, 2])
def test_cv_test_scores_add_the_prior_of_the_pairs_the_model_was_fitted_on(crossfit):
    from deeptgi_rt.target_prior import add_target_prior
    from deeptgi_train.cv import cv_splits, fold_test_scores, train_fold
    from deeptgi_train.trainer import predict

    dataset = _dataset()
    split = next(cv_splits(dataset, protocol="random", folds=3, seed=2))
    trained, _, _ = train_fold(
        dataset,
        split,
        model_config("tiny"),
        train_config("tiny", threads=1, epochs=1),
        protocol="random",
        seed=2,
        crossfit=crossfit,
        prior_offset=True,
    )
    fitted = split.fit if crossfit == 1 else np.r_[split.fit, split.validation]
    expected = add_target_prior(
        predict(trained.model, dataset, split.test), target_prior_logits(dataset, fitted)[split.test]
    )
    np.testing.assert_array_equal(fold_test_scores(trained, dataset, split, prior_offset=True), expected)
    np.testing.assert_array_equal(
        fold_test_scores(trained, dataset, split), predict(trained.model, dataset, split.test)
    )
