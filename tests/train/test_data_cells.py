"""Training features from a file read a chunk of cells at a time (--normalize total, --layer)
equal the features of the same cells read whole, and so equal what scoring computes."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from deeptgi_rt.cells import CellChunks
from deeptgi_rt.errors import InputError
from deeptgi_train.data import load_training_set

GENES = [f"G{i}" for i in range(12)]


@pytest.fixture()
def files(tmp_path):
    import anndata

    rng = np.random.default_rng(8)
    counts = rng.negative_binomial(2, 0.4, size=(60, len(GENES))).astype(np.float32)
    counts[:, 5] += rng.integers(0, 30, size=60)
    counts[17] = 0  # a cell without counts: left out by the per-cell normalization
    adata = anndata.AnnData(X=sp.csr_matrix(np.zeros_like(counts)), layers={"counts": sp.csr_matrix(counts)})
    adata.var_names = GENES
    h5ad = tmp_path / "cells.h5ad"
    adata.write_h5ad(h5ad)
    kept = counts[counts.sum(axis=1) > 0]
    normalized = np.log1p(kept / kept.sum(axis=1, keepdims=True) * 1e4).astype(np.float32)
    parquet = tmp_path / "normalized.parquet"
    pl.DataFrame({gene: normalized[:, g] for g, gene in enumerate(GENES)}).write_parquet(parquet)
    labels = tmp_path / "labels.csv"
    pl.DataFrame(
        {
            "TF": ["G0", "G0", "G1", "G2", "G3", "G1"],
            "target": ["G4", "G6", "G7", "G9", "G10", "G11"],
            "label": [1, 0, 1, 0, 1, 0],
        }
    ).write_csv(labels)
    return h5ad, parquet, labels


def test_streamed_layer_features_equal_dense_features(files):
    h5ad, parquet, labels = files
    streamed = load_training_set(h5ad, labels, transform="normalize_total_log1p", layer="counts")
    dense = load_training_set(parquet, labels)
    assert isinstance(streamed.data.expressions[0], CellChunks)
    assert streamed.dataset.entities == dense.dataset.entities
    assert streamed.data.preprocessing == ["normalize_total_log1p"]
    np.testing.assert_allclose(streamed.dataset.features, dense.dataset.features, rtol=0, atol=1e-5)
    assert np.abs(dense.dataset.features).max() > 0.2


def test_layer_with_a_csv_fails_in_one_line(files, tmp_path):
    _, parquet, labels = files
    csv = tmp_path / "expr.csv"
    pl.read_parquet(parquet).write_csv(csv)
    with pytest.raises(InputError, match="--layer and --normalize total read an h5ad/zarr/Parquet file"):
        load_training_set(csv, labels, layer="counts")
