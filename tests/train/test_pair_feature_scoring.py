"""A model that reads the pair's own PCC scores the same on every path: PyTorch, the factorized
ONNX runtime over all pairs and over listed pairs, the whole graph end to end, and the CLI."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

torch = pytest.importorskip("torch")

TFS = ["BMI1", "E2F4", "EPOR", "GATA1"]


@pytest.fixture(scope="module")
def pair_model(shared_data, tmp_path_factory):
    from deeptgi_train.cli import main

    data = shared_data / "mhsc-e"
    folder = tmp_path_factory.mktemp("pair")
    out = folder / "m.onnx"
    args = ["fit", "--expr", str(data / "expression.csv"), "--labels", str(data / "pairs.csv")]
    args += ["--config", "tiny", "--pair-features", "pcc", "--epochs", "2", "--threads", "1", "--quiet"]
    args += ["--crossfit", "1", "--out", str(out), "--checkpoint", str(folder / "m.pt")]
    assert main(args) == 0
    return out, folder / "m.pt"


def _genes(expression_path, n):
    names = open(expression_path).readline().strip().split(",")[1:]
    return [name for name in names if name not in TFS][:n]


def _torch_grid(checkpoint, expression_path, feature_genes, tfs, genes):
    """PyTorch's probabilities float64 [tfs, genes], from the runtime's feature rows and pair PCC."""
    from deeptgi_rt.expression import read_expression
    from deeptgi_rt.features import entity_features, pair_pcc
    from deeptgi_train.export import load_checkpoint

    expression = read_expression(expression_path)
    features = entity_features([expression], tfs + genes, feature_genes, backend="cpu")
    pair = pair_pcc([expression], tfs, genes, backend="cpu").reshape(len(tfs) * len(genes), 1, 1)
    net, _ = load_checkpoint(checkpoint)
    tf = torch.from_numpy(np.repeat(features[: len(tfs)], len(genes), axis=0))
    gene = torch.from_numpy(np.tile(features[len(tfs) :], (len(tfs), 1, 1)))
    with torch.no_grad():
        logits = net(tf, gene, torch.from_numpy(pair)).double().numpy()
    return (1 / (1 + np.exp(-logits))).reshape(len(tfs), len(genes))


def _lookup(frame):
    rows = frame.select(pl.col("TF").cast(pl.Utf8), pl.col("target").cast(pl.Utf8), "score").iter_rows()
    return {(tf, target): score for tf, target, score in rows}


def test_the_model_declares_its_pair_input_and_the_runtime_cuts_it_into_the_head(pair_model):
    import deeptgi_rt
    from deeptgi_rt.contract import PAIR_INPUT
    from deeptgi_rt.model import head_inputs, read_model, split_model

    assert deeptgi_rt.load_model(pair_model[0], device="cpu").metadata.pair_features == ["pcc"]
    proto, meta = read_model(pair_model[0])
    parts = split_model(proto, meta)
    assert parts.factorized and head_inputs(meta)[-1] == PAIR_INPUT
    assert {value.name for value in parts.pair_head.graph.input} == set(head_inputs(meta))


def test_all_pairs_listed_pairs_end_to_end_and_cli_equal_pytorch(pair_model, shared_data, tmp_path):
    import deeptgi_rt
    from deeptgi_rt.cli import main as rt_main

    model_path, checkpoint = pair_model
    expression = shared_data / "mhsc-e" / "expression.csv"
    model = deeptgi_rt.load_model(model_path, device="cpu")
    genes = _genes(expression, 20)
    expected = _torch_grid(checkpoint, expression, model.metadata.feature_genes, TFS, genes)
    # The pair PCC must matter, or this test could not tell a dropped third input.
    assert np.ptp(expected) > 1e-3

    lookup = _lookup(model.score(expression, tfs=TFS, genes=genes, target_prior=False))
    grid = np.array([[lookup[(tf, gene)] for gene in genes] for tf in TFS])
    np.testing.assert_allclose(grid, expected, atol=1e-5)

    pairs = pl.DataFrame({"TF": [TFS[j % len(TFS)] for j in range(len(genes))], "target": genes[::-1]})
    in_grid = np.array([grid[j % len(TFS), len(genes) - 1 - j] for j in range(len(genes))])
    listed = _lookup(model.score(expression, pairs=pairs, target_prior=False))
    # The listed run correlates another set of rows, so its PCC may differ in the last float32 bit.
    np.testing.assert_allclose(np.array([listed[pair] for pair in pairs.iter_rows()]), in_grid, atol=1e-6)

    pairs_file, out = tmp_path / "pairs.csv", tmp_path / "edges.parquet"
    pairs.write_csv(pairs_file)
    args = ["score", str(expression), "--model", str(model_path), "--pairs", str(pairs_file), "--no-target-prior"]
    assert rt_main([*args, "--device", "cpu", "--threads", "1", "--out", str(out), "-q"]) == 0
    from_cli = _lookup(pl.read_parquet(out))
    np.testing.assert_array_equal(
        np.array([from_cli[pair] for pair in pairs.iter_rows()]), [listed[p] for p in pairs.iter_rows()]
    )


def test_the_factorized_head_equals_the_whole_graph_with_pair_features(pair_model, shared_data):
    from deeptgi_rt.expression import read_expression
    from deeptgi_rt.features import entity_features, pair_feature_table
    from deeptgi_rt.model import ScoringModel

    model = ScoringModel(pair_model[0], device="cpu", threads=1)
    expression = read_expression(shared_data / "mhsc-e" / "expression.csv")
    genes = _genes(shared_data / "mhsc-e" / "expression.csv", 30)
    features = entity_features([expression], TFS + genes, model.metadata.feature_genes, backend="cpu")
    table = pair_feature_table([expression], TFS, genes, ["pcc"], backend="cpu")
    tf_index = np.repeat(np.arange(len(TFS)), len(genes))
    gene_index = np.tile(np.arange(len(genes)), len(TFS))
    tf_features, gene_features = features[tf_index], features[len(TFS) + gene_index]
    pair_rows = table[tf_index, gene_index]
    whole = model.end_to_end_scores(tf_features, gene_features, pair_rows)
    cut = model.pair_scores(model.tf_table(tf_features), model.gene_table(gene_features), pair_rows)
    np.testing.assert_allclose(cut, whole, atol=1e-6)
    with pytest.raises(ValueError, match="pair_rows"):
        model.pair_scores(model.tf_table(tf_features), model.gene_table(gene_features))


def test_info_shows_the_pair_features_and_the_fit_s_genome_wide_check(pair_model, capsys):
    from deeptgi_rt.cli import main as rt_main

    assert rt_main(["info", str(pair_model[0])]) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "pcc of each TF x target pair" in shown
    assert "genome-wide check" in shown and "|PCC| AUROC" in shown
