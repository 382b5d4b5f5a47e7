"""Platt scaling of held-out scores, and what ``fit`` stores of it."""

from __future__ import annotations

import numpy as np
import pytest

from deeptgi_rt.errors import InputError
from deeptgi_train.calibration import platt_calibration, platt_fit


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("slope, intercept", [(2.5, -0.7), (0.6, 0.4), (1.0, 0.0)])
def test_platt_fit_recovers_the_slope_and_intercept_the_labels_were_drawn_with(slope, intercept):
    rng = np.random.default_rng(1)
    score_logits = rng.normal(0.0, 2.0, 50_000)
    labels = rng.random(score_logits.size) < _sigmoid(slope * score_logits + intercept)
    fitted = platt_fit(_sigmoid(score_logits).astype(np.float32), labels)
    assert fitted == pytest.approx((slope, intercept), abs=0.05)


def test_separable_scores_give_a_finite_positive_slope_and_one_class_is_refused():
    slope, intercept = platt_fit(np.array([0.1, 0.2, 0.8, 0.9, 1.0, 0.0]), np.array([0, 0, 1, 1, 1, 0]))
    assert np.isfinite(slope) and slope > 0 and np.isfinite(intercept)
    with pytest.raises(InputError, match="positive and negative"):
        platt_fit(np.array([0.3, 0.7]), np.array([1, 1]))


def test_the_calibration_entry_names_its_source_and_pair_count():
    entry = platt_calibration(np.array([0.2, 0.4, 0.6, 0.9]), np.array([0, 1, 0, 1]), "validation")
    assert entry["method"] == "platt" and entry["source"] == "validation" and entry["pairs"] == 4
    assert entry["slope"] > 0


def _training_set(tmp_path):
    from deeptgi_train.data import load_training_set

    rng = np.random.default_rng(3)
    genes = [f"G{i}" for i in range(16)]
    expr = tmp_path / "expr.csv"
    expr.write_text(
        "gene,"
        + ",".join(f"c{i}" for i in range(30))
        + "\n"
        + "".join(g + "," + ",".join(f"{v:.3f}" for v in rng.random(30)) + "\n" for g in genes)
    )
    pairs = [(tf, target, int(rng.random() < 0.5)) for tf in genes[:6] for target in genes[6:] if rng.random() < 0.8]
    labels = tmp_path / "labels.csv"
    labels.write_text("TF,Target,Label\n" + "".join(f"{a},{b},{y}\n" for a, b, y in pairs))
    return load_training_set(expr, labels)


@pytest.mark.parametrize("crossfit, source", [(1, "validation"), (2, "out-of-fold")])
def test_fit_stores_the_platt_fit_of_its_held_out_scores_only(tmp_path, crossfit, source):
    from deeptgi_train.configs import model_config, train_config
    from deeptgi_train.fit import fit_model, model_metadata

    training = _training_set(tmp_path)
    train = train_config("tiny", threads=1, epochs=2)
    result = fit_model(training, model_config("tiny"), train, crossfit=crossfit, validation_fraction=0.3)
    meta = model_metadata(training, result, model_config("tiny"), train, protocol="random", files={}, command="t")
    held_out = training.dataset.labels[result.validation_idx]
    expected = platt_calibration(result.trained.validation_scores, held_out, source)
    assert meta.calibration == expected
    n_pairs = len(training.dataset)
    assert (
        meta.calibration["pairs"]
        == len(result.validation_idx)
        == (n_pairs if crossfit > 1 else meta.training["n_validation"])
    )
    if crossfit == 1:
        assert meta.calibration["pairs"] < n_pairs  # not the fitted pairs' scores
    round_trip = type(meta).from_props(meta.to_props(), "m.onnx")
    assert round_trip.calibration == expected


def test_scores_that_rank_held_out_pairs_below_chance_store_no_calibration():
    # A tiny or undertrained model: a slope <= 0 would move the genome-wide cut the wrong way.
    assert platt_calibration(np.array([0.9, 0.8, 0.3, 0.2]), np.array([0, 0, 1, 1]), "validation") is None
