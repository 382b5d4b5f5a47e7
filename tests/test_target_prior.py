"""The optional per-target prior table of the model contract: parsed, checked, round-tripped, and
added to the network's scores by every scoring path; models without it score as before."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from onnx_models import build_model, save_model, synthetic_expression, with_metadata, write_genes_by_cells_csv

from deeptgi_rt.cli import main
from deeptgi_rt.contract import ModelMetadata
from deeptgi_rt.errors import InputError
from deeptgi_rt.target_prior import TARGET_PRIOR_SOURCE, add_target_prior, target_offsets

GENES, VALUES = synthetic_expression(40, 60)
FEATURES = GENES[:15]
TFS = GENES[:6]
TABLE = {
    "genes": GENES[5:25],
    "logits": list(np.linspace(-3.0, 2.5, 20)),
    "default_logit": 0.0,
    "source": TARGET_PRIOR_SOURCE,
}


@pytest.fixture()
def files(tmp_path):
    expr = write_genes_by_cells_csv(tmp_path / "expr.csv", GENES, VALUES)
    plain = save_model(build_model(FEATURES, head="mlp", tfs=TFS, weight_scale=3.0), tmp_path / "plain.onnx")
    prior = save_model(
        with_metadata(build_model(FEATURES, head="mlp", tfs=TFS, weight_scale=3.0), target_prior=TABLE),
        tmp_path / "prior.onnx",
    )
    return tmp_path, expr, plain, prior


def test_the_table_round_trips_and_a_model_without_it_reads_none():
    meta = ModelMetadata(
        feature_genes=["A"], modalities=["single_cell"], preprocessing=["none"], threshold=0.5, target_prior=TABLE
    )
    again = ModelMetadata.from_props(meta.to_props(), "m.onnx")
    assert again.target_prior == TABLE
    meta.target_prior = None
    assert "target_prior" not in meta.to_props()
    assert ModelMetadata.from_props(meta.to_props(), "m.onnx").target_prior is None


@pytest.mark.parametrize(
    "table, match",
    [
        ({"genes": ["A", "B"], "logits": [0.1], "default_logit": 0.0}, "as long as genes"),
        ({"genes": ["A", "A"], "logits": [0.1, 0.2], "default_logit": 0.0}, "'A' twice"),
        ({"genes": ["A"], "logits": [float("nan")], "default_logit": 0.0}, "not a finite number"),
        ({"genes": ["A"], "logits": [1.0], "default_logit": float("inf")}, "not a finite number"),
        ({"genes": ["A"], "logits": ["1"], "default_logit": 0.0}, "not a finite number"),
        ({"genes": ["A"], "logits": [1.0]}, "default_logit"),
        ({"genes": [1], "logits": [1.0], "default_logit": 0.0}, "gene names"),
        ([1, 2], "must be an object"),
    ],
)
def test_a_broken_table_is_one_error_naming_the_model_file(table, match):
    meta = ModelMetadata(
        feature_genes=["A"], modalities=["single_cell"], preprocessing=["none"], threshold=0.5, target_prior=table
    )
    with pytest.raises(InputError, match=match) as error:
        meta.validate("m.onnx")
    assert str(error.value).startswith("m.onnx: metadata target_prior")


def test_the_command_line_refuses_a_model_with_a_broken_table(files, capsys):
    tmp, expr, _, _ = files
    broken = dict(TABLE, logits=TABLE["logits"][:-1])
    proto = build_model(FEATURES, tfs=TFS)
    proto.metadata_props.add(key="target_prior", value=json.dumps(broken))
    model = save_model(proto, tmp / "broken.onnx")
    code = main(["score", str(expr), "--model", str(model), "--device", "cpu", "--out", str(tmp / "x.parquet")])
    err = capsys.readouterr().err
    assert code == 2 and str(model) in err and "target_prior" in err and len(err.strip().splitlines()) == 1
    assert not (tmp / "x.parquet").exists()


def test_offsets_follow_the_table_with_the_default_elsewhere_and_respect_case():
    table = {"genes": ["Sox2", "Gata1"], "logits": [1.5, -2.0], "default_logit": 0.25}
    np.testing.assert_array_equal(target_offsets(table, ["Gata1", "GATA1", "Myc"]), [-2.0, 0.25, 0.25])
    np.testing.assert_array_equal(target_offsets(table, ["GATA1", "sox2"], case_insensitive=True), [-2.0, 1.5])
    empty = {"genes": [], "logits": [], "default_logit": 0.0}
    np.testing.assert_array_equal(target_offsets(empty, ["A", "B"]), [0.0, 0.0])


def test_the_offset_is_added_on_the_logit_scale_and_saturated_scores_stay_finite():
    p = np.array([[0.2, 0.5, 0.9], [0.0, 1.0, 0.5]], dtype=np.float32)
    offsets = np.array([np.log(3.0), 0.0, -np.log(9.0)])
    out = add_target_prior(p, offsets)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0], [0.2 * 3 / (0.2 * 3 + 0.8), 0.5, 0.5], atol=1e-7)
    assert np.all(np.isfinite(out)) and 0.0 < out[1, 0] < 1e-6 and out[1, 1] > 1 - 1e-6


def _scores(frame):
    return {
        (tf, target): score
        for tf, target, score in frame.select(
            pl.col("TF").cast(pl.Utf8), pl.col("target").cast(pl.Utf8), "score"
        ).iter_rows()
    }


def test_all_pairs_listed_pairs_api_and_cli_add_the_same_table(files, capsys):
    import deeptgi_rt

    tmp, expr, plain, prior = files
    old = deeptgi_rt.load_model(plain, device="cpu")
    assert old.metadata.target_prior is None
    network = _scores(old.score(expr))
    assert _scores(old.score(expr, target_prior=False)) == network  # nothing to add or to leave out
    model = deeptgi_rt.load_model(prior, device="cpu")
    with_prior = _scores(model.score(expr))
    offsets = dict(zip(GENES, target_offsets(TABLE, GENES)))
    for (tf, target), score in with_prior.items():
        expected = add_target_prior(np.float32([network[(tf, target)]]), np.array([offsets[target]]))[0]
        assert score == expected
    assert _scores(model.score(expr, target_prior=False)) == network

    pairs = pl.DataFrame({"TF": [TFS[i % 6] for i in range(30)], "target": GENES[8:38]})
    pairs.write_csv(tmp / "pairs.csv")
    listed = _scores(model.score(expr, pairs=pairs))
    assert listed == {pair: with_prior[pair] for pair in pairs.iter_rows()}
    assert (
        main(
            [
                "score",
                str(expr),
                "--model",
                str(prior),
                "--pairs",
                str(tmp / "pairs.csv"),
                "--device",
                "cpu",
                "-q",
                "--out",
                str(tmp / "cli.parquet"),
            ]
        )
        == 0
    )
    assert _scores(pl.read_parquet(tmp / "cli.parquet")) == listed
    assert (
        main(
            [
                "score",
                str(expr),
                "--model",
                str(prior),
                "--device",
                "cpu",
                "-q",
                "--no-target-prior",
                "--out",
                str(tmp / "alone.parquet"),
            ]
        )
        == 0
    )
    assert _scores(pl.read_parquet(tmp / "alone.parquet")) == network


def test_scoring_without_the_table_under_the_model_threshold_warns(files, capsys):
    tmp, expr, _, prior = files
    assert (
        main(
            [
                "score",
                str(expr),
                "--model",
                str(prior),
                "--device",
                "cpu",
                "--threshold",
                "youden",
                "--no-target-prior",
                "--out",
                str(tmp / "y.parquet"),
            ]
        )
        == 0
    )
    assert "chosen on scores with its target prior" in capsys.readouterr().err


def test_info_says_whether_a_model_carries_a_target_prior(files, capsys):
    _, _, plain, prior = files
    assert main(["info", str(prior)]) == 0
    out = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert f"target prior {len(TABLE['genes'])} targets" in out
    assert main(["info", str(plain)]) == 0
    assert "target prior none" in " ".join(capsys.readouterr().out.replace("│", " ").split())
