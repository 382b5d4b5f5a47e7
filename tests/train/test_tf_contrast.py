"""The within-target contrast (--tf-contrast): where decoys come from, what the term can and cannot
move, that it is off by default and seeded, and that the option reaches the training run."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deeptgi_rt.errors import InputError
from deeptgi_train.configs import model_config, train_config
from deeptgi_train.data import PairDataset
from deeptgi_train.trainer import DecoyTFs, TrainingPairs, tf_contrast_loss, train_model, training_step

from .test_trainer import _dataset


def _dense_pairs():
    """TFs are rows 0-5, targets rows 6-9. Fitted pairs 0-11: fitted positives per TF 0: 2,
    1: 3, 2: 2, 3: 1; TF 5 has a fitted negative only, TF 4 a held-out pair only. Target 6 is a
    fitted positive of TFs 0-3 (no decoy possible); target 7 of TFs 0 and 1; target 8 of TF 2
    and a held-out positive of TF 3 (pair 12); target 9 of TF 1."""
    tf = [0, 1, 2, 3, 0, 1, 2, 2, 0, 1, 2, 5, 3, 4]
    gene = [6, 6, 6, 6, 7, 7, 7, 8, 8, 9, 9, 9, 8, 9]
    label = [1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1]
    features = np.random.default_rng(0).normal(size=(10, 1, 6)).astype(np.float32)
    return PairDataset(
        features=features,
        entities=[f"g{i}" for i in range(10)],
        tf_idx=np.array(tf),
        gene_idx=np.array(gene),
        labels=np.array(label, dtype=np.float32),
        feature_genes=[f"f{i}" for i in range(6)],
    )


POSITIVES_PER_TF = {0: 2, 1: 3, 2: 2, 3: 1}


def test_decoys_are_tfs_of_fitted_positives_drawn_as_often_as_they_are_one_and_never_a_fitted_positive():
    dataset = _dense_pairs()
    decoys = DecoyTFs.from_pairs(dataset, np.arange(12))
    assert decoys.tfs.tolist() == [0, 1, 2, 3] and decoys.weights.tolist() == [2, 3, 2, 1]
    fitted_positives = {
        (t, g) for t, g, y in zip(dataset.tf_idx[:12], dataset.gene_idx[:12], dataset.labels[:12]) if y == 1
    }
    n = 6000
    genes = np.repeat([6, 7, 8, 9], n)
    drawn = decoys.draw(genes, np.random.default_rng(1))
    assert np.all(drawn[genes == 6] == -1)  # every TF with a fitted positive targets it: dropped
    for gene in (7, 8, 9):
        allowed = {t: w for t, w in POSITIVES_PER_TF.items() if (t, gene) not in fitted_positives}
        got = drawn[genes == gene]
        # Only allowed TFs (never the held-out TF 4 nor TF 5 without a fitted positive), each
        # in proportion to its fitted positives.
        assert set(got.tolist()) == set(allowed)
        total = sum(allowed.values())
        for tf, weight in allowed.items():
            assert np.mean(got == tf) == pytest.approx(weight / total, abs=0.03)
    # Held-out labels do not steer training: (3, 8) is positive only outside the fitted pairs.
    assert 3 in set(drawn[genes == 8].tolist())


def test_the_exact_fallback_draws_as_rejection_does(monkeypatch):
    dataset = _dense_pairs()
    decoys = DecoyTFs.from_pairs(dataset, np.arange(12))
    monkeypatch.setattr(DecoyTFs, "REJECTION_ROUNDS", 0)  # every draw through the fallback
    drawn = decoys.draw(np.repeat([6, 7, 8], 3000), np.random.default_rng(2))
    assert np.all(drawn[:3000] == -1)
    assert set(drawn[3000:6000].tolist()) == {2, 3}
    assert np.mean(drawn[3000:6000] == 2) == pytest.approx(2 / 3, abs=0.03)
    assert np.mean(drawn[6000:] == 1) == pytest.approx(3 / 6, abs=0.03)


class TargetOnly:
    """A scorer whose logit is a function of the target's features alone."""

    def __init__(self):
        import torch

        self.weight = torch.nn.Parameter(torch.randn(6))

    def forward_train(self, tf, gene, input_noise=0.0, mixup=None, pair=None):
        import torch

        return torch.tanh(gene[:, 0] @ self.weight), self.weight.new_zeros(())

    def parameters(self):
        return [self.weight]


def _contrast_batch(dataset, seed=0):
    pairs = TrainingPairs.from_dataset(dataset, np.arange(12), swap_augment=False, tf_contrast=True)
    return pairs.contrast_batch(np.arange(12), np.random.default_rng(seed))


def test_a_target_only_score_gets_no_gradient_from_the_term_and_a_random_network_does():
    import torch

    from deeptgi_train.model import build_deeptgi

    dataset = _dense_pairs()
    tf, gene, pair = _contrast_batch(dataset)
    assert pair is None  # a labelled-only data set has no pair features
    assert len(tf) == 2 * 4  # positives (0,7) (1,7) (2,8) (1,9); target 6's four have no decoy
    torch.testing.assert_close(gene[:4], gene[4:], rtol=0, atol=0)
    target_only = TargetOnly()
    logits, _ = target_only.forward_train(tf, gene)
    term = tf_contrast_loss(logits[:4], logits[4:])
    term.backward()
    assert float(term.detach()) == pytest.approx(math.log(2), abs=1e-7)
    # Zero up to float32 rounding of the positives' and decoys' equal and opposite contributions.
    assert float(target_only.weight.grad.abs().max()) < 1e-7

    torch.manual_seed(0)
    network = build_deeptgi(model_config("tiny"), 1, 6)
    logits, _ = network.forward_train(tf, gene)
    term = tf_contrast_loss(logits[:4], logits[4:])
    term.backward()
    assert float(term.detach()) > 0 and float(term.detach()) != pytest.approx(math.log(2), abs=1e-4)
    assert max(float(p.grad.abs().max()) for p in network.parameters() if p.grad is not None) > 1e-3


def test_a_contrast_only_step_leaves_a_target_only_scorer_where_it_was():
    import torch

    dataset = _dense_pairs()
    target_only = TargetOnly()
    before = target_only.weight.detach().clone()
    optimizer = torch.optim.SGD(target_only.parameters(), lr=1.0)
    config = train_config("tiny", bce_weight=0.0, recon_weight=0.0, mixup_alpha=0.0, tf_contrast=1.0)
    features = torch.from_numpy(dataset.features)
    batch = np.arange(12)
    loss = training_step(
        target_only,
        optimizer,
        features[dataset.tf_idx[batch]],
        features[dataset.gene_idx[batch]],
        torch.from_numpy(dataset.labels[batch]),
        config,
        np.random.default_rng(0),
        contrast=_contrast_batch(dataset),
    )
    assert loss == pytest.approx(math.log(2), abs=1e-6)
    torch.testing.assert_close(target_only.weight.detach(), before, rtol=0, atol=1e-7)


def test_an_ensemble_pays_each_members_term_in_full():
    import torch

    positive, decoy = torch.randn(2, 5), torch.randn(2, 5)
    assert float(tf_contrast_loss(positive, decoy)) == pytest.approx(
        float(tf_contrast_loss(positive[0], decoy[0]) + tf_contrast_loss(positive[1], decoy[1])), rel=1e-6
    )


def _weights(dataset, model=None, **overrides):
    config = train_config("tiny", threads=1, **{"epochs": 2, **overrides})
    idx = np.arange(len(dataset))
    result = train_model(dataset, idx[:180], idx[180:], model or model_config("tiny"), config)
    return {name: value.clone() for name, value in result.model.state_dict().items()}


def _same(a, b):
    return all(np.array_equal(a[name].numpy(), b[name].numpy()) for name in a)


def test_off_by_default_and_a_zero_weight_trains_bit_for_bit_as_without_it():
    dataset = _dataset()
    assert train_config("lite").tf_contrast == 0.0 and train_config("tiny").tf_contrast == 0.0
    plain = _weights(dataset, seed=3)
    assert _same(plain, _weights(dataset, seed=3, tf_contrast=0.0))
    assert not _same(plain, _weights(dataset, seed=3, tf_contrast=1.0))


def test_the_contrast_is_seeded_for_one_network_and_an_ensemble():
    dataset = _dataset()
    a, b = _weights(dataset, seed=4, tf_contrast=1.0), _weights(dataset, seed=4, tf_contrast=1.0)
    assert _same(a, b)
    assert not _same(a, _weights(dataset, seed=5, tf_contrast=1.0))
    ensemble = model_config("tiny", members=2)
    assert _same(
        _weights(dataset, ensemble, seed=4, tf_contrast=1.0), _weights(dataset, ensemble, seed=4, tf_contrast=1.0)
    )


def test_the_contrast_refuses_swapped_pairs_and_offsets():
    dataset = _dense_pairs()
    with pytest.raises(InputError, match="--tf-contrast"):
        TrainingPairs.from_dataset(dataset, np.arange(12), swap_augment=True, tf_contrast=True)
    with pytest.raises(InputError, match="--tf-contrast"):
        TrainingPairs.from_dataset(
            dataset,
            np.arange(12),
            swap_augment=False,
            tf_contrast=True,
            logit_offset=np.zeros(len(dataset), dtype=np.float32),
        )


@pytest.mark.parametrize("command", ["cv", "fit"])
def test_the_cli_flag_reaches_the_training_config(command):
    from deeptgi_train.cli import _configs, build_parser

    argv = [command, "--expr", "e.csv", "--labels", "l.csv", "--threads", "1"]
    if command == "fit":
        argv += ["--out", "m.onnx"]
    _, train = _configs(build_parser().parse_args([*argv, "--tf-contrast", "2.5"]))
    assert train.tf_contrast == 2.5
    _, train = _configs(build_parser().parse_args(argv))
    assert train.tf_contrast == 0.0


@pytest.mark.parametrize(
    "option, message",
    [
        (["--tf-contrast", "-1"], "--tf-contrast -1"),
        (["--tf-contrast", "1", "--swap-augment"], "--swap-augment"),
        (["--tf-contrast", "1", "--prior-offset"], "--prior-offset"),
    ],
)
def test_bad_contrast_options_give_one_line_errors(tmp_path, capsys, option, message):
    from deeptgi_train.cli import main

    code = main(
        [
            "cv",
            "--expr",
            str(tmp_path / "e.csv"),
            "--labels",
            str(tmp_path / "l.csv"),
            "--config",
            "tiny",
            "--quiet",
            *option,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and "--tf-contrast" in err and len(err.strip().splitlines()) == 1
