"""`deeptgi-rt plot`: subnetwork choice and the written picture."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from deeptgi_rt.cli import main
from deeptgi_rt.errors import InputError
from deeptgi_rt.plot import edge_score_rank, network_layout, read_edges, select_subnetwork
from deeptgi_rt.ranking import strongest_tfs


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


def test_subnetwork_picks_the_tfs_with_most_edges_over_the_threshold(edges_file):
    edges = pl.read_parquet(edges_file)
    counts = {tf[0]: int((group["score"] >= 0.6).sum()) for tf, group in edges.group_by("TF")}
    strongest = sorted(counts, key=lambda tf: (-counts[tf], tf))[:2]
    picked = select_subnetwork(edges, top_tfs=2, top_targets=4, threshold=0.6)
    assert set(picked["TF"].unique().to_list()) == set(strongest)
    with pytest.raises(InputError, match="no edge has a score >= 2"):
        select_subnetwork(edges, top_tfs=2, threshold=2.0)


def test_plot_ranks_tfs_as_the_score_summary_does(tmp_path):
    from onnx_models import build_model, save_model, synthetic_expression, write_genes_by_cells_csv

    import deeptgi_rt

    genes, values = synthetic_expression(30, 40)
    expr = write_genes_by_cells_csv(tmp_path / "expr.csv", genes, values)
    model_path = save_model(build_model(genes[:12], head="mlp", tfs=genes[:8], threshold=0.5), tmp_path / "m.onnx")
    summary = deeptgi_rt.load_model(model_path).write(tmp_path / "grn.parquet", expr)
    assert summary.top_tfs, "the synthetic model should call some edges"
    edges = read_edges(tmp_path / "grn.parquet")
    counts = edges.group_by("TF").agg((pl.col("score") >= summary.threshold).sum().alias("over"))
    from_file = strongest_tfs(counts["TF"].to_list(), counts["over"].to_numpy())
    assert dict(from_file) == dict(summary.top_tfs)
    assert [count for _, count in from_file] == [count for _, count in summary.top_tfs]
    k = 3
    picked = select_subnetwork(edges, top_tfs=k, threshold=summary.threshold)
    assert set(picked["TF"].unique().to_list()) == {tf for tf, _ in from_file[:k]}
    out = tmp_path / "network.png"
    assert (
        main(
            [
                "plot",
                str(tmp_path / "grn.parquet"),
                "--model",
                str(model_path),
                "--top-tfs",
                str(k),
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )


@pytest.mark.parametrize("threshold", [None, "balanced-youden", "0.95"])
def test_plot_with_model_draws_the_summarys_top_tfs_for_the_same_threshold(tmp_path, monkeypatch, threshold):
    from onnx_models import build_model, save_model, synthetic_expression, with_metadata, write_genes_by_cells_csv

    import deeptgi_rt
    import deeptgi_rt.plot

    genes, values = synthetic_expression(40, 60)
    expr = write_genes_by_cells_csv(tmp_path / "expr.csv", genes, values)
    # A label prior moves the genome-wide cut (0.89) away from the balanced one (0.3); on these
    # weights the two cuts rank different TFs first.
    built = build_model(genes[:15], head="mlp", tfs=genes[:10], threshold=0.3, weight_scale=3.0)
    model = save_model(
        with_metadata(built, label_prior={"class_balance": 0.5, "network_density": 0.05}), tmp_path / "m.onnx"
    )
    options = {} if threshold is None else {"threshold": threshold}
    summary = deeptgi_rt.load_model(model, device="cpu").write(tmp_path / "grn.parquet", expr, **options)
    drawn = []
    monkeypatch.setattr(deeptgi_rt.plot, "draw_network", lambda subnetwork, out, **_: drawn.append(subnetwork))
    k = 3
    argv = ["plot", str(tmp_path / "grn.parquet"), "--top-tfs", str(k)]
    # A score of the user's is the cut itself; the model's cuts need the model.
    argv += ["--threshold", threshold] if threshold == "0.95" else ["--model", str(model)]
    argv += ["--threshold", threshold] if threshold == "balanced-youden" else []
    assert main([*argv, "--out", str(tmp_path / "network.png"), "--quiet"]) == 0
    assert set(drawn[0]["TF"].unique().to_list()) == {tf for tf, _ in summary.top_tfs[:k]}


def test_plot_threshold_names_need_the_model_and_density_is_refused(edges_file, tmp_path, capsys):
    out = tmp_path / "network.png"
    for argv, message in [
        (["--threshold", "youden"], "give the model with --model"),
        (["--threshold", "density"], "pass the cut the score summary printed"),
        (["--threshold", "high"], "--threshold must be"),
    ]:
        assert main(["plot", str(edges_file), "--out", str(out), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_strongest_tfs_most_edges_first_ties_by_name():
    assert strongest_tfs(["B", "A", "C", "D"], np.array([3, 3, 5, 0])) == [("C", 5), ("A", 3), ("B", 3)]
    assert strongest_tfs(["B", "A", "C"], [3, 3, 5], limit=2) == [("C", 5), ("A", 3)]
    assert strongest_tfs([], []) == []


def test_layout_gives_tfs_sharing_their_targets_separate_places():
    # GATA1 and KLF1 regulate the same genes: a force-directed layout put them on one spot.
    shared = [f"T{i}" for i in range(10)]
    rows = [(tf, target, 0.98 + 0.001 * i) for tf in ("GATA1", "KLF1") for i, target in enumerate(shared)]
    rows += [("TAL1", target, 0.97) for target in shared[:4] + ["OWN1", "OWN2"]]
    rows += [("GATA1", "KLF1", 0.99)]  # a TF that is also a target stays one node
    subnetwork = pl.DataFrame(rows, schema=["TF", "target", "score"], orient="row")
    layout = network_layout(subnetwork)
    assert set(layout) == set(subnetwork["TF"]) | set(subnetwork["target"])
    points = np.array(list(layout.values()))
    distances = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
    np.fill_diagonal(distances, np.inf)
    assert distances.min() > 0.1
    assert np.abs(points).max() <= 1.0 + 1e-9


def test_edge_colours_spread_over_the_drawn_scores():
    # A model's top scores crowd into 0.98-0.99; colours by rank use the whole scale for them.
    rank = edge_score_rank([0.982, 0.992, 0.985, 0.985])
    assert rank.tolist() == [0.0, 1.0, 0.5, 0.5]
    assert edge_score_rank([0.5]).tolist() == [1.0]


def test_missing_plot_extra_is_one_line_naming_it(edges_file, tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "networkx", None)  # import networkx now raises ImportError
    out = tmp_path / "network.png"
    assert main(["plot", str(edges_file), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == 'deeptgi-rt: error: drawing needs networkx, which is not installed: pip install -e ".[plot]"'
    assert not out.exists()


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
