"""Which TFs of a network are the strongest: the one ranking the score summary and the plot share."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def strongest_tfs(tf_names: Sequence[str], edges_over_threshold, limit: int = 10) -> list[tuple[str, int]]:
    """TFs ranked by their number of edges with score >= the threshold, most first.

    Args:
        tf_names: ``[TFs]`` names.
        edges_over_threshold: int ``[TFs]`` counts, aligned with ``tf_names``.
        limit: how many TFs to return at most.

    Returns:
        Up to ``limit`` ``(TF, count)`` pairs with count > 0; equal counts in name order, so the
        ranking does not depend on the order the TFs were scored or stored in.
    """
    counts = np.asarray(edges_over_threshold, dtype=np.int64)
    names = np.asarray([str(name) for name in tf_names], dtype=object)
    if len(names) != len(counts):
        raise ValueError(f"{len(names)} TF names for {len(counts)} counts")
    order = np.lexsort((names, -counts)) if len(counts) else np.zeros(0, dtype=np.int64)
    return [(names[i], int(counts[i])) for i in order[:limit] if counts[i] > 0]
