"""Edge selection: the all-pairs and listed-pairs modes keep the same edges and count the same."""

from __future__ import annotations

import numpy as np
import pytest

from deeptgi_rt.edges import EdgeBlock
from deeptgi_rt.selection import EdgeSelection

N_TFS, N_TARGETS = 7, 11
# TF i is target 2 * i for the first four TFs; the others are not among the targets.
SELF_TARGET = np.array([0, 2, 4, 6, -1, -1, -1])


def edge_set(block: EdgeBlock):
    return {(int(t), int(g)): float(s) for t, g, s in zip(block.tf, block.target, block.score)}


@pytest.mark.parametrize("top_k, threshold", [(None, None), (3, None), (None, 0.4), (3, 0.4), (50, 0.9)])
def test_all_pairs_and_listed_pairs_select_the_same_edges(top_k, threshold):
    rng = np.random.default_rng(3)
    rows = rng.random((N_TFS, N_TARGETS)).astype(np.float32)
    rows[0, 5] = 0.5  # a score exactly at the model threshold counts as over it
    options = dict(top_k=top_k, threshold=threshold, model_threshold=0.5)

    whole = EdgeSelection(N_TFS, self_target=SELF_TARGET, **options)
    blocks = [whole.tf_rows(start, rows[start : start + 3], rank=True) for start in range(0, N_TFS, 3)]
    from_rows = edge_set(EdgeBlock.concat(blocks))

    # The same pairs listed one by one in a shuffled order, self pairs not listed.
    tf, target = np.nonzero(np.ones_like(rows, dtype=bool))
    keep = SELF_TARGET[tf] != target
    order = rng.permutation(np.flatnonzero(keep))
    listed = EdgeSelection(N_TFS, **options)
    kept = []
    for chunk in np.array_split(order, 5):
        block = listed.listed(
            EdgeBlock(tf[chunk].astype(np.int32), target[chunk].astype(np.int32), rows[tf[chunk], target[chunk]])
        )
        kept += [block] if block is not None else []
    held = listed.held()
    kept += [held] if held is not None else []
    from_pairs = edge_set(EdgeBlock.concat(kept))

    assert from_rows == from_pairs
    assert all((t, g) != (t, SELF_TARGET[t]) for t, g in from_rows)
    assert whole.pairs_scored == listed.pairs_scored == N_TFS * N_TARGETS - 4
    np.testing.assert_array_equal(whole.over_per_tf, listed.over_per_tf)
    expected_over = [(rows[t][np.arange(N_TARGETS) != SELF_TARGET[t]] >= 0.5).sum() for t in range(N_TFS)]
    np.testing.assert_array_equal(whole.over_per_tf, expected_over)
    names = [f"TF{i}" for i in range(N_TFS)]
    assert whole.top_tfs(names, limit=3) == listed.top_tfs(names, limit=3)
    assert [count for _, count in whole.top_tfs(names)] == sorted(expected_over, reverse=True)[:N_TFS]
