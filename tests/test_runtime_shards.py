"""runtime/shards.py: scoring TF shards separately and merging equals scoring everything at once."""

from __future__ import annotations

import importlib.util
import types

import polars as pl
import pytest
from conftest import REPO
from onnx_models import build_model, save_model, synthetic_expression, write_genes_by_cells_csv

from deeptgi_rt.cli import main

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
        assert (
            main(
                [
                    "score",
                    str(expr),
                    "--model",
                    str(model),
                    "--tfs",
                    str(tmp_path / "shards" / f"shard-{k}.txt"),
                    "--out",
                    str(part),
                    "--quiet",
                ]
            )
            == 0
        )
        parts.append(str(part))
    merged = tmp_path / "merged.parquet"
    assert shards.main(["merge", str(merged), *parts]) == 0
    whole = tmp_path / "whole.parquet"
    assert main(["score", str(expr), "--model", str(model), "--out", str(whole), "--quiet"]) == 0
    # A .tsv name gets the adjacency table `deeptgi-rt score --format tsv` writes.
    assert shards.main(["merge", str(tmp_path / "merged.tsv"), *parts]) == 0
    assert main(["score", str(expr), "--model", str(model), "--out", str(tmp_path / "whole.tsv"), "--quiet"]) == 0
    merged_tsv, whole_tsv = ((tmp_path / name).read_text().splitlines() for name in ("merged.tsv", "whole.tsv"))
    assert merged_tsv[0] == whole_tsv[0] == "TF\ttarget\timportance"
    assert sorted(merged_tsv[1:]) == sorted(whole_tsv[1:]) and len(merged_tsv) == 7 * 29 + 1
    importance = [float(line.split("\t")[2]) for line in merged_tsv[1:]]
    assert importance == sorted(importance, reverse=True)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []

    got = pl.read_parquet(merged).with_columns(pl.col("TF", "target").cast(pl.String))
    want = pl.read_parquet(whole).with_columns(pl.col("TF", "target").cast(pl.String))
    assert len(got) == len(want) == 7 * 29
    assert got["score"].to_list() == sorted(got["score"].to_list(), reverse=True)
    key = ["TF", "target"]
    assert got.sort(key).equals(want.sort(key))


def _snakefile_shards(tfs_file, n_shards) -> list[int]:
    """The shard numbers runtime/Snakefile declares jobs for (its Python header, run as Snakemake would)."""
    text = (REPO / "runtime" / "Snakefile").read_text()
    header = text[: text.index("\nrule ")]
    namespace = {
        "config": {"tfs": str(tfs_file), "shards": n_shards},
        "workflow": types.SimpleNamespace(basedir=str(REPO / "runtime")),
    }
    exec(compile(header, "Snakefile", "exec"), namespace)
    return list(namespace["SHARDS"])


@pytest.mark.parametrize("n_tfs, n_shards", [(2, 5), (1, 4), (6, 4)])
def test_workflow_declares_exactly_the_shards_split_writes(tmp_path, n_tfs, n_shards):
    # More shards than TFs used to leave Snakemake waiting for shard lists split never wrote.
    tfs = tmp_path / "tfs.txt"
    tfs.write_text("".join(f"TF{i}\n" for i in range(n_tfs)))
    assert shards.main(["split", str(tfs), str(n_shards), str(tmp_path / "shards")]) == 0
    written = sorted(int(p.stem.split("-")[1]) for p in (tmp_path / "shards").glob("shard-*.txt"))
    assert written == list(range(min(n_tfs, n_shards)))
    assert shards.shard_count(tfs, n_shards) == len(written)
    assert _snakefile_shards(tfs, n_shards) == written
    listed = [line for k in written for line in (tmp_path / "shards" / f"shard-{k}.txt").read_text().split()]
    assert sorted(listed) == [f"TF{i}" for i in range(n_tfs)]
