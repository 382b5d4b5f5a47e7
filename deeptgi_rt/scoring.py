"""Pair scores from per-entity tables, all pairs or listed pairs.

A *table* is what the pair step gathers per entity: the TF (or gene) states of a factorized
model, ``[entities, ...]`` float32, or the raw features when a model is scored end to end.
Scoring all TF x gene pairs walks blocks of TFs against chunks of genes: the TF rows are
repeated and the gene rows tiled into two preallocated buffers by broadcasting copies (no
per-pair index arrays), and one head run scores the whole block. Listed pairs are gathered
with ``np.take(..., out=buffer)``.

A model with pair features also reads a *pair table*, float32 ``[tfs, targets, modalities,
kinds]`` (:func:`deeptgi_rt.features.pair_feature_table`); its block of the current TFs and
genes is copied into a third buffer the same way, so ``pair_scores`` is then called with three
arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from .defaults import DEFAULT_BATCH_SIZE  # defined there so that the CLI reads it without numpy

# Pairs per block of a matrix-product head (``block_scores``): 2 MB of float32 scores, and the
# block's pair features, stay in cache-friendly sizes while the GEMM is large enough to run at speed.
GEMM_BLOCK_PAIRS = 1 << 19

# ``(tf_rows [n, ...], gene_rows [n, ...][, pair_rows [n, modalities, kinds]]) -> float32 [n]``
PairFunction = Callable[..., np.ndarray]
# ``(tf_block [b, S], gene_table [genes, S], pair_block [b, genes, modalities, kinds] | None) -> float32 [b, genes]``
BlockFunction = Callable[..., np.ndarray]


class PairBuffers:
    """Reusable float32 buffers of ``batch_size`` rows each: TF side, gene side, and the pair
    features when ``pair_row_shape`` is given (else ``pair`` is ``None``)."""

    def __init__(
        self,
        tf_row_shape: tuple[int, ...],
        gene_row_shape: tuple[int, ...],
        batch_size: int,
        pair_row_shape: tuple[int, ...] | None = None,
    ):
        self.batch_size = int(batch_size)
        self.tf = np.empty((self.batch_size, *tf_row_shape), dtype=np.float32)
        self.gene = np.empty((self.batch_size, *gene_row_shape), dtype=np.float32)
        self.pair = None if pair_row_shape is None else np.empty((self.batch_size, *pair_row_shape), dtype=np.float32)

    def arrays(self, n: int) -> tuple[np.ndarray, ...]:
        """The first ``n`` rows of each buffer, in ``pair_scores`` argument order."""
        if self.pair is None:
            return self.tf[:n], self.gene[:n]
        return self.tf[:n], self.gene[:n], self.pair[:n]


def score_tf_rows(
    pair_scores: PairFunction,
    tf_table: np.ndarray,
    gene_table: np.ndarray,
    *,
    pair_table: np.ndarray | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[float], None] | None = None,
    block_scores: BlockFunction | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Score every TF against every gene, one block of TFs at a time.

    Args:
        pair_scores: ``(tf_rows [n, ...], gene_rows [n, ...]) -> float32 [n]``, with a third
            argument ``pair_rows [n, modalities, kinds]`` when ``pair_table`` is given.
        tf_table: float32 ``[tfs, ...]``.
        gene_table: float32 ``[genes, ...]``.
        pair_table: float32 ``[tfs, genes, modalities, kinds]``, the pairs' own features, or ``None``.
        batch_size: pairs per ``pair_scores`` call (the buffers hold this many rows).
        progress: called with the number of pairs scored after each block.
        block_scores: a head computed as a matrix product (``ScoringModel.block_scores``): then
            each block of TFs is scored against all genes in one call, without pair buffers,
            and ``pair_scores`` and ``batch_size`` are not used.

    Yields:
        ``(tf_start, scores)``: scores float32 ``[b, genes]`` of TFs ``tf_start .. tf_start + b``
        against all genes, self pairs included (the caller drops them).
    """
    n_tfs, n_genes = len(tf_table), len(gene_table)
    if block_scores is not None:
        yield from _score_blocks(block_scores, tf_table, gene_table, pair_table, progress)
        return
    gene_chunk = max(1, min(n_genes, batch_size))
    tf_block = max(1, batch_size // gene_chunk)
    buffers = PairBuffers(tf_table.shape[1:], gene_table.shape[1:], tf_block * gene_chunk, _pair_row_shape(pair_table))
    for tf_start in range(0, n_tfs, tf_block):
        tf_stop = min(n_tfs, tf_start + tf_block)
        block = tf_stop - tf_start
        rows = np.empty((block, n_genes), dtype=np.float32)
        for gene_start in range(0, n_genes, gene_chunk):
            gene_stop = min(n_genes, gene_start + gene_chunk)
            width = gene_stop - gene_start
            arrays = buffers.arrays(block * width)
            # Broadcasting copies: each TF row repeated across the chunk, the chunk tiled per TF.
            arrays[0].reshape(block, width, *tf_table.shape[1:])[:] = tf_table[tf_start:tf_stop, None]
            arrays[1].reshape(block, width, *gene_table.shape[1:])[:] = gene_table[None, gene_start:gene_stop]
            if pair_table is not None:
                arrays[2].reshape(block, width, *pair_table.shape[2:])[:] = pair_table[
                    tf_start:tf_stop, gene_start:gene_stop
                ]
            rows[:, gene_start:gene_stop] = pair_scores(*arrays).reshape(block, width)
        if progress is not None:
            progress(block * n_genes)
        yield tf_start, rows


def _score_blocks(
    block_scores: BlockFunction,
    tf_table: np.ndarray,
    gene_table: np.ndarray,
    pair_table: np.ndarray | None,
    progress: Callable[[float], None] | None,
) -> Iterator[tuple[int, np.ndarray]]:
    """:func:`score_tf_rows` for a matrix-product head: blocks of TFs against all genes."""
    n_tfs, n_genes = len(tf_table), len(gene_table)
    tf_block = max(1, GEMM_BLOCK_PAIRS // max(n_genes, 1))
    for tf_start in range(0, n_tfs, tf_block):
        tf_stop = min(n_tfs, tf_start + tf_block)
        pairs = None if pair_table is None else pair_table[tf_start:tf_stop]
        rows = block_scores(tf_table[tf_start:tf_stop], gene_table, pairs)
        if progress is not None:
            progress(rows.size)
        yield tf_start, rows


def score_listed_pairs(
    pair_scores: PairFunction,
    tf_table: np.ndarray,
    gene_table: np.ndarray,
    tf_index: np.ndarray,
    gene_index: np.ndarray,
    buffers: PairBuffers,
    pair_table: np.ndarray | None = None,
) -> np.ndarray:
    """Scores float32 ``[n]`` of the pairs ``(tf_index[i], gene_index[i])`` (int ``[n]`` row
    indices into the tables, and into ``pair_table`` float32 ``[tfs, genes, modalities, kinds]``
    when the model reads pair features; ``buffers`` then has a ``pair`` buffer), gathered into
    ``buffers`` in batches."""
    scores = np.empty(len(tf_index), dtype=np.float32)
    for start in range(0, len(tf_index), buffers.batch_size):
        stop = min(len(tf_index), start + buffers.batch_size)
        arrays = buffers.arrays(stop - start)
        np.take(tf_table, tf_index[start:stop], axis=0, out=arrays[0])
        np.take(gene_table, gene_index[start:stop], axis=0, out=arrays[1])
        if pair_table is not None:
            flat = pair_table.reshape(-1, *pair_table.shape[2:])
            cells = tf_index[start:stop].astype(np.int64) * pair_table.shape[1] + gene_index[start:stop]
            np.take(flat, cells, axis=0, out=arrays[2])
        scores[start:stop] = pair_scores(*arrays)
    return scores


def _pair_row_shape(pair_table: np.ndarray | None) -> tuple[int, ...] | None:
    return None if pair_table is None else tuple(pair_table.shape[2:])
