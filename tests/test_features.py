"""entity_features from cells read a chunk at a time equals entity_features from the in-memory Expression."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from deeptgi_rt.cells import DaskCells, array_chunks, parquet_chunks
from deeptgi_rt.errors import InputError
from deeptgi_rt.expression import expression_from_frame, read_expression
from deeptgi_rt.features import entity_features
from deeptgi_rt.progress import Reporter

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mhsc-e.parquet"


class Recorder(Reporter):
    def __init__(self):
        self.warnings = []

    def warn(self, message):
        self.warnings.append(message)


@pytest.fixture(scope="module")
def example():
    """(Expression of the raw example, entity genes, feature genes with one the data lacks)."""
    expression = read_expression(EXAMPLE)
    genes = expression.genes
    entities = genes[::3]
    features = genes[1::7] + ["NOT_A_GENE"]
    return expression, entities, features


@pytest.mark.parametrize("log1p", [False, True])
def test_parquet_chunks_equal_dense_expression(example, log1p):
    expression, entities, features = example
    dense_input = read_expression(EXAMPLE, log1p=log1p)
    chunks = parquet_chunks(EXAMPLE, chunk_cells=100, normalize="log1p" if log1p else None)
    kwargs = dict(min_coverage=0.5, backend="cpu")
    dense = entity_features([dense_input], entities, features, **kwargs)
    advanced = []
    streamed = entity_features([chunks], entities, features, progress=advanced.append, **kwargs)
    assert streamed.shape == dense.shape == (len(entities), 1, len(features))
    assert np.abs(streamed - dense).max() <= 1e-5
    assert np.all(streamed[:, 0, -1] == 0)  # the missing feature gene stays a zero column
    assert sum(advanced) == pytest.approx(len(entities))
    assert np.abs(dense).max() > 0.5  # real correlations, not all zeros


def test_sparse_chunks_and_dask_and_expression_modalities_together(example):
    expression, entities, features = example
    cells_by_genes = expression.values.T.copy()
    csr = array_chunks(sp.csr_matrix(cells_by_genes), expression.genes, chunk_cells=77)
    import dask.array as da

    dask_cells = DaskCells(da.from_array(cells_by_genes, chunks=(200, -1)), expression.genes)
    feats = entity_features([expression, csr, dask_cells], entities, features[:-1], backend="cpu")
    assert np.abs(feats[:, 1] - feats[:, 0]).max() <= 1e-5
    assert np.abs(feats[:, 2] - feats[:, 0]).max() <= 1e-5


def test_zero_count_cells_are_left_out_with_a_warning_and_constant_genes_warned():
    rng = np.random.default_rng(0)
    counts = rng.poisson(2.0, size=(60, 8)).astype(np.float32)
    counts[[5, 17], :] = 0  # two cells without counts
    counts[:, 2] = np.where(counts.sum(axis=1) > 0, 0, 0)  # gene G2 never expressed: constant
    genes = [f"G{i}" for i in range(8)]
    kept = counts[counts.sum(axis=1) > 0]
    normalized = np.log1p(kept / kept.sum(axis=1, keepdims=True) * 1e4).T
    expected = entity_features(
        [expression_from_frame(normalized, genes=genes, layout="genes-by-cells")], genes, genes[:4], backend="cpu"
    )
    reporter = Recorder()
    got = entity_features(
        [array_chunks(sp.csr_matrix(counts), genes, chunk_cells=16, normalize="total", source="counts.h5ad")],
        genes,
        genes[:4],
        backend="cpu",
        reporter=reporter,
    )
    assert np.abs(got - expected).max() <= 1e-5
    assert any("counts.h5ad: 2 of 60 cells have zero total counts" in w for w in reporter.warnings)
    assert any("counts.h5ad: 1 of 8 genes have constant expression" in w for w in reporter.warnings)


def test_missing_entity_gene_names_the_source(example):
    expression, _, features = example
    chunks = parquet_chunks(EXAMPLE)
    with pytest.raises(InputError, match=r"mhsc-e\.parquet: 1 of 2 genes are not in the data: .*NOPE"):
        entity_features([chunks], [expression.genes[0], "NOPE"], features[:-1], backend="cpu")


@pytest.mark.parametrize("normalize", ["log1p", "total"])
def test_cells_as_dask_blocks_equal_streamed_cells(example, normalize):
    expression, entities, features = example
    chunks = parquet_chunks(EXAMPLE, chunk_cells=300, normalize=normalize)
    cells = chunks.to_dask()
    assert cells.array.numblocks[0] == 4
    streamed = entity_features([chunks], entities, features[:-1], backend="cpu")
    assert np.abs(entity_features([cells], entities, features[:-1]) - streamed).max() <= 1e-6


def test_pair_feature_table_is_numpy_s_correlation_of_each_tf_with_each_target():
    from deeptgi_rt.expression import Expression
    from deeptgi_rt.features import pair_feature_table

    rng = np.random.default_rng(3)
    values = rng.standard_normal((9, 30)).astype(np.float32)
    values[4] = 2.0  # a constant gene correlates 0, as in the feature rows
    genes = [f"g{i}" for i in range(9)]
    first = Expression(genes=genes, values=values, source="a")
    second = Expression(genes=genes[::-1], values=np.log1p(np.abs(values[::-1])), source="b")
    tfs, targets = ["g0", "g4", "g7"], ["g1", "g2", "g4", "g8"]
    table = pair_feature_table([first, second], tfs, targets, ["pcc"], backend="cpu")
    assert table.shape == (3, 4, 2, 1) and table.dtype == np.float32
    for modality, expression in enumerate((first, second)):
        rows = {name: expression.values[i].astype(np.float64) for i, name in enumerate(expression.genes)}
        for i, tf in enumerate(tfs):
            for j, target in enumerate(targets):
                a, b = rows[tf], rows[target]
                want = 0.0 if a.std() == 0 or b.std() == 0 else np.corrcoef(a, b)[0, 1]
                assert table[i, j, modality, 0] == pytest.approx(want, abs=1e-5)
    with pytest.raises(InputError, match="unknown pair features"):
        pair_feature_table([first], tfs, targets, ["mi"], backend="cpu")
