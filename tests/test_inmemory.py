"""In-memory AnnData (dense, sparse, backed) and ``(scipy.sparse, genes)`` input: the scores equal
those of the same object written to ``.h5ad`` and scored as a file; sparse matrices are streamed by
cell chunks, never densified whole; bad objects fail in one line naming the parameter."""

from __future__ import annotations

import sys

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from onnx_models import build_model, save_model

from deeptgi_rt import InputError
from deeptgi_rt.api import ScoreRequest, load_model

anndata = pytest.importorskip("anndata")

GENES = [f"G{i}" for i in range(24)]
FEATURES = GENES[2:14]
TFS = GENES[:5]
CELLS = 90


def raw_counts(seed: int = 4) -> np.ndarray:
    """float32 ``[cells, genes]`` counts, about half zeros, varying depth, one zero-count cell."""
    rng = np.random.default_rng(seed)
    counts = rng.negative_binomial(1, 0.5, size=(CELLS, len(GENES))).astype(np.float32)
    counts[rng.random(counts.shape) < 0.4] = 0
    counts[:, 7] += rng.integers(0, 40, size=CELLS)
    counts[11] = 0
    return counts


def log_normalized(counts: np.ndarray) -> np.ndarray:
    totals = counts.sum(axis=1, keepdims=True)
    return np.log1p(counts / np.maximum(totals, 1) * 1e4).astype(np.float32)


def make_adata(x, **layers):
    adata = anndata.AnnData(X=x, layers=layers or None)
    adata.var_names = GENES
    adata.obs_names = [f"c{i}" for i in range(CELLS)]
    return adata


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = save_model(
        build_model(FEATURES, head="mlp", tfs=TFS, threshold=0.5), tmp_path_factory.mktemp("m") / "m.onnx"
    )
    return load_model(path, device="cpu", threads=1)


def scored(model, expression, **options) -> pl.DataFrame:
    """All edges, in a fixed (TF, target) order so that two runs compare row by row."""
    frame = model.prepare(ScoreRequest(expression, **options)).frame()
    return frame.with_columns(pl.col("TF").cast(str), pl.col("target").cast(str)).sort("TF", "target")


def assert_identical(a: pl.DataFrame, b: pl.DataFrame) -> None:
    assert len(a) == len(TFS) * (len(GENES) - 1)
    assert a.select("TF", "target").equals(b.select("TF", "target"))
    np.testing.assert_array_equal(a["score"].to_numpy(), b["score"].to_numpy())


def written(tmp_path, adata, name="x.h5ad"):
    path = tmp_path / name
    adata.write_h5ad(path)
    return str(path)


# ----------------------------------------------------------------- identical to the .h5ad file


@pytest.mark.parametrize(
    "case",
    [
        "dense-lognorm",  # read whole, as the file is
        "dense-counts-normalize",  # streamed, as the file is (normalize total)
        "csr-counts-normalize",
        "csc-counts-normalize",
        "csr-lognorm-chunks",  # streamed by chunk_cells
        "layer-counts",
        "raw",
        "var-names-column",
    ],
)
def test_in_memory_anndata_scores_as_its_h5ad_file(tmp_path, model, case):
    counts = raw_counts()
    options: dict = {}
    if case == "dense-lognorm":
        adata = make_adata(log_normalized(counts))
    elif case == "dense-counts-normalize":
        adata, options = make_adata(counts), {"transform": "normalize_total_log1p"}
    elif case in ("csr-counts-normalize", "csc-counts-normalize"):
        matrix = sp.csr_matrix(counts) if case.startswith("csr") else sp.csc_matrix(counts)
        adata, options = make_adata(matrix), {"transform": "normalize_total_log1p"}
    elif case == "csr-lognorm-chunks":
        adata, options = make_adata(sp.csr_matrix(log_normalized(counts))), {"chunk_cells": 17}
    elif case == "layer-counts":
        adata = make_adata(sp.csr_matrix(log_normalized(counts)), counts=sp.csr_matrix(counts))
        options = {"layer": "counts", "transform": "normalize_total_log1p"}
    elif case == "raw":
        adata = make_adata(sp.csr_matrix(counts))
        adata.raw = adata
        adata.X = sp.csr_matrix(log_normalized(counts))
        options = {"use_raw": True, "transform": "normalize_total_log1p"}
    else:
        adata = make_adata(log_normalized(counts))
        adata.var["symbol"] = GENES
        adata.var_names = [f"ENSG{i:05d}" for i in range(len(GENES))]
        # A file with var_names_column is read whole; so is a dense object of this size.
        options = {"var_names_column": "symbol"}
    kept = adata.copy()
    from_memory = scored(model, adata, **options)
    from_file = scored(model, written(tmp_path, adata), **options)
    assert_identical(from_memory, from_file)
    assert set(from_memory["TF"]) == set(TFS)
    # Normalizing chunks never writes into the object.
    for name in ("X", *adata.layers.keys()):
        a = adata.X if name == "X" else adata.layers[name]
        b = kept.X if name == "X" else kept.layers[name]
        np.testing.assert_array_equal(a.toarray() if sp.issparse(a) else a, b.toarray() if sp.issparse(b) else b)


def test_small_sparse_object_and_its_file_both_stream_and_score_identically(tmp_path, model):
    """Without options a small sparse .h5ad streams like the sparse object (never densified), so
    the two are identical; a dense file of the same values is read whole and agrees to float32
    rounding."""
    adata = make_adata(sp.csr_matrix(log_normalized(raw_counts())))
    path = written(tmp_path, adata)
    from_memory = scored(model, adata)
    assert_identical(from_memory, scored(model, path))
    dense = written(tmp_path, make_adata(log_normalized(raw_counts())), "dense.h5ad")
    whole = scored(model, dense)
    assert whole.select("TF", "target").equals(from_memory.select("TF", "target"))
    np.testing.assert_allclose(from_memory["score"].to_numpy(), whole["score"].to_numpy(), atol=1e-5)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_backed_anndata_reads_its_file_by_chunks(tmp_path, model, fmt):
    counts = raw_counts()
    matrix = sp.csr_matrix(counts) if fmt == "csr" else sp.csc_matrix(counts)
    path = written(tmp_path, make_adata(matrix))
    backed = anndata.read_h5ad(path, backed="r")
    try:
        options = {"transform": "normalize_total_log1p", "chunk_cells": 20}
        assert_identical(scored(model, backed, **options), scored(model, path, **options))
        # The object's gene names are used, not the file's (renamed in memory).
        backed.var_names = [("Renamed" if g == "G20" else g) for g in GENES]
        renamed = scored(model, backed, **options)
        assert "Renamed" in set(renamed["target"]) and "G20" not in set(renamed["target"])
        np.testing.assert_array_equal(
            renamed["score"].sort().to_numpy(), scored(model, path, **options)["score"].sort().to_numpy()
        )
    finally:
        backed.file.close()


@pytest.mark.parametrize("kind", ["csr_matrix", "csr_array", "coo_matrix"])
def test_sparse_pair_equals_the_anndata(model, kind):
    counts = raw_counts()
    matrix = getattr(sp, kind)(counts)
    options = {"transform": "normalize_total_log1p"}
    reference = scored(model, make_adata(sp.csr_matrix(counts)), **options)
    assert_identical(scored(model, (matrix, GENES), **options), reference)


def test_sparse_matrix_is_never_densified_whole(model, monkeypatch):
    """Only chunks of ``chunk_cells`` rows are ever made dense."""
    chunk = 16
    densified: list[int] = []
    for cls in (sp.csr_matrix, sp.csc_matrix):
        for name in ("toarray", "todense"):
            original = getattr(cls, name)

            def guarded(self, *args, _original=original, **kwargs):
                densified.append(self.shape[0])
                return _original(self, *args, **kwargs)

            monkeypatch.setattr(cls, name, guarded)
    adata = make_adata(sp.csr_matrix(raw_counts()))
    frame = scored(model, adata, chunk_cells=chunk, transform="normalize_total_log1p")
    assert len(frame) == len(TFS) * (len(GENES) - 1)
    assert max(densified, default=0) <= chunk


def test_api_score_takes_layer_and_use_raw(model):
    counts = raw_counts()
    adata = make_adata(sp.csr_matrix(log_normalized(counts)), counts=sp.csr_matrix(counts))
    by_layer = model.score(adata, layer="counts", transform="normalize_total_log1p")
    by_request = model.prepare(ScoreRequest(adata, layer="counts", transform="normalize_total_log1p")).frame()
    assert by_layer.equals(by_request)


# ----------------------------------------------------------------- bad objects


def bad_case(case):
    counts = raw_counts()
    options: dict = {}
    if case == "nan":
        x = log_normalized(counts)
        x[5, 3] = np.nan
        adata, message = make_adata(sp.csr_matrix(x)), "adata.X: nan value for gene 'G3'"
    elif case == "negative-normalize":
        counts[7, 4] = -2
        adata, message = make_adata(sp.csr_matrix(counts)), "adata.X: negative value -2 for gene 'G4'"
        options = {"transform": "normalize_total_log1p"}
    elif case == "no-layer":
        adata, message = make_adata(counts, counts=counts), "layer='spliced': adata has no such layer (layers: counts)"
        options = {"layer": "spliced"}
    elif case == "no-raw":
        adata, message = make_adata(counts), "use_raw=True: adata has no raw"
        options = {"use_raw": True}
    elif case == "duplicates":
        adata = make_adata(counts)
        adata.var_names = GENES[:-1] + ["G3"]
        message = "adata.var_names: duplicate gene names: G3"
    elif case == "zero-cells":
        adata = make_adata(counts)[:0].copy()
        message = "adata: an AnnData with 0 cells"
    elif case == "no-column":
        adata, message = make_adata(counts), "var_names_column='symbol': no such column in adata.var"
        options = {"var_names_column": "symbol"}
    elif case == "pair-mismatch":
        return (sp.csr_matrix(counts), GENES[:-1]), {}, "<sparse matrix>: 23 gene names for 24 genes"
    else:
        raise AssertionError(case)
    return adata, options, message


@pytest.mark.parametrize(
    "case",
    ["nan", "negative-normalize", "no-layer", "no-raw", "duplicates", "zero-cells", "no-column", "pair-mismatch"],
)
def test_bad_objects_fail_in_one_line(model, case):
    data, options, message = bad_case(case)
    with pytest.raises(InputError) as caught:
        model.prepare(ScoreRequest(data, **options)).frame()
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_options_only_an_anndata_takes(model):
    matrix = sp.csr_matrix(raw_counts())
    with pytest.raises(InputError, match="layer= applies to an AnnData") as caught:
        ScoreRequest((matrix, GENES), layer="counts")
    assert caught.value.parameter == "layer"
    with pytest.raises(InputError, match="write it to .h5ad") as caught:
        ScoreRequest(make_adata(matrix), dask_scheduler="local")
    assert caught.value.parameter == "dask_scheduler"


def test_without_anndata_the_error_names_the_extra(tmp_path, model, monkeypatch):
    path = written(tmp_path, make_adata(sp.csr_matrix(raw_counts())))
    monkeypatch.setitem(sys.modules, "anndata", None)  # import anndata now raises ImportError
    with pytest.raises(InputError, match=r"needs anndata, which is not installed: pip install 'deeptgi-rt\[anndata\]'"):
        model.prepare(ScoreRequest(path, chunk_cells=10)).frame()
