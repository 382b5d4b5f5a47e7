"""The run estimate of `deeptgi_rt.plan` is a pure function of the sizes: check how it scales."""

from __future__ import annotations

from dataclasses import replace

import pytest

from deeptgi_rt import plan
from deeptgi_rt.plan import PlanInputs, estimate

ATLAS = PlanInputs(
    cells=200_000,
    genes=20_000,
    stored_entries=240_000_000,
    sparse=True,
    streamed=True,
    chunk_cells=838,
    entities=20_000,
    features=1_000,
    tfs=1_600,
    targets=20_000,
    pairs=32_000_000,
    edges=160_000,
    sort_globally=True,
)


def test_atlas_estimate_adds_up_from_the_unit_costs():
    result = estimate(ATLAS)
    assert result.seconds["read"] == pytest.approx(plan.READ_PER_STORED * 240e6)
    assert result.seconds["pcc"] == pytest.approx(
        plan.PCC_FIXED + plan.STATS_SPARSE_PER_ENTRY_FEATURE * 240e6 * 1_000 + plan.FINISH_PER_PAIR * 20e6
    )
    assert result.seconds["score"] == pytest.approx(plan.SCORE_FIXED + plan.SCORE_PER_PAIR * 32e6)
    assert result.total_seconds == pytest.approx(sum(result.seconds.values()))
    # Streamed: memory does not grow with the cells.
    assert (
        estimate(replace(ATLAS, cells=10 * ATLAS.cells, stored_entries=10 * ATLAS.stored_entries)).peak_bytes
        == result.peak_bytes
    )
    assert result.peak_bytes < 4 * 2**30


def test_dense_chunks_go_through_blas_and_entities_scale_the_kernel():
    dense = estimate(replace(ATLAS, stored_entries=ATLAS.cells * ATLAS.genes // 4))  # 25 % > 18 %
    assert dense.seconds["pcc"] == pytest.approx(
        plan.PCC_FIXED + plan.STATS_BLAS_PER_CELL_PAIR * 200_000 * 20e6 + plan.FINISH_PER_PAIR * 20e6
    )
    half = estimate(replace(ATLAS, entities=10_000))
    assert half.seconds["pcc"] - plan.PCC_FIXED < 0.51 * (estimate(ATLAS).seconds["pcc"] - plan.PCC_FIXED)


def test_whole_matrix_path_holds_the_matrix_and_sorted_edges_cost_memory():
    whole = estimate(replace(ATLAS, streamed=False, cells=50_000, stored_entries=60_000_000))
    assert whole.peak_bytes > plan.DENSE_READ_FACTOR * 4 * 50_000 * 20_000
    assert whole.seconds["read"] == pytest.approx(
        plan.READ_DENSE_PER_VALUE * 50_000 * 20_000
    )  # in memory: no fixed cost
    every = estimate(replace(ATLAS, edges=32_000_000))
    assert every.peak_bytes >= plan.BASELINE_BYTES + plan.SORTED_EDGE_BYTES * 32_000_000
    streamed = estimate(replace(ATLAS, edges=32_000_000, sort_globally=False))
    assert streamed.peak_bytes < every.peak_bytes
    assert streamed.seconds["write"] < every.seconds["write"]


def test_pair_features_add_their_correlation_block_and_table():
    without, with_pairs = estimate(ATLAS), estimate(replace(ATLAS, pair_columns=1))
    table = 1_600 * 20_000
    assert with_pairs.seconds["pcc"] - without.seconds["pcc"] == pytest.approx(
        plan.PCC_DENSE_PER_CELL_PAIR * 200_000 * table
    )
    assert with_pairs.stage_bytes["encode"] - without.stage_bytes["encode"] == 4 * table


QUICK_START = PlanInputs(  # examples/mhsc-e.parquet with the shipped mhsc-e-lite model
    cells=1_071,
    genes=354,
    stored_entries=1_071 * 354,
    sparse=False,
    streamed=False,
    chunk_cells=1_071,
    entities=354,
    features=354,
    tfs=45,
    targets=354,
    pairs=45 * 354,
    edges=15_885,
    sort_globally=True,
    pair_columns=1,
    members=5,
    model_bytes=2_977_907,
    reader="parquet",
)


def test_small_data_is_start_up_and_fixed_costs():
    result = estimate(QUICK_START)
    fixed = (
        plan.STARTUP_SECONDS
        + plan.LOAD_PER_MODEL_BYTE * QUICK_START.model_bytes
        + plan.READ_FIXED["parquet"]
        + plan.PCC_FIXED
        + plan.ENCODE_FIXED
        + plan.SCORE_FIXED
        + plan.WRITE_FIXED
    )
    assert set(result.seconds) == {"load", "read", "pcc", "encode", "score", "write"}
    assert result.seconds["load"] == pytest.approx(plan.STARTUP_SECONDS + plan.LOAD_PER_MODEL_BYTE * 2_977_907)
    # Start-up and the fixed costs are most of a small run, not the 0.0-0.1 s of the sizes alone.
    assert fixed > 0.7 * result.total_seconds
    assert result.total_seconds > 1.0
    h5ad = estimate(replace(QUICK_START, reader="anndata"))
    assert h5ad.seconds["read"] - result.seconds["read"] == pytest.approx(
        plan.READ_FIXED["anndata"] - plan.READ_FIXED["parquet"]
    )
    listed = estimate(replace(QUICK_START, pairs_file=True))
    assert listed.seconds["read"] - result.seconds["read"] == pytest.approx(plan.PAIRS_FIXED)


def test_each_member_of_an_ensemble_adds_a_pair_head():
    one, five = estimate(replace(ATLAS, members=1)), estimate(replace(ATLAS, members=5))
    per_pair = plan.SCORE_PER_PAIR * 32e6
    assert five.seconds["score"] - plan.SCORE_FIXED == pytest.approx(4.73 * per_pair)
    assert one.seconds["score"] - plan.SCORE_FIXED == pytest.approx(per_pair)


@pytest.mark.parametrize(
    ("data", "kind"),
    [("a.parquet", "parquet"), ("x/A.H5AD", "anndata"), ("s.zarr/", "anndata"), ("e.csv.gz", "delimited")],
)
def test_reader_kind_follows_the_file_name(data, kind):
    assert plan.reader_kind(data) == kind


def test_reader_kind_of_a_table_in_memory():
    assert plan.reader_kind(object()) == "memory"


def test_a_timed_pair_step_replaces_the_default_scoring_cost():
    timed = estimate(replace(ATLAS, pair_seconds=1e-5, members=5))
    assert timed.seconds["score"] == pytest.approx(plan.SCORE_FIXED + (1e-5 + plan.SELECT_PER_PAIR) * 32e6)


def test_the_plan_times_the_model_s_own_pair_step_where_scoring_matters():
    from conftest import REPO

    from deeptgi_rt.api import ScoreRequest, load_model

    examples = REPO / "examples"
    model = load_model("mdc-lite-cf5", device="cpu", threads=1)  # a 5-member teacher
    summary = model.plan(ScoreRequest(str(examples / "mdc.parquet"), tfs=str(examples / "mdc-tfs.csv")))
    inputs = summary.plan.inputs
    assert plan.worth_timing_pairs(inputs.pairs, inputs.members)  # 265,000 pairs, 5 members
    assert inputs.pair_seconds > 0 and inputs.members == 5 and inputs.reader == "parquet"
    assert inputs.pair_seconds == model._model.pair_seconds()  # timed once per model and batch
    assert summary.plan.seconds["score"] == pytest.approx(
        plan.SCORE_FIXED + (inputs.pair_seconds + plan.SELECT_PER_PAIR) * inputs.pairs
    )
    # The Quick start's 15,885 pairs: the probe would cost a large part of their scoring.
    small = load_model("mhsc-e-lite-cf5", device="cpu", threads=1)
    quick = small.plan(ScoreRequest(str(examples / "mhsc-e.parquet"))).plan
    assert quick.inputs.pair_seconds == 0
    assert quick.seconds["score"] == pytest.approx(plan.SCORE_FIXED + plan.default_pair_cost(5) * quick.inputs.pairs)
    # Timing the pair step leaves the scores as they were.
    first = small.score(str(examples / "mhsc-e.parquet"), top_k=3)
    small._model.pair_seconds()
    assert small.score(str(examples / "mhsc-e.parquet"), top_k=3).equals(first)


@pytest.mark.parametrize("factorized", [True, False])
def test_the_pair_step_probe_runs_factorized_and_end_to_end(tmp_path, factorized):
    from onnx_models import build_model, save_model

    from deeptgi_rt.model import ScoringModel

    genes = [f"G{i}" for i in range(12)]
    path = save_model(build_model(genes, head="mlp", with_state_tensors=factorized), tmp_path / "m.onnx")
    model = ScoringModel(path, device="cpu", threads=2)
    assert model.factorized is factorized
    seconds = model.pair_seconds(512)
    assert 0 < seconds < 1e-3
    assert model.pair_seconds(512) == seconds  # measured once per batch size
