"""The bilinear (compact) pair head: the runtime's numpy GEMM equals the ONNX pair head and the
whole graph, all-pairs and listed scoring agree, ``top_k`` equals sorting all scores, and
models without the head kind (or with one this runtime does not know) score as before."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

pytest.importorskip("torch")

from compact_models import TFS, planted_teacher, random_pcc, write_data  # noqa: E402

from deeptgi_rt.errors import InputError  # noqa: E402


@pytest.fixture(scope="module")
def compact(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compact")
    return planted_teacher(folder / "compact.onnx"), write_data(folder)


def test_numpy_head_equals_the_onnx_pair_head_and_the_whole_graph(compact):
    from deeptgi_rt.model import ScoringModel

    model = ScoringModel(compact[0], device="cpu", threads=1)
    assert model.bilinear is not None and model.block_scores is not None
    features = random_pcc((50, 1, 36), 1), random_pcc((50, 1, 36), 2)
    pair = random_pcc((50, 1, 1), 3)
    tf_rows, gene_rows = model.tf_table(features[0]), model.gene_table(features[1])
    numpy_scores = model.pair_scores(tf_rows, gene_rows, pair)
    # The file's own ONNX pair head, as a runtime that does not know the kind runs it.
    from deeptgi_rt.model import PairRunner

    onnx_head = PairRunner(model._full_bytes, model.providers, 1)
    end_to_end = onnx_head.run(["tf_features", "gene_features", "pair_features"], *features, pair)
    assert np.abs(numpy_scores - end_to_end).max() <= 1e-5
    assert np.ptp(numpy_scores) > 0.1  # a head that ignored its inputs could not pass


def test_gemm_block_equals_per_pair_scores(compact):
    from deeptgi_rt.model import ScoringModel

    model = ScoringModel(compact[0], device="cpu", threads=1)
    tf_table = model.tf_table(random_pcc((5, 1, 36), 4))
    gene_table = model.gene_table(random_pcc((30, 1, 36), 5))
    pair_block = random_pcc((5, 30, 1, 1), 6)
    block = model.block_scores(tf_table, gene_table, pair_block)
    tf_index, gene_index = np.divmod(np.arange(150), 30)
    per_pair = model.pair_scores(
        np.ascontiguousarray(tf_table[tf_index]),
        np.ascontiguousarray(gene_table[gene_index]),
        pair_block.reshape(150, 1, 1),
    )
    assert block.shape == (5, 30)
    assert np.abs(block.ravel() - per_pair).max() <= 1e-6


def _lookup(frame):
    rows = frame.select(pl.col("TF").cast(pl.Utf8), pl.col("target").cast(pl.Utf8), "score").iter_rows()
    return {(tf, target): score for tf, target, score in rows}


def test_all_pairs_listed_pairs_and_the_cli_agree(compact, tmp_path):
    import deeptgi_rt
    from deeptgi_rt.cli import main as rt_main

    model_path, expr = compact
    model = deeptgi_rt.load_model(model_path, device="cpu", threads=1)
    every = _lookup(model.score(expr))
    assert len(every) == len(TFS) * 35
    pairs = pl.DataFrame({"TF": [tf for tf, _ in every][:40], "target": [g for _, g in every][:40]})
    listed = _lookup(model.score(expr, pairs=pairs))
    assert max(abs(listed[key] - every[key]) for key in listed) <= 1e-6
    out = tmp_path / "edges.parquet"
    args = ["score", str(expr), "--model", str(model_path), "--device", "cpu", "--threads", "1"]
    assert rt_main([*args, "--out", str(out), "-q"]) == 0
    cli = _lookup(pl.read_parquet(out))
    assert cli.keys() == every.keys()
    assert max(abs(cli[key] - every[key]) for key in cli) <= 1e-6


def test_top_k_equals_sorting_all_scores(compact):
    import deeptgi_rt

    model_path, expr = compact
    model = deeptgi_rt.load_model(model_path, device="cpu", threads=1)
    every = model.score(expr).with_columns(pl.col("TF").cast(pl.Utf8), pl.col("target").cast(pl.Utf8))
    top = model.score(expr, top_k=5).with_columns(pl.col("TF").cast(pl.Utf8), pl.col("target").cast(pl.Utf8))
    for tf in TFS:
        expected = every.filter(pl.col("TF") == tf).sort("score", descending=True).head(5)
        got = top.filter(pl.col("TF") == tf).sort("score", descending=True)
        assert got["target"].to_list() == expected["target"].to_list()
        assert np.allclose(got["score"].to_numpy(), expected["score"].to_numpy(), atol=0)


def test_an_unknown_head_kind_scores_with_the_onnx_head_and_equals_the_bilinear_runtime(compact, tmp_path):
    import onnx

    import deeptgi_rt

    model_path, expr = compact
    proto = onnx.load(model_path)
    for prop in proto.metadata_props:
        if prop.key == "head":
            prop.value = json.dumps({"kind": "some-future-head"})
    other = tmp_path / "future.onnx"
    onnx.save(proto, other)
    future = deeptgi_rt.load_model(other, device="cpu", threads=1)
    assert future._model.bilinear is None and future.factorized
    a = _lookup(future.score(expr))
    b = _lookup(deeptgi_rt.load_model(model_path, device="cpu", threads=1).score(expr))
    assert max(abs(a[key] - b[key]) for key in a) <= 1e-5


def test_malformed_bilinear_heads_are_refused_with_one_line(compact, tmp_path):
    import onnx

    from deeptgi_rt.model import ScoringModel

    model_path, _ = compact
    cases = {
        "kind": {"kind": 3},
        "rank": {"kind": "bilinear", "rank": 0, "pair_terms": ["z"]},
        "pair_terms": {"kind": "bilinear", "rank": 3, "pair_terms": ["cube"]},
        "states": {"kind": "bilinear", "rank": 5, "pair_terms": ["z", "abs_z"]},
    }
    for label, head in cases.items():
        proto = onnx.load(model_path)
        for prop in proto.metadata_props:
            if prop.key == "head":
                prop.value = json.dumps(head)
        path = tmp_path / f"{label}.onnx"
        onnx.save(proto, path)
        with pytest.raises(InputError, match="metadata head") as error:
            ScoringModel(path, device="cpu", threads=1)
        assert "\n" not in str(error.value)
