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
        plan.STATS_SPARSE_PER_ENTRY_FEATURE * 240e6 * 1_000 + plan.FINISH_PER_PAIR * 20e6
    )
    assert result.seconds["score"] == pytest.approx(plan.SCORE_PER_PAIR * 32e6)
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
        plan.STATS_BLAS_PER_CELL_PAIR * 200_000 * 20e6 + plan.FINISH_PER_PAIR * 20e6
    )
    half = estimate(replace(ATLAS, entities=10_000))
    assert half.seconds["pcc"] < 0.51 * estimate(ATLAS).seconds["pcc"]


def test_whole_matrix_path_holds_the_matrix_and_sorted_edges_cost_memory():
    whole = estimate(replace(ATLAS, streamed=False, cells=50_000, stored_entries=60_000_000))
    assert whole.peak_bytes > plan.DENSE_READ_FACTOR * 4 * 50_000 * 20_000
    assert whole.seconds["read"] == pytest.approx(plan.READ_DENSE_PER_VALUE * 50_000 * 20_000)
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
