"""Which scored pairs become edges: self pairs, the score threshold, the top k per TF, and the
count of edges over the model's threshold. One :class:`EdgeSelection` serves the all-pairs
mode (complete TF rows of scores) and the listed-pairs mode (a stream of scored pairs) alike.
"""

from __future__ import annotations

import numpy as np

from .edges import EdgeBlock
from .ranking import strongest_tfs


class EdgeSelection:
    """Turns scored pairs into the run's edges and counts what was scored.

    Args:
        n_tfs: TFs of the run.
        top_k: keep the ``top_k`` best targets of each TF (``None``: all).
        threshold: keep edges with score >= ``threshold`` (``None``: all).
        model_threshold: the threshold in force (the model's, or the run's own float), for ``over_per_tf``.
        self_target: int ``[tfs]``, each TF's index in the target list or -1; those self
            pairs are dropped from complete TF rows (listed pairs are taken as listed).

    Attributes:
        pairs_scored: pairs scored so far, self pairs excluded.
        over_per_tf: int64 ``[tfs]`` scored pairs with score >= ``model_threshold`` per TF.
    """

    def __init__(
        self,
        n_tfs: int,
        *,
        top_k: int | None,
        threshold: float | None,
        model_threshold: float,
        self_target: np.ndarray | None = None,
    ):
        self.top_k = top_k
        self.threshold = threshold
        self.model_threshold = float(model_threshold)
        self.self_target = np.full(n_tfs, -1) if self_target is None else np.asarray(self_target)
        self.pairs_scored = 0
        self.over_per_tf = np.zeros(n_tfs, dtype=np.int64)
        # Listed pairs arrive in any TF order, so their top k is only known at the end.
        self._top = TopKPerTF(top_k) if top_k is not None else None

    def tf_rows(self, tf_start: int, rows: np.ndarray, *, rank: bool) -> EdgeBlock:
        """Edges of complete TF rows: float32 ``rows`` ``[b, targets]`` of TFs ``tf_start ..``
        (see :func:`rows_to_edges`; ``rank`` orders each TF's targets by descending score)."""
        selfs = self.self_target[tf_start : tf_start + len(rows)]
        self.over_per_tf[tf_start : tf_start + len(rows)] = count_over(
            rows, self.model_threshold, self.self_target, tf_start
        )
        self.pairs_scored += rows.size - int(np.count_nonzero(selfs >= 0))
        return rows_to_edges(tf_start, rows, self.self_target, top_k=self.top_k, threshold=self.threshold, rank=rank)

    def listed(self, pairs: EdgeBlock) -> EdgeBlock | None:
        """Edges of scored listed ``pairs``; ``None`` while ``top_k`` holds them back for :meth:`held`."""
        self.pairs_scored += len(pairs)
        over = pairs.score >= self.model_threshold
        self.over_per_tf += np.bincount(pairs.tf[over], minlength=len(self.over_per_tf))
        if self.threshold is not None:
            pairs = pairs.take(pairs.score >= self.threshold)
        if self._top is None:
            return pairs
        self._top.add(pairs)
        return None

    def held(self) -> EdgeBlock | None:
        """After the last :meth:`listed` call: the top-k edges held back, TF by TF (``None`` without ``top_k``)."""
        return None if self._top is None else self._top.result()

    def top_tfs(self, names: list[str], limit: int = 10) -> list[tuple[str, int]]:
        """Up to ``limit`` ``(TF name, edges over the model threshold)``, most first, zero counts left
        out; the ranking ``plot`` uses too (:func:`~deeptgi_rt.ranking.strongest_tfs`)."""
        return strongest_tfs(names, self.over_per_tf, limit)


def rows_to_edges(
    tf_start: int,
    rows: np.ndarray,
    self_target: np.ndarray,
    *,
    top_k: int | None = None,
    threshold: float | None = None,
    rank: bool = True,
) -> EdgeBlock:
    """Edges of a block of complete TF rows, self pairs dropped.

    Args:
        tf_start: index of the block's first TF.
        rows: float32 ``[b, genes]`` scores of TFs ``tf_start ..`` against every gene.
        self_target: int ``[tfs]``, the gene index of each TF in the gene list or -1.
        top_k: keep only the ``top_k`` best targets of each TF.
        threshold: keep only edges with score >= ``threshold``.
        rank: order each TF's targets by descending score (otherwise gene order).

    Returns:
        The edges, TF by TF.
    """
    block, n_genes = rows.shape
    selfs = np.asarray(self_target[tf_start : tf_start + block])
    work = rows
    if top_k is not None or rank:
        work = rows.copy()
        has_self = selfs >= 0
        # -inf sorts the self pair behind every real target; it is dropped below in any case.
        work[np.flatnonzero(has_self), selfs[has_self]] = -np.inf
    if top_k is not None and top_k < n_genes:
        keep = np.argpartition(-work, top_k - 1, axis=1)[:, :top_k]
        part = np.take_along_axis(work, keep, axis=1)
        order = np.take_along_axis(keep, np.argsort(-part, axis=1, kind="stable"), axis=1)
    elif rank or top_k is not None:
        order = np.argsort(-work, axis=1, kind="stable")
    else:
        order = np.broadcast_to(np.arange(n_genes), (block, n_genes))
    scores = np.take_along_axis(rows, order, axis=1)
    keep_mask = order != selfs[:, None]
    if threshold is not None:
        keep_mask &= scores >= threshold
    tf = np.broadcast_to(np.arange(tf_start, tf_start + block, dtype=np.int32)[:, None], order.shape)
    return EdgeBlock(tf[keep_mask], order[keep_mask].astype(np.int32), scores[keep_mask])


def count_over(
    rows_or_scores: np.ndarray, threshold: float, self_target: np.ndarray | None = None, tf_start: int = 0
) -> np.ndarray:
    """Edges with score >= ``threshold`` per TF row: int64 ``[b]`` for float32 ``[b, genes]``
    rows, self pairs (``self_target``, as in :func:`rows_to_edges`) not counted."""
    over = rows_or_scores >= threshold
    counts = np.count_nonzero(over, axis=1).astype(np.int64)
    if self_target is not None:
        selfs = np.asarray(self_target[tf_start : tf_start + len(rows_or_scores)])
        has_self = np.flatnonzero(selfs >= 0)
        counts[has_self] -= over[has_self, selfs[has_self]]
    return counts


class TopKPerTF:
    """The ``k`` best-scored targets of every TF over a stream of edge blocks, in bounded memory.

    Memory: at most ``k`` edges per TF plus one reduction buffer (``reduce_every`` edges).
    """

    def __init__(self, k: int, reduce_every: int = 1 << 20):
        self.k = int(k)
        self.reduce_every = int(reduce_every)
        self._blocks: list[EdgeBlock] = []
        self._rows = 0

    def add(self, block: EdgeBlock) -> None:
        """Take the edges of ``block`` into account."""
        self._blocks.append(block)
        self._rows += len(block)
        if self._rows >= self.reduce_every:
            kept = self.result()
            self._blocks, self._rows = [kept], len(kept)
            # Keep the buffer a multiple of what survives, so reductions stay rare.
            self.reduce_every = max(self.reduce_every, 4 * len(kept))

    def result(self) -> EdgeBlock:
        """The kept edges, grouped by TF (ascending index), each TF's by descending score."""
        edges = EdgeBlock.concat(self._blocks)
        order = np.lexsort((-edges.score, edges.tf))
        edges = edges.take(order)
        if not len(edges):
            return edges
        starts = np.flatnonzero(np.r_[True, edges.tf[1:] != edges.tf[:-1]])
        rank = np.arange(len(edges)) - np.repeat(starts, np.diff(np.r_[starts, len(edges)]))
        return edges.take(rank < self.k)
