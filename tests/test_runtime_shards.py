"""runtime/shards.py: scoring TF shards separately and merging equals scoring everything at once."""

from __future__ import annotations

import importlib.util

import polars as pl
import pytest

from conftest import REPO
from deeptgi_rt.cli import main
from onnx_models import build_model, save_model, synthetic_expression, write_genes_by_cells_csv

_spec = importlib.util.spec_from_file_location("shards", REPO / "runtime" / "shards.py")
shards = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shards)


def test_split_deals_every_tf_once_into_balanced_shards():
    tfs = [f"TF{i}" for i in range(11)]
    parts = shards.split_tfs(tfs, 4)
    assert sorted(tf for part in parts for tf in part) == sorted(tfs)
    assert {len(part) for part in parts} <= {2, 3}
    assert len(shards.split_tfs(tfs[:2], 5)) == 2
    with pytest.raises(ValueError):
        shards.split_tfs(tfs, 0)


def test_scatter_score_merge_equals_one_run(tmp_path):
    genes, values = synthetic_expression(30, 50)
    expr = write_genes_by_cells_csv(tmp_path / "expr.csv", genes, values)
    model = save_model(build_model(genes[:12], head="mlp", tfs=genes[:7]), tmp_path / "model.onnx")
    (tmp_path / "tfs.txt").write_text("\n".join(genes[:7]) + "\n")

    assert shards.main(["split", str(tmp_path / "tfs.txt"), "3", str(tmp_path / "shards")]) == 0
    parts = []
    for k in range(3):
        part = tmp_path / f"grn-{k}.parquet"
        assert main(["score", str(expr), "--model", str(model), "--tfs", str(tmp_path / "shards" / f"shard-{k}.txt"),
                     "--out", str(part), "--quiet"]) == 0
        parts.append(str(part))
    merged = tmp_path / "merged.parquet"
    assert shards.main(["merge", str(merged), *parts]) == 0
    whole = tmp_path / "whole.parquet"
    assert main(["score", str(expr), "--model", str(model), "--out", str(whole), "--quiet"]) == 0

    got = pl.read_parquet(merged).with_columns(pl.col("TF", "target").cast(pl.String))
    want = pl.read_parquet(whole).with_columns(pl.col("TF", "target").cast(pl.String))
    assert len(got) == len(want) == 7 * 29
    assert got["score"].to_list() == sorted(got["score"].to_list(), reverse=True)
    key = ["TF", "target"]
    assert got.sort(key).equals(want.sort(key))
