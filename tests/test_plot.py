"""`deeptgi-rt plot`: subnetwork choice and the written picture."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from deeptgi_rt.cli import main
from deeptgi_rt.plot import select_subnetwork


@pytest.fixture()
def edges_file(tmp_path):
    rng = np.random.default_rng(3)
    rows = [(f"TF{t}", f"G{g}", float(rng.random())) for t in range(6) for g in range(30)]
    path = tmp_path / "grn.parquet"
    pl.DataFrame(rows, schema=["TF", "target", "score"], orient="row").write_parquet(path)
    return path


def test_subnetwork_keeps_each_tfs_best_targets(edges_file):
    edges = pl.read_parquet(edges_file)
    picked = select_subnetwork(edges, top_tfs=3, top_targets=4)
    assert picked["TF"].n_unique() == 3
    for tf, group in picked.group_by("TF"):
        expected = edges.filter(pl.col("TF") == tf[0]).sort("score", descending=True)["score"].head(4)
        assert sorted(group["score"].to_list(), reverse=True) == expected.to_list()


def test_subnetwork_picks_tfs_with_the_strongest_top_targets(edges_file):
    edges = pl.read_parquet(edges_file)
    totals = {
        tf[0]: group.sort("score", descending=True)["score"].head(4).sum() for tf, group in edges.group_by("TF")
    }
    strongest = sorted(totals, key=totals.get, reverse=True)[:2]
    picked = select_subnetwork(edges, top_tfs=2, top_targets=4)
    assert set(picked["TF"].unique().to_list()) == set(strongest)


def test_plot_writes_a_png(edges_file, tmp_path):
    out = tmp_path / "network.png"
    assert main(["plot", str(edges_file), "--tfs", "TF1", "TF2", "--out", str(out), "--quiet"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_plot_reads_tsv_adjacencies(tmp_path):
    path = tmp_path / "grn.tsv"
    path.write_text("TF\ttarget\timportance\nA\tB\t0.9\nA\tC\t0.5\nD\tB\t0.7\n")
    out = tmp_path / "network.svg"
    assert main(["plot", str(path), "--out", str(out), "--quiet"]) == 0
    assert b"<svg" in out.read_bytes()[:500]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tfs", "TF1", "NOPE"], "NOPE"),
        (["--top-targets", "0"], "must be positive"),
    ],
)
def test_plot_bad_input_is_one_line_and_writes_nothing(edges_file, tmp_path, capsys, args, message):
    out = tmp_path / "network.png"
    assert main(["plot", str(edges_file), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_plot_rejects_edge_list_without_score(tmp_path, capsys):
    path = tmp_path / "grn.tsv"
    path.write_text("TF\tgene\nA\tB\n")
    assert main(["plot", str(path), "--out", str(tmp_path / "n.png")]) == 2
    assert "needs columns TF, target and score" in capsys.readouterr().err
