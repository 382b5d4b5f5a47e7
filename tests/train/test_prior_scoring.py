"""A model trained with the prior offset (--prior-offset) carries its target table, and every scoring
path adds it the same way: PyTorch network + offset, the factorized ONNX runtime over all pairs,
listed pairs, the API and the command line."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

TFS = ["BMI1", "E2F4", "EPOR", "GATA1"]


def _fit(shared_data, tmp_path_factory, *extra):
    from deeptgi_train.cli import main

    data = shared_data / "mhsc-e"
    folder = tmp_path_factory.mktemp("prior")
    out = folder / "m.onnx"
    assert (
        main(
            [
                "fit",
                "--expr",
                str(data / "expression.csv"),
                "--labels",
                str(data / "pairs.csv"),
                "--config",
                "tiny",
                "--epochs",
                "2",
                "--threads",
                "1",
                "--quiet",
                "--validation-split",
                "tf",
                "--negatives",
                "file",
                "--out",
                str(out),
                "--checkpoint",
                str(folder / "m.pt"),
                *extra,
            ]
        )
        == 0
    )
    return out, folder / "m.pt"


@pytest.fixture(scope="module")
def prior_model(shared_data, tmp_path_factory):
    return _fit(shared_data, tmp_path_factory, "--prior-offset")


def _network_and_offset(model_path, checkpoint, expression_path, tfs, genes, case_insensitive=False):
    """PyTorch's network probabilities float64 [tfs, genes] and the table's offsets [genes]."""
    import torch

    import deeptgi_rt
    from deeptgi_rt.expression import read_expression
    from deeptgi_rt.features import entity_features
    from deeptgi_rt.target_prior import target_offsets
    from deeptgi_train.export import load_checkpoint

    meta = deeptgi_rt.load_model(model_path, device="cpu").metadata
    expression = read_expression(expression_path)
    features = entity_features([expression], tfs + genes, meta.feature_genes, backend="cpu")
    net, _ = load_checkpoint(checkpoint)
    tf = torch.from_numpy(np.repeat(features[: len(tfs)], len(genes), axis=0))
    gene = torch.from_numpy(np.tile(features[len(tfs) :], (len(tfs), 1, 1)))
    with torch.no_grad():
        logits = net(tf, gene).double().numpy().reshape(len(tfs), len(genes))
    offsets = target_offsets(meta.target_prior, genes, case_insensitive=case_insensitive)
    return logits, offsets


def _lookup(frame):
    return {
        (tf, target): score
        for tf, target, score in frame.select(
            pl.col("TF").cast(pl.Utf8), pl.col("target").cast(pl.Utf8), "score"
        ).iter_rows()
    }


def _grid(frame, tfs, genes):
    lookup = _lookup(frame)
    return np.array([[lookup[(tf, gene)] for gene in genes] for tf in tfs])


def _listed(frame, pairs):
    lookup = _lookup(frame)
    return np.array([lookup[pair] for pair in pairs.iter_rows()])


def test_the_default_fit_stores_the_table_and_scoring_adds_it_with_parity(prior_model, shared_data, tmp_path):
    import deeptgi_rt
    from deeptgi_rt.cli import main as rt_main

    model_path, checkpoint = prior_model
    expression = shared_data / "mhsc-e" / "expression.csv"
    model = deeptgi_rt.load_model(model_path, device="cpu")
    meta = model.metadata
    assert meta.training["prior_offset"] is True
    table = meta.target_prior
    assert table["default_logit"] == 0.0 and len(table["genes"]) == len(table["logits"]) > 10
    labelled = pl.read_csv(shared_data / "mhsc-e" / "pairs.csv")
    assert set(table["genes"]) <= set(labelled["Target"].to_list())
    from deeptgi_train.export import load_checkpoint

    assert load_checkpoint(checkpoint)[1].target_prior == table  # deeptgi-train export keeps it

    # Targets with a table entry and some without (TFs never labelled as targets get the default).
    known = [gene for gene in table["genes"][:12] if gene not in TFS]
    data_genes = open(expression).readline().strip().split(",")
    genes = known + [gene for gene in data_genes if gene not in table["genes"] and gene not in TFS][:3]
    logits, offsets = _network_and_offset(model_path, checkpoint, expression, TFS, genes)
    assert np.any(offsets == 0.0) and np.any(offsets != 0.0)
    expected = 1 / (1 + np.exp(-(logits + offsets[None, :])))

    factorized = _grid(model.score(expression, tfs=TFS, genes=genes), TFS, genes)
    np.testing.assert_allclose(factorized, expected, atol=1e-5)
    alone = _grid(model.score(expression, tfs=TFS, genes=genes, target_prior=False), TFS, genes)
    np.testing.assert_allclose(alone, 1 / (1 + np.exp(-logits)), atol=1e-5)

    pairs = pl.DataFrame({"TF": [TFS[j % len(TFS)] for j in range(len(genes))], "target": genes})
    in_grid = np.array([factorized[j % len(TFS), j] for j in range(len(genes))])
    listed = _listed(model.score(expression, pairs=pairs), pairs)
    np.testing.assert_array_equal(listed, in_grid)

    pairs_file, out = tmp_path / "pairs.csv", tmp_path / "edges.parquet"
    pairs.write_csv(pairs_file)
    assert (
        rt_main(
            [
                "score",
                str(expression),
                "--model",
                str(model_path),
                "--pairs",
                str(pairs_file),
                "--device",
                "cpu",
                "--threads",
                "1",
                "--out",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(_listed(pl.read_parquet(out), pairs), listed)
    assert (
        rt_main(
            [
                "score",
                str(expression),
                "--model",
                str(model_path),
                "--pairs",
                str(pairs_file),
                "--no-target-prior",
                "--device",
                "cpu",
                "--threads",
                "1",
                "--out",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(
        _listed(pl.read_parquet(out), pairs), np.array([alone[j % len(TFS), j] for j in range(len(genes))])
    )


def test_case_insensitive_runs_find_the_table_s_genes(prior_model, shared_data, tmp_path):
    import deeptgi_rt
    from deeptgi_rt.expression import read_expression

    model_path, _ = prior_model
    model = deeptgi_rt.load_model(model_path, device="cpu")
    table = model.metadata.target_prior
    genes = [gene for gene in table["genes"][:6] if gene not in TFS]
    expression = read_expression(shared_data / "mhsc-e" / "expression.csv")
    upper = type(expression)(
        genes=[name.upper() for name in expression.genes],
        values=expression.values,
        source="upper",
        cells=expression.cells,
    )
    exact = _grid(model.score(expression, tfs=TFS, genes=genes), TFS, genes)
    folded = _grid(
        model.score(upper, tfs=[tf.upper() for tf in TFS], genes=[g.upper() for g in genes], case_insensitive=True),
        [tf.upper() for tf in TFS],
        [g.upper() for g in genes],
    )
    np.testing.assert_allclose(folded, exact, atol=1e-6)
    plain = _grid(model.score(expression, tfs=TFS, genes=genes, target_prior=False), TFS, genes)
    assert np.abs(folded - plain).max() > 1e-3  # the table was applied, not skipped for the respelled names


def test_a_crossfitted_model_with_the_offset_exports_its_table_and_onnx_matches_pytorch(shared_data, tmp_path_factory):
    import deeptgi_rt

    model_path, checkpoint = _fit(shared_data, tmp_path_factory, "--prior-offset", "--crossfit", "2", "--epochs", "1")
    expression = shared_data / "mhsc-e" / "expression.csv"
    model = deeptgi_rt.load_model(model_path, device="cpu")
    meta = model.metadata
    assert meta.training["crossfit"] == 2 and meta.training["prior_offset"] is True
    # Fitted on all labelled pairs: every labelled target with a pair is in the table.
    labelled = pl.read_csv(shared_data / "mhsc-e" / "pairs.csv")
    assert len(meta.target_prior["genes"]) >= 0.9 * labelled["Target"].n_unique()
    genes = [gene for gene in meta.target_prior["genes"][:10] if gene not in TFS]
    logits, offsets = _network_and_offset(model_path, checkpoint, expression, TFS, genes)
    scores = _grid(model.score(expression, tfs=TFS, genes=genes), TFS, genes)
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-(logits + offsets[None, :]))), atol=1e-5)


def test_no_prior_offset_writes_no_table(shared_data, tmp_path_factory):
    import deeptgi_rt

    model_path, _ = _fit(shared_data, tmp_path_factory, "--no-prior-offset", "--epochs", "1")
    meta = deeptgi_rt.load_model(model_path, device="cpu").metadata
    assert meta.target_prior is None and meta.training["prior_offset"] is False


def test_the_model_card_states_the_table_and_the_cv_target_wise_auroc(prior_model):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("make_card", Path(__file__).parents[2] / "tools" / "make_card.py")
    make_card = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_card)
    model_path, _ = prior_model
    import deeptgi_rt

    table = deeptgi_rt.load_model(model_path, device="cpu").metadata.target_prior
    facts = make_card.model_facts(model_path)
    assert str(len(table["genes"])) in facts["target prior (added at scoring)"]
    report = {
        "settings": {"folds": 5},
        "summary": {"auroc": {"mean": 0.8, "sd": 0.01}},
        "target_wise_auroc": {"model": {"mean": 0.71, "targets": 40, "low": 0.65, "high": 0.77}},
    }
    card = make_card.render(model_path, "t", "p", {"tf": report})
    assert "target-wise AUROC ²" in card and "| 0.710 [0.650, 0.770] |" in card
    assert "target-wise AUROC" not in make_card.render(model_path, "t", "p", {"tf": {"summary": {}}})
