"""``threshold="density"``: the top ``network_density`` share of the run's own scored pairs."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from onnx_models import build_model, save_model, synthetic_expression, with_metadata, write_genes_by_cells_csv

import deeptgi_rt
from deeptgi_rt import thresholds
from deeptgi_rt.cli import main
from deeptgi_rt.errors import InputError
from deeptgi_rt.request import ScoreRequest
from deeptgi_rt.thresholds import density_cut, density_keep, density_tf_subset

GENES, VALUES = synthetic_expression(40, 60)
FEATURES = GENES[:15]
TFS = GENES[:6]
DENSITY = 0.1
RUN_PAIRS = 6 * 39  # the 6 TFs against the 39 other genes


# ----------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    "pairs, density, keep",
    [(234, 0.1, 23), (200, 0.0125, 3), (205_000, 0.015, 3075), (10, 0.001, 1), (10, 1.0, 10), (7, 0.5, 4)],
)
def test_keep_is_the_share_rounded_half_up_and_at_least_one(pairs, density, keep):
    assert density_keep(pairs, density) == keep


def test_the_cut_is_the_keep_th_best_score_and_ties_at_it_are_all_kept():
    rng = np.random.default_rng(3)
    scores = rng.random(1000).astype(np.float32)
    for keep in (1, 17, 500, 1000):
        cut = density_cut(scores, keep)
        assert cut == np.sort(scores)[::-1][keep - 1]
        assert np.count_nonzero(scores >= cut) == keep  # distinct scores: exactly keep
    tied = np.array([0.9, 0.8, 0.8, 0.8, 0.1], dtype=np.float32)
    assert density_cut(tied, 2) == np.float32(0.8)
    assert np.count_nonzero(tied >= density_cut(tied, 2)) == 4  # a cut cannot split equal scores
    with pytest.raises(ValueError):
        density_cut(tied, 6)


@pytest.mark.parametrize(
    "n_tfs, n_targets, max_pairs", [(6, 40, 100), (250, 821, 50_000), (7, 3, 20), (1000, 20_000, 4_000_000), (5, 10, 1)]
)
def test_the_tf_subset_is_evenly_spaced_and_holds_at_most_the_pairs(n_tfs, n_targets, max_pairs):
    tfs = density_tf_subset(n_tfs, n_targets, max_pairs)
    m = max(1, max_pairs // n_targets)
    assert tfs.dtype == np.int64 and len(tfs) == min(m, n_tfs)
    assert np.all(np.diff(tfs) > 0) and tfs[0] == 0 and tfs[-1] < n_tfs
    if m < n_tfs:
        assert len(tfs) * n_targets <= max(max_pairs, n_targets)
        np.testing.assert_array_equal(tfs, np.floor(np.arange(m) * n_tfs / m).astype(np.int64))
        gaps = np.diff(np.r_[tfs, n_tfs])
        assert gaps.max() - gaps.min() <= 1
    np.testing.assert_array_equal(tfs, density_tf_subset(n_tfs, n_targets, max_pairs))


def test_listed_pairs_refuse_density_before_anything_is_loaded():
    with pytest.raises(InputError, match="listed pair table's density is not the genome's") as error:
        ScoreRequest("no-such-file.parquet", pairs="no-such-pairs.csv", threshold="DENSITY")
    assert error.value.parameter == "threshold"


# ----------------------------------------------------------------- runs


@pytest.fixture()
def files(tmp_path):
    expr = write_genes_by_cells_csv(tmp_path / "expr.csv", GENES, VALUES)
    built = build_model(FEATURES, head="mlp", tfs=TFS, threshold=0.3, weight_scale=3.0)
    model = save_model(
        with_metadata(built, label_prior={"class_balance": 0.5, "network_density": DENSITY}), tmp_path / "prior.onnx"
    )
    bare = save_model(
        build_model(FEATURES, head="mlp", tfs=TFS, threshold=0.3, weight_scale=3.0), tmp_path / "bare.onnx"
    )
    return tmp_path, expr, model, bare


def cli(capsys, *argv):
    code = main(["score", *map(str, argv), "--device", "cpu"])
    return code, capsys.readouterr().err


def edge_set(frame):
    return set(zip(frame["TF"].cast(pl.String), frame["target"].cast(pl.String)))


def all_pairs(model, expr):
    return deeptgi_rt.load_model(model, device="cpu").score(expr)


def test_density_keeps_exactly_the_top_share_of_the_runs_pairs(files, capsys):
    tmp, expr, model, _ = files
    out = tmp / "d.parquet"
    code, err = cli(capsys, expr, "--model", model, "--threshold", "density", "--out", out)
    assert code == 0, err
    every = all_pairs(model, expr)
    assert len(every) == RUN_PAIRS
    keep = density_keep(RUN_PAIRS, DENSITY)
    ranked = np.sort(every["score"].to_numpy())[::-1]
    cut = ranked[keep - 1]
    expected = every.filter(pl.col("score") >= cut)
    assert len(expected) == keep + int(np.count_nonzero(ranked[keep:] == cut))
    edges = pl.read_parquet(out)
    assert edge_set(edges) == edge_set(expected)
    assert f"({len(edges) / RUN_PAIRS:.1%} of pairs)" in err and "time: density" in err
    summary = deeptgi_rt.load_model(model, device="cpu").write(tmp / "api.parquet", expr, threshold="density")
    assert summary.threshold == float(cut) and summary.edges_over_threshold == len(edges)
    assert summary.threshold_how == (
        f"top 10.00% of {RUN_PAIRS:,} pairs (the training network's density): cut {cut:.4f}"
    )
    assert summary.stage_seconds["density"] > 0


def test_api_and_cli_call_the_same_edges(files, capsys):
    tmp, expr, model, _ = files
    out = tmp / "d.parquet"
    assert cli(capsys, expr, "--model", model, "--threshold", "density", "--out", out, "--quiet")[0] == 0
    frame = deeptgi_rt.load_model(model, device="cpu").score(expr, threshold="density")
    assert frame.equals(pl.read_parquet(out))


def test_a_large_run_estimates_the_cut_on_an_evenly_spaced_subset_of_tfs(files, monkeypatch):
    tmp, expr, model, _ = files
    monkeypatch.setattr(thresholds, "DENSITY_SAMPLE_PAIRS", 100)  # 2 TFs of 40 targets
    scorer = deeptgi_rt.load_model(model, device="cpu")
    frame = scorer.score(expr, threshold="density")
    summary = scorer.last_summary
    every = all_pairs(model, expr)
    sample_tfs = [TFS[i] for i in density_tf_subset(6, 40, 100)]
    sample = every.filter(pl.col("TF").cast(pl.String).is_in(sample_tfs))["score"].to_numpy()
    assert len(sample) == 2 * 39
    reference = np.sort(sample)[::-1][density_keep(len(sample), DENSITY) - 1]
    assert summary.threshold == float(reference)
    exact = np.sort(every["score"].to_numpy())[::-1][density_keep(RUN_PAIRS, DENSITY) - 1]
    assert reference != exact  # the sample's quantile, not the run's
    assert summary.threshold_how.endswith(f"cut {reference:.4f}, estimated from 2 of 6 TFs")
    assert edge_set(frame) == edge_set(every.filter(pl.col("score") >= reference))
    assert summary.edges_over_threshold == len(frame) == int(np.count_nonzero(every["score"].to_numpy() >= reference))


def test_top_k_combines_with_density_as_with_a_float(files, capsys):
    tmp, expr, model, _ = files
    cut = deeptgi_rt.load_model(model, device="cpu").write(tmp / "d.parquet", expr, threshold="density").threshold
    density_out, float_out = tmp / "dk.parquet", tmp / "fk.parquet"
    assert (
        cli(capsys, expr, "--model", model, "--threshold", "density", "--top-k", "2", "--out", density_out, "--quiet")[
            0
        ]
        == 0
    )
    assert (
        cli(capsys, expr, "--model", model, "--threshold", repr(cut), "--top-k", "2", "--out", float_out, "--quiet")[0]
        == 0
    )
    density_k, float_k = pl.read_parquet(density_out), pl.read_parquet(float_out)
    assert density_k.equals(float_k) and 0 < len(density_k) < 12
    assert density_k["score"].min() >= cut


def one_error_line(err):
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning")]
    assert len(lines) == 1, err
    return lines[0]


def test_listed_pairs_and_models_without_label_prior_are_refused(files, capsys):
    tmp, expr, model, bare = files
    pairs = tmp / "pairs.csv"
    pairs.write_text(f"TF,target\n{TFS[0]},{GENES[20]}\n")
    out = tmp / "refused.parquet"
    code, err = cli(capsys, expr, "--model", model, "--pairs", pairs, "--threshold", "density", "--out", out)
    line = one_error_line(err)
    assert code == 2 and not out.exists()
    assert "--threshold density" in line and "--top-k K" in line and "not the genome's" in line
    code, err = cli(capsys, expr, "--model", bare, "--threshold", "density", "--out", out)
    line = one_error_line(err)
    assert code == 2 and not out.exists()
    assert line.startswith(f"deeptgi-rt: error: {bare}: --threshold density needs the density")
    assert "label_prior" in line and "--threshold youden" in line and "--top-k K" in line


def test_density_is_refused_below_the_feature_coverage_floor(files, capsys):
    tmp, _, model, _ = files
    keep = [g for g in GENES if g not in FEATURES[:3]]  # 80 % of the feature genes
    expr = write_genes_by_cells_csv(tmp / "part.csv", keep, VALUES[[GENES.index(g) for g in keep]])
    out = tmp / "cov.parquet"
    code, err = cli(
        capsys,
        expr,
        "--model",
        model,
        "--threshold",
        "density",
        "--allow-missing-features",
        "0.5",
        "--out",
        out,
        "--quiet",
    )
    line = one_error_line(err)
    assert code == 2 and not out.exists()
    assert "80.0% of the model's feature genes" in line and "--top-k K" in line


def test_a_youden_cut_calling_nothing_points_to_density(tmp_path, capsys):
    expr = write_genes_by_cells_csv(tmp_path / "expr.csv", GENES, VALUES)
    built = build_model(FEATURES, head="mlp", tfs=TFS, threshold=0.3, weight_scale=3.0)
    # A network this sparse moves the Youden cut above every score.
    model = save_model(
        with_metadata(built, label_prior={"class_balance": 0.5, "network_density": 1e-6}), tmp_path / "sparse.onnx"
    )
    code, err = cli(capsys, expr, "--model", model, "--threshold", "youden", "--out", tmp_path / "y.parquet", "--quiet")
    assert code == 0 and "no pair reaches the genome-wide threshold" in err
    assert "--threshold density" in err


@pytest.mark.parametrize(
    "listed, given",
    [(True, {}), (True, {"--threshold": "youden"}), (True, {"--top-k": "2"}), (False, {"--top-k": "2"}), (False, {})],
)
def test_following_the_no_pair_advice_is_never_refused(tmp_path, capsys, listed, given):
    import re

    expr = write_genes_by_cells_csv(tmp_path / "expr.csv", GENES, VALUES)
    built = build_model(FEATURES, head="mlp", tfs=TFS, threshold=0.3, weight_scale=3.0)
    # A network this sparse moves the Youden cut above every score.
    model = save_model(
        with_metadata(built, label_prior={"class_balance": 0.5, "network_density": 1e-6}), tmp_path / "sparse.onnx"
    )
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("TF,target\n" + "".join(f"{tf},{GENES[30 + i]}\n" for i, tf in enumerate(TFS)))

    def score(options: dict, out: str):
        argv = [expr, "--model", model, "--out", tmp_path / out, "--quiet"] + (["--pairs", pairs] if listed else [])
        return cli(capsys, *argv, *[item for option in options.items() for item in option])

    code, err = score(given, "first.parquet")
    assert code == 0 and "no pair reaches the genome-wide threshold" in err, err
    advice = re.findall(r"(--threshold|--top-k) (\S+)", err)
    assert advice, err
    for flag, value in advice:
        code, refused = score({**given, flag: {"FLOAT": "0.5", "K": "2"}.get(value, value)}, "again.parquet")
        assert code == 0, f"following the advice {flag} {value} ({err.strip()}) was refused: {refused}"
