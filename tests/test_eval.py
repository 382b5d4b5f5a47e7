"""`deeptgi-rt eval` and deeptgi_rt.evaluation: formats, the candidate-set rule, unlisted candidates,
bad input, and CLI = API on the edge-list formats `deeptgi-rt score` writes."""

from __future__ import annotations

import json
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from deeptgi_rt import metrics
from deeptgi_rt.cli import main
from deeptgi_rt.edges import EdgeBlock, EdgeNames, write_edges
from deeptgi_rt.errors import InputError
from deeptgi_rt.evaluation import build_candidates, default_tfs, evaluate, read_predictions, read_truth

TFS = ["T1", "T2", "T3"]
GENES = ["T1", "T2", "T3", "G1", "G2", "G3", "G4", "G5"]
TRUTH = [("T1", "G1"), ("T1", "G2"), ("T2", "G1"), ("T2", "T3"), ("T3", "G4"), ("T3", "T3"), ("X9", "G1")]


def all_pairs_scores(seed: int = 0) -> list[tuple[str, str, float]]:
    """Every TF x gene pair but self-pairs, with distinct random scores."""
    rng = np.random.default_rng(seed)
    pairs = [(tf, gene) for tf in TFS for gene in GENES if tf != gene]
    return [(tf, gene, float(s)) for (tf, gene), s in zip(pairs, rng.permutation(len(pairs)) / len(pairs))]


@pytest.fixture
def files(tmp_path):
    truth = tmp_path / "truth.csv"
    truth.write_text("Gene1,Gene2\n" + "".join(f"{a},{b}\n" for a, b in TRUTH))
    genes = tmp_path / "genes.txt"
    genes.write_text("\n".join(GENES) + "\n")
    return tmp_path, truth, genes


def write_parquet_like_score(path, rows) -> None:
    """The Parquet edge list `deeptgi-rt score` writes (dictionary-encoded names, float32 score)."""
    names = EdgeNames(TFS, GENES)
    block = EdgeBlock(
        np.array([TFS.index(r[0]) for r in rows], np.int32),
        np.array([GENES.index(r[1]) for r in rows], np.int32),
        np.array([r[2] for r in rows], np.float32),
    )
    write_edges(block, names, path, format="parquet")


def write_tsv_like_score(path, rows) -> None:
    names = EdgeNames(TFS, GENES)
    block = EdgeBlock(
        np.array([TFS.index(r[0]) for r in rows], np.int32),
        np.array([GENES.index(r[1]) for r in rows], np.int32),
        np.array([r[2] for r in rows], np.float32),
    )
    write_edges(block, names, path, format="tsv")


def write_text(path, header: str, rows, sep: str) -> None:
    path.write_text(header + "\n" + "".join(f"{a}{sep}{b}{sep}{s!r}\n" for a, b, s in rows))


def test_every_accepted_prediction_format_gives_the_same_figures(files):
    tmp, truth, genes = files
    rows = [(a, b, float(np.float32(s))) for a, b, s in all_pairs_scores()]
    paths = [
        tmp / "ours.parquet",
        tmp / "ours.tsv",
        tmp / "grnboost.tsv",
        tmp / "decoupler.csv",
        tmp / "any.txt",
        tmp / "beeline.tsv",
    ]
    write_parquet_like_score(paths[0], rows)
    write_tsv_like_score(paths[1], rows)
    write_text(paths[2], "TF\ttarget\timportance", rows, "\t")
    write_text(paths[3], "source,target,weight", rows, ",")
    write_text(paths[4], "tf\tGene\tScore", rows, "\t")  # tab-separated .txt, other column spellings
    write_text(paths[5], "Gene1\tGene2\tEdgeWeight", rows, "\t")
    result = evaluate(paths, truth, genes=genes)
    first = result.methods[0]
    for method in result.methods[1:]:
        assert method.summary == pytest.approx(first.summary)
        assert (method.target_wise.mean, method.target_wise.targets) == (
            first.target_wise.mean,
            first.target_wise.targets,
        )
        assert method.listed == len(rows)


@pytest.mark.parametrize(
    "header,rows",
    [
        ("Gene1,Gene2", [f"{a},{b}" for a, b in TRUTH]),
        ("TF,target", [f"{a},{b}" for a, b in TRUTH]),
        ("source,target", [f"{a},{b}" for a, b in TRUTH]),
        # Labelled pairs: only label-1 rows are edges.
        ("TF,Target,Label", [f"{a},{b},1" for a, b in TRUTH] + ["T1,G5,0", "T2,G4,0"]),
    ],
)
def test_truth_formats(tmp_path, header, rows):
    path = tmp_path / "truth.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    truth = read_truth(path)
    assert list(zip(truth.tf.to_pylist(), truth.target.to_pylist())) == TRUTH


def test_candidate_set_rule(files):
    tmp, truth, genes = files
    # The prediction lists T1 and T2 only: default TFs = truth TFs it covers (X9 is no gene; T3 unlisted).
    rows = [r for r in all_pairs_scores() if r[0] != "T3"]
    write_text(tmp / "p.tsv", "TF\ttarget\timportance", rows, "\t")
    edges, truth_edges = read_predictions(tmp / "p.tsv"), read_truth(truth)
    assert default_tfs(truth_edges, [edges]) == ["T1", "T2"]
    candidates = build_candidates(truth_edges, ["T1", "T2"], GENES)
    # 2 TFs x 8 genes minus the 2 self-pairs.
    assert len(candidates) == 14
    pairs = {(candidates.tfs[t], candidates.genes[g]) for t, g in zip(candidates.tf_index, candidates.gene_index)}
    assert ("T1", "T1") not in pairs and ("T1", "T2") in pairs
    # True among candidates: T1->G1, T1->G2, T2->G1, T2->T3; a self-pair: T3->T3; outside: T3->G4, X9->G1.
    assert candidates.positives == 4 and candidates.truth_edges == 7
    assert candidates.truth_self_pairs == 1 and candidates.truth_outside == 2
    # An explicit TF list widens the set; the self-edge T3->T3 is never a candidate.
    everything = build_candidates(truth_edges, TFS, GENES)
    assert len(everything) == 21 and everything.positives == 5


def test_eval_prints_the_candidate_set_used_and_counts_truth_self_pairs_apart(files, capsys):
    tmp, truth, genes = files
    write_text(tmp / "p.tsv", "TF\ttarget\timportance", [r for r in all_pairs_scores() if r[0] != "T3"], "\t")
    report = tmp / "report"
    assert (
        main(["eval", str(tmp / "p.tsv"), "--truth", str(truth), "--genes", str(genes), "--report", str(report)]) == 0
    )
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("candidates: 2 TFs x 8 genes, self-pairs excluded = 14 pairs; true edges among them: 4")
    # Which input restricted the set: the TFs to the truth's TFs the prediction lists, the genes to --genes.
    assert lines[1] == "  TFs from the truth's TFs that every prediction lists (2 of 4): T1, T2"
    assert lines[2] == f"  genes from the gene list {genes}: T1, T2, T3, G1, G2, ... (8 in all)"
    assert lines[3] == (
        "  truth edges: 7 = 4 among the candidates + 1 self-pair (TF -> itself, never a candidate) "
        "+ 2 outside the candidates (ignored)"
    )
    written = json.loads((report / "metrics.json").read_text())["candidates"]
    assert written["truth_self_pairs"] == 1 and written["truth_edges_outside"] == 2
    assert written["genes_from"] == f"the gene list {genes}" and written["tf_names"] == ["T1", "T2"]
    tf_list = tmp / "tfs.txt"
    tf_list.write_text("T1\nT3\n")
    assert main(["eval", str(tmp / "p.tsv"), "--truth", str(truth), "--tfs", str(tf_list), "--genes", str(genes)]) == 0
    assert f"  TFs from the TF list {tf_list}: T1, T3" in capsys.readouterr().err.splitlines()


def test_unlisted_candidates_score_lowest(files):
    tmp, truth, genes = files
    rows = all_pairs_scores(1)
    listed = rows[::2]
    write_text(tmp / "part.tsv", "TF\ttarget\timportance", listed, "\t")
    # The same ranking made explicit: every unlisted pair at one score below all listed ones.
    explicit = listed + [(a, b, -1.0) for a, b, _ in rows[1::2]]
    write_text(tmp / "full.tsv", "TF\ttarget\timportance", explicit, "\t")
    part, full = evaluate([tmp / "part.tsv", tmp / "full.tsv"], truth, tfs=TFS, genes=genes).methods
    assert part.listed == len(listed) and full.listed == len(rows)
    assert part.summary["auroc"] == pytest.approx(full.summary["auroc"])
    assert part.summary["average_precision"] == pytest.approx(full.summary["average_precision"])
    # A pair listed twice keeps its highest score; pairs outside the candidates are ignored.
    write_text(
        tmp / "dup.tsv",
        "TF\ttarget\timportance",
        listed + [(listed[0][0], listed[0][1], -5.0), ("Q1", "G1", 9.0)],
        "\t",
    )
    dup = evaluate([tmp / "dup.tsv"], truth, tfs=TFS, genes=genes).methods[0]
    assert dup.summary == pytest.approx(part.summary)


def test_prior_row_is_target_in_degree(files):
    tmp, truth, genes = files
    write_text(tmp / "p.tsv", "TF\ttarget\timportance", all_pairs_scores(), "\t")
    labels = tmp / "labels.csv"
    labels.write_text("TF,Target,Label\nZ1,G1,1\nZ2,G1,1\nZ1,G2,1\nZ1,G3,0\n")
    result = evaluate([tmp / "p.tsv"], truth, tfs=TFS, genes=genes, prior_from=labels)
    prior = result.methods[-1]
    c = result.candidates
    degree = np.array([{"G1": 2, "G2": 1}.get(g, 0) for g in c.genes], dtype=float)[c.gene_index]
    assert prior.name == "label-only prior"
    assert prior.summary["auroc"] == pytest.approx(metrics.auroc(c.labels, degree))
    assert prior.target_wise.mean == 0.5
    assert prior.pair_specific.mean == 0.5  # a target-only score, whatever the rank scale


def test_pair_specific_auroc_gives_a_tf_hub_score_half(files):
    tmp, truth, genes = files
    # T3 has the fewest true edges: scoring by TF alone (T2 > T1 > T3) ranks the targets' TFs
    # better than chance (0.625 here) and says nothing about any pair.
    hub = {"T1": 2.0, "T2": 3.0, "T3": 1.0}
    write_text(
        tmp / "hub.tsv", "TF\ttarget\timportance", [(tf, gene, hub[tf]) for tf, gene, _ in all_pairs_scores()], "\t"
    )
    method = evaluate([tmp / "hub.tsv"], truth, tfs=TFS, genes=genes).methods[0]
    assert method.target_wise.mean == pytest.approx(0.625) and method.pair_specific.mean == 0.5


def test_cli_and_api_agree_end_to_end(files, capsys):
    tmp, truth, genes = files
    write_parquet_like_score(tmp / "a.parquet", [(a, b, float(np.float32(s))) for a, b, s in all_pairs_scores(2)])
    write_tsv_like_score(tmp / "b.tsv", all_pairs_scores(3)[:15])
    report = tmp / "report"
    code = main(
        [
            "eval",
            str(tmp / "a.parquet"),
            str(tmp / "b.tsv"),
            "--truth",
            str(truth),
            "--genes",
            str(genes),
            "--bootstrap",
            "30",
            "--seed",
            "4",
            "--report",
            str(report),
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "candidates: 3 TFs x 8 genes" in err and "= 21 pairs" in err
    api = evaluate([tmp / "a.parquet", tmp / "b.tsv"], truth, genes=genes, bootstrap=30, seed=4)
    written = json.loads((report / "metrics.json").read_text())
    assert written["candidates"]["pairs"] == 21 and written["candidates"]["true_edges"] == 5
    for row, method in zip(written["methods"], api.methods):
        assert row["name"] == method.name
        for key in ("auroc", "average_precision", "auprc_ratio", "epr"):
            assert row[key] == pytest.approx(method.summary[key], abs=1e-15)
        assert row["intervals"]["auroc"] == pytest.approx(list(method.intervals["auroc"]))
        assert row["target_wise_auroc"]["mean"] == pytest.approx(method.target_wise.mean)
        assert row["pair_specific_auroc"]["mean"] == pytest.approx(method.pair_specific.mean)
    assert "PS-AUROC" in err
    csv_lines = (report / "metrics.csv").read_text().splitlines()
    assert len(csv_lines) == 3 and csv_lines[1].startswith("a.parquet,")
    for name in ("roc.png", "pr.png"):
        assert (report / name).stat().st_size > 1000


def run_cli(argv, capsys) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize(
    "case,expected",
    [
        ("unknown_columns", "no TF and target columns"),
        ("no_score_column", "no score column"),
        ("empty_truth", "has no edges"),
        ("no_overlap", "no TF in common"),
        ("nan_score", "NaN or infinite"),
        ("missing_file", "not found"),
        ("no_genes_in_common", "none of its"),
        ("text_score", "not numeric"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(files, capsys, case, expected):
    tmp, truth, genes = files
    pred = tmp / "p.tsv"
    write_text(pred, "TF\ttarget\timportance", all_pairs_scores(), "\t")
    if case == "unknown_columns":
        write_text(pred, "regulator\tgene_x\timportance", all_pairs_scores(), "\t")
    elif case == "no_score_column":
        write_text(pred, "TF\ttarget\trank", all_pairs_scores(), "\t")
    elif case == "empty_truth":
        truth.write_text("Gene1,Gene2\n")
    elif case == "no_overlap":
        truth.write_text("Gene1,Gene2\nZ1,G1\n")
    elif case == "nan_score":
        pred.write_text("TF\ttarget\timportance\nT1\tG1\t0.5\nT1\tG2\tnan\n")
    elif case == "missing_file":
        pred = tmp / "absent.tsv"
    elif case == "no_genes_in_common":
        genes.write_text("Q1\nQ2\n")
    elif case == "text_score":
        pred.write_text("TF\ttarget\timportance\nT1\tG1\thigh\n")
    code, err = run_cli(["eval", str(pred), "--truth", str(truth), "--genes", str(genes)], capsys)
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("deeptgi-rt: error:") and expected in err
    assert "Traceback" not in err


def test_report_without_matplotlib_fails_first_naming_the_extra(files, capsys, monkeypatch):
    tmp, truth, genes = files
    write_text(tmp / "p.tsv", "TF\ttarget\timportance", all_pairs_scores(), "\t")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, err = run_cli(
        ["eval", str(tmp / "p.tsv"), "--truth", str(truth), "--genes", str(genes), "--report", str(tmp / "rep")], capsys
    )
    assert code == 2 and "deeptgi-rt[plot]" in err and len(err.splitlines()) == 1
    assert not (tmp / "rep").exists()


def test_api_needs_the_candidate_genes(files):
    tmp, truth, _ = files
    write_text(tmp / "p.tsv", "TF\ttarget\timportance", all_pairs_scores(), "\t")
    with pytest.raises(InputError, match="--genes FILE or --expr"):
        evaluate([tmp / "p.tsv"], truth)


def test_genes_from_an_expression_file(files):
    tmp, truth, genes = files
    write_text(tmp / "p.tsv", "TF\ttarget\timportance", all_pairs_scores(), "\t")
    rng = np.random.default_rng(0)
    expr = tmp / "expr.csv"
    expr.write_text(
        "gene,"
        + ",".join(f"c{j}" for j in range(5))
        + "\n"
        + "".join(f"{g}," + ",".join(f"{v:.3f}" for v in rng.random(5)) + "\n" for g in GENES)
    )
    by_expr = evaluate([tmp / "p.tsv"], truth, expression=expr).methods[0]
    by_list = evaluate([tmp / "p.tsv"], truth, genes=genes).methods[0]
    assert by_expr.summary == by_list.summary


def test_parquet_prediction_with_string_columns(tmp_path, files):
    tmp, truth, genes = files
    rows = all_pairs_scores()
    pq.write_table(
        pa.table({"source": [r[0] for r in rows], "target": [r[1] for r in rows], "weight": [r[2] for r in rows]}),
        tmp / "net.parquet",
    )
    result = evaluate([tmp / "net.parquet"], truth, genes=genes)
    assert result.methods[0].listed == len(rows)
