"""The model threshold by name: balanced as chosen, or moved to the genome-wide base rate."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest
from onnx_models import build_model, save_model, synthetic_expression, with_metadata, write_genes_by_cells_csv

from deeptgi_rt.cli import main
from deeptgi_rt.contract import ModelMetadata
from deeptgi_rt.errors import InputError
from deeptgi_rt.thresholds import logit, model_threshold

GENES, VALUES = synthetic_expression(40, 60)
FEATURES = GENES[:15]
TFS = GENES[:6]


def metadata(threshold=0.5, prior=None, calibration=None):
    return ModelMetadata(
        feature_genes=["A"],
        modalities=["single_cell"],
        preprocessing=["none"],
        threshold=threshold,
        label_prior=prior,
        calibration=calibration,
    )


def platt(slope, intercept=0.1):
    return {"method": "platt", "slope": slope, "intercept": intercept, "pairs": 100, "source": "out-of-fold"}


def test_youden_moves_by_the_difference_of_log_prior_odds():
    meta = metadata(0.48, {"class_balance": 0.5, "network_density": 0.04})
    shifted = model_threshold(meta, "youden")
    assert shifted.shifted and shifted.balanced == 0.48
    assert logit(shifted.value) == pytest.approx(logit(0.48) + 0.0 - math.log(0.04 / 0.96))
    assert 0.95 < shifted.value < 0.96
    assert model_threshold(meta, "balanced-youden").value == 0.48
    # Labels as dense as the network: nothing to correct.
    same = model_threshold(metadata(0.48, {"class_balance": 0.2, "network_density": 0.2}))
    assert same.value == pytest.approx(0.48)
    unknown = model_threshold(metadata(0.48))
    assert not unknown.shifted and unknown.value == 0.48 and "balanced" in unknown.describe()


def test_with_calibration_the_shift_is_divided_by_the_platt_slope():
    prior = {"class_balance": 0.5, "network_density": 0.014}
    raw = model_threshold(metadata(0.61, prior), "youden")
    calibrated = model_threshold(metadata(0.61, prior, platt(2.2)), "youden")
    shift = 0.0 - math.log(0.014 / 0.986)
    assert logit(raw.value) == pytest.approx(logit(0.61) + shift)
    assert logit(calibrated.value) == pytest.approx(logit(0.61) + shift / 2.2)
    assert 0.61 < calibrated.value < raw.value and calibrated.calibration_slope == 2.2
    assert "calibrated logit (Platt slope 2.2)" in calibrated.describe()
    assert "records no calibration" in raw.describe()
    # The balanced cut is the metadata threshold whatever the calibration.
    assert model_threshold(metadata(0.61, prior, platt(2.2)), "balanced-youden").value == 0.61


@pytest.mark.parametrize(
    "calibration, message",
    [
        (platt(0.0), "slope 0.0 is not a finite number > 0"),
        (platt(-1.5), "slope -1.5"),
        (platt(float("nan")), "slope nan"),
        (platt(1.0, float("inf")), "intercept inf"),
        ({"slope": 1.0, "intercept": 0.0}, "method 'platt'"),
    ],
)
def test_a_bad_calibration_is_one_error_naming_the_model_file(tmp_path, calibration, message):
    from deeptgi_rt.model import read_model

    model = build_model(FEATURES, tfs=TFS)
    meta = ModelMetadata.from_props({p.key: p.value for p in model.metadata_props}, "m")
    meta.calibration = platt(1.0)
    props = meta.to_props()
    props["calibration"] = json.dumps(calibration)
    del model.metadata_props[:]
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    path = save_model(model, tmp_path / "bad.onnx")
    with pytest.raises(InputError, match="calibration") as error:
        read_model(path)
    assert str(error.value).startswith(f"{path}: metadata calibration") and message in str(error.value)


def test_calibration_round_trips_and_old_models_read_without_it():
    meta = metadata(0.4, {"class_balance": 0.5, "network_density": 0.05}, platt(1.7, -0.2))
    again = ModelMetadata.from_props(meta.to_props(), "m.onnx")
    assert again.calibration == platt(1.7, -0.2)
    assert "calibration" not in metadata(0.4).to_props()
    assert ModelMetadata.from_props(metadata(0.4).to_props(), "m.onnx").calibration is None


@pytest.mark.parametrize(
    "prior", [{"network_density": 0.1}, {"class_balance": 1.0}, {"class_balance": 0.5, "network_density": 0}]
)
def test_a_label_prior_outside_zero_and_one_is_not_a_model(prior):
    with pytest.raises(InputError, match="label_prior"):
        metadata(0.5, prior).validate("m.onnx")


@pytest.fixture()
def files(tmp_path):
    expr = write_genes_by_cells_csv(tmp_path / "expr.csv", GENES, VALUES)
    prior = {"class_balance": 0.5, "network_density": 0.05}
    shifted = save_model(
        build_model(FEATURES, head="mlp", tfs=TFS, threshold=0.3, weight_scale=3.0, training={"label_prior": "unused"}),
        tmp_path / "old.onnx",
    )
    model = with_metadata(
        build_model(FEATURES, head="mlp", tfs=TFS, threshold=0.3, weight_scale=3.0), label_prior=prior
    )
    return tmp_path, expr, save_model(model, tmp_path / "prior.onnx"), shifted


def run(capsys, *argv):
    code = main(["score", *map(str, argv), "--device", "cpu"])
    return code, capsys.readouterr().err


def test_youden_calls_the_shifted_density_and_the_summary_says_how(files, capsys):
    tmp, expr, model, _ = files
    code, err = run(capsys, expr, "--model", model, "--threshold", "youden", "--out", tmp / "y.parquet")
    assert code == 0, err
    cut = model_threshold(metadata(0.3, {"class_balance": 0.5, "network_density": 0.05})).value
    youden = pl.read_parquet(tmp / "y.parquet")
    assert youden["score"].min() >= cut
    assert (
        run(capsys, expr, "--model", model, "--threshold", "balanced-youden", "--out", tmp / "b.parquet", "--quiet")[0]
        == 0
    )
    balanced = pl.read_parquet(tmp / "b.parquet")
    assert balanced["score"].min() >= 0.3 and len(balanced) > len(youden)
    share = len(youden) / (6 * 39)
    assert f"({share:.1%} of pairs)" in err and "model threshold" in err
    import deeptgi_rt

    summary = deeptgi_rt.load_model(model, device="cpu").write(tmp / "api.parquet", expr, threshold="youden")
    assert summary.threshold == pytest.approx(cut) and summary.share_over_threshold == pytest.approx(share)
    assert summary.edges_over_threshold == len(youden)
    assert "moved to the training network's density 5.00%" in summary.threshold_how


def test_old_models_keep_the_balanced_threshold_and_say_so(files, capsys):
    tmp, expr, _, old = files
    code, err = run(capsys, expr, "--model", old, "--threshold", "youden", "--out", tmp / "o.parquet", "--quiet")
    assert code == 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "chosen on balanced labelled pairs" in lines[0]
    assert pl.read_parquet(tmp / "o.parquet")["score"].min() >= 0.3


def test_the_model_threshold_is_refused_below_the_stated_coverage(files, capsys):
    tmp, _, model, _ = files
    # 12 of the 15 feature genes: 80 % coverage.
    keep = [g for g in GENES if g not in FEATURES[:3]]
    expr = write_genes_by_cells_csv(tmp / "part.csv", keep, VALUES[[GENES.index(g) for g in keep]])
    out = tmp / "cov.parquet"
    for name in ("youden", "balanced-youden"):
        code, err = run(
            capsys,
            expr,
            "--model",
            model,
            "--threshold",
            name,
            "--allow-missing-features",
            "0.5",
            "--out",
            out,
            "--quiet",
        )
        lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning")]
        assert code == 2 and len(lines) == 1, err
        assert "80.0% of the model's feature genes" in lines[0] and "--threshold FLOAT" in lines[0]
        assert "--top-k K" in lines[0] and not out.exists()
    for option in (["--top-k", "3"], ["--threshold", "0.5"], []):
        code, err = run(capsys, expr, "--model", model, *option, "--allow-missing-features", "0.5", "--out", out)
        assert code == 0 and "3 of 15 feature genes missing" in err
    assert "not meaningful at 80% feature-gene" in err


@pytest.mark.parametrize("threshold, cut, name", [("0.99", 0.99, "given threshold"), ("balanced-youden", 0.3, None)])
def test_the_summary_counts_edges_over_the_threshold_in_force_and_names_it(
    files, capsys, monkeypatch, threshold, cut, name
):
    monkeypatch.setenv("COLUMNS", "200")  # one table row per line
    tmp, expr, model, _ = files
    out = tmp / "t.parquet"
    code, err = run(capsys, expr, "--model", model, "--threshold", threshold, "--out", out)
    assert code == 0, err
    kept = pl.read_parquet(out)
    assert kept["score"].min() >= cut
    share = len(kept) / (6 * 39)
    row = next(line for line in err.splitlines() if "edges with score >=" in line)
    assert f"edges with score >= {cut:.4g} ({name or threshold})" in row
    assert f"{len(kept):,} ({share:.1%} of pairs)" in row
    import deeptgi_rt

    summary = deeptgi_rt.load_model(model, device="cpu").write(tmp / "api.parquet", expr, threshold=threshold)
    assert summary.counted_threshold == pytest.approx(cut) and summary.edges_over_threshold == len(kept)
    # The summary's top TFs count the same edges the file holds.
    counts = dict(kept.group_by(pl.col("TF").cast(pl.String)).len().iter_rows())
    assert summary.top_tfs and all(counts[tf] == count for tf, count in summary.top_tfs)
