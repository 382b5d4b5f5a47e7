"""Degree-matched negatives for the pairs a network fits on (``--negatives degree-matched``).

Known edges pile up on hub targets while sampled or curated non-edges spread over other genes,
so a network can separate the classes by the target alone. Here the negatives of a fit part are
replaced by non-edges drawn with :func:`deeptgi_train.labels.degree_matched_negatives`: per TF
as many as the TF has fitted edges, each target as often as among the fitted edges. Only the
fitted pairs change; validation and test pairs keep their own negatives, so figures stay
comparable with runs that did not match degrees.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .data import PairDataset
from .labels import degree_matched_negatives

# Draws are seeded apart from the folds' other seeds: seed + NEGATIVES_SEED_OFFSET (+ fold in cv).
NEGATIVES_SEED_OFFSET = 3000


def degree_matched_fit(dataset: PairDataset, fit_idx: np.ndarray, *, seed: int) -> tuple[PairDataset, np.ndarray]:
    """Replace the negatives among the fitted pairs ``fit_idx`` by degree-matched non-edges.

    Negatives are drawn among the TFs and targets of the fitted positives only (so a held-out TF
    or target never enters training) and never coincide with any labelled pair of ``dataset``
    (test pairs included). No new entity is needed: every drawn target is a fitted positive's.

    Args:
        dataset: all labelled pairs.
        fit_idx: int ``[n]`` indices of the pairs the network fits on.
        seed: seed of the draw.

    Returns:
        ``(extended, new_fit_idx)``: ``dataset`` with the drawn negatives appended after its own
        pairs (existing indices unchanged, features shared, not copied) and int64 indices of the
        fitted positives followed by the drawn negatives.
    """
    fit_idx = np.asarray(fit_idx, dtype=np.int64)
    positives = fit_idx[dataset.labels[fit_idx] == 1]
    tfs, counts = np.unique(dataset.tf_idx[positives], return_counts=True)
    forbidden = set(zip(dataset.tf_idx.tolist(), dataset.gene_idx.tolist()))
    neg_tfs, neg_targets = degree_matched_negatives(
        dataset.tf_idx[positives],
        dataset.gene_idx[positives],
        dict(zip(tfs.tolist(), counts.tolist())),
        forbidden,
        seed=seed,
    )
    extended = replace(
        dataset,
        tf_idx=np.r_[dataset.tf_idx, neg_tfs].astype(np.int64),
        gene_idx=np.r_[dataset.gene_idx, neg_targets].astype(np.int64),
        labels=np.r_[dataset.labels, np.zeros(neg_tfs.size, dtype=np.float32)].astype(np.float32),
    )
    return extended, np.r_[positives, len(dataset) + np.arange(neg_tfs.size, dtype=np.int64)]
