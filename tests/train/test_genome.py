"""Genome-wide training: the label diagnosis, the candidates, the negative draw, the pair features and
the genome-wide check of a fit."""

from __future__ import annotations

import numpy as np
import pytest

from deeptgi_train.configs import GenomeOptions, model_config, train_config
from deeptgi_train.genome import candidate_parts, genome_fit, ranking_figures, unlabelled
from deeptgi_train.labels import LabelledPairs, diagnose_negatives


def _pairs(tfs, targets, labels):
    return LabelledPairs(tfs=list(tfs), targets=list(targets), labels=np.asarray(labels, dtype=np.int8), source="l.csv")


def test_negatives_on_few_targets_are_diagnosed_as_concentrated_and_spread_ones_are_not():
    rng = np.random.default_rng(0)
    genes = [f"g{i}" for i in range(200)]
    tfs = [f"t{i}" for i in range(20)]
    positives = [(tf, genes[j]) for tf in tfs for j in rng.choice(200, 10, replace=False)]
    # mhsc-e's shape: every negative on one of 15 targets.
    few = [(tf, genes[j]) for tf in tfs for j in rng.choice(15, 10, replace=False)]
    spread = [(tf, genes[j]) for tf in tfs for j in rng.choice(200, 10, replace=False)]
    for negatives, concentrated in ((few, True), (spread, False)):
        pairs = [*positives, *negatives]
        diagnosis = diagnose_negatives(
            _pairs([p[0] for p in pairs], [p[1] for p in pairs], [1] * 200 + [0] * 200), len(genes)
        )
        assert diagnosis.negatives == 200 and diagnosis.positives == 200
        assert diagnosis.concentrated is concentrated
        # 200 uniform draws over 200 genes use about 200 * (1 - e^-1) = 126.4 of them.
        assert diagnosis.expected_targets == pytest.approx(200 * (1 - (1 - 1 / 200) ** 200))
    assert diagnose_negatives(_pairs(["a"], ["b"], [1]), 10).concentrated is False


def _genome_dataset(n_tfs=6, n_genes=30, seed=0):
    """A genome data set over synthetic expression: labelled pairs of the first TFs, then candidates."""
    from deeptgi_rt.expression import expression_from_frame
    from deeptgi_train.data import ExpressionData, build_pair_dataset

    rng = np.random.default_rng(seed)
    genes = [f"g{i}" for i in range(n_genes)]
    values = rng.normal(size=(40, n_genes)).astype(np.float32)
    expression = expression_from_frame(values, genes=genes, layout="cells-by-genes", source="expr")
    data = ExpressionData([expression], ["single_cell"], ["none"], genes, genes)
    tfs, targets, labels = [], [], []
    for t in range(n_tfs):
        for g in rng.choice(np.arange(n_tfs, n_genes), 6, replace=False):
            tfs.append(genes[t])
            targets.append(genes[g])
            labels.append(int(rng.random() < 0.6))
    return build_pair_dataset(data, _pairs(tfs, targets, labels), genome=True), values


def test_every_unlabelled_tf_gene_candidate_is_added_once_with_its_pcc():
    dataset, values = _genome_dataset()
    labelled = dataset.is_labelled()
    assert labelled[:36].all() and not labelled[36:].any()
    pairs = set(zip(dataset.tf_idx.tolist(), dataset.gene_idx.tolist()))
    assert len(pairs) == len(dataset)  # no pair twice
    tfs = np.unique(dataset.tf_idx)
    expected = {(int(t), int(g)) for t in tfs for g in range(len(dataset.entities)) if t != g}
    assert pairs == expected  # every TF x gene pair but self pairs
    assert (dataset.labels[~labelled] == 0).all()
    reference = np.corrcoef(values.T)
    pair = dataset.pair_inputs(np.arange(len(dataset)))
    assert pair.shape == (len(dataset), 1, 1) and pair.dtype == np.float32
    names = np.asarray(dataset.entities)
    columns = [int(name[1:]) for name in names]
    np.testing.assert_allclose(
        pair[:, 0, 0], reference[np.take(columns, dataset.tf_idx), np.take(columns, dataset.gene_idx)], atol=2e-6
    )
    # Symmetric: a swapped pair (target first) reads the same correlation.
    np.testing.assert_array_equal(dataset.pair_values(dataset.gene_idx[:5], dataset.tf_idx[:5]), pair[:5])


def test_candidates_follow_their_tf_their_target_or_a_seeded_draw():
    dataset, _ = _genome_dataset()
    labelled = np.flatnonzero(dataset.is_labelled())
    tfs = dataset.tf_idx[labelled]
    part_a, part_b = labelled[np.isin(tfs, np.unique(tfs)[:2])], labelled[~np.isin(tfs, np.unique(tfs)[:2])]
    by_tf = candidate_parts(dataset, [part_a, part_b], protocol="tf", seed=0)
    assert set(dataset.tf_idx[by_tf[0]]) == set(dataset.tf_idx[part_a])
    assert set(dataset.tf_idx[by_tf[1]]) == set(dataset.tf_idx[part_b])
    assert len(by_tf[0]) + len(by_tf[1]) == len(unlabelled(dataset))
    targets = dataset.gene_idx[labelled]
    held = np.isin(targets, np.unique(targets)[:5])
    by_gene = candidate_parts(dataset, [labelled[~held], labelled[held]], protocol="gene", seed=0)
    assert not set(dataset.gene_idx[by_gene[0]]) & set(targets[held])  # a held-out target never trains
    assert set(targets[held]) <= set(dataset.gene_idx[by_gene[1]])
    first = candidate_parts(dataset, [part_a, part_b], protocol="random", seed=3)
    again = candidate_parts(dataset, [part_a, part_b], protocol="random", seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


@pytest.mark.parametrize("scheme", ["uniform", "per-tf"])
def test_the_draw_never_takes_a_labelled_positive_is_seeded_and_meets_its_counts(scheme):
    dataset, _ = _genome_dataset()
    labelled = np.flatnonzero(dataset.is_labelled())
    plan = genome_fit(
        dataset, labelled, unlabelled(dataset), labelled[:0], labelled[:0], GenomeOptions(ratio=2.0, scheme=scheme)
    )
    positives = labelled[dataset.labels[labelled] > 0.5]
    assert np.array_equal(plan.fit_idx, positives)  # the file's negatives are pooled, not fitted every epoch
    draws = [plan.draw.draw(np.random.default_rng(seed)) for seed in (1, 1, 2)]
    assert np.array_equal(draws[0], draws[1]) and not np.array_equal(draws[0], draws[2])
    for drawn in draws:
        assert len(np.unique(drawn)) == len(drawn) == plan.draw.per_epoch == 2 * len(positives)
        assert (dataset.labels[drawn] == 0).all()
        assert not set(drawn) & set(positives)
    if scheme == "per-tf":
        tfs, counts = np.unique(dataset.tf_idx[positives], return_counts=True)
        drawn_tfs, drawn_counts = np.unique(dataset.tf_idx[draws[0]], return_counts=True)
        assert dict(zip(drawn_tfs, drawn_counts)) == dict(zip(tfs, 2 * counts))


def test_kept_file_negatives_are_fitted_every_epoch_and_not_drawn():
    dataset, _ = _genome_dataset()
    labelled = np.flatnonzero(dataset.is_labelled())
    plan = genome_fit(
        dataset, labelled, unlabelled(dataset), labelled[:0], labelled[:0], GenomeOptions(file_negatives="keep")
    )
    assert np.array_equal(plan.fit_idx, labelled)
    assert not set(plan.draw.pool) & set(labelled)


def test_the_genome_check_of_a_fit_equals_deeptgi_rt_eval_on_the_same_candidates(tmp_path):
    import polars as pl

    from deeptgi_rt.evaluation import evaluate
    from deeptgi_train.data import TrainingSet
    from deeptgi_train.fit import fit_model

    dataset, _ = _genome_dataset(n_tfs=6)
    training = TrainingSet(data=None, pairs=_pairs(["x"], ["y"], [1]), dataset=dataset)
    result = fit_model(
        training, model_config("tiny"), train_config("tiny", threads=1, epochs=2), protocol="tf", crossfit=3
    )
    check = result.genome_check
    names = np.asarray(dataset.entities)
    idx = result.validation_idx
    # Every candidate of every labelled TF, self pairs excluded, was held out by one member.
    assert check["candidates"] == len(idx) == len(np.unique(dataset.tf_idx)) * (len(names) - 1)
    predictions = tmp_path / "pred.csv"
    pl.DataFrame(
        {
            "TF": names[dataset.tf_idx[idx]],
            "target": names[dataset.gene_idx[idx]],
            "score": result.trained.validation_scores,
        }
    ).write_csv(predictions)
    truth = tmp_path / "truth.csv"
    positive = dataset.is_labelled() & (dataset.labels > 0.5)
    pl.DataFrame({"TF": names[dataset.tf_idx[positive]], "target": names[dataset.gene_idx[positive]]}).write_csv(truth)
    evaluation = evaluate([predictions], truth, genes=list(names))
    assert len(evaluation.candidates) == check["candidates"] and evaluation.candidates.positives == check["positives"]
    figures = evaluation.methods[0].summary
    for name in ("auroc", "auprc_ratio", "epr"):
        assert check["model"][name] == pytest.approx(figures[name], abs=2e-6)
    assert check["beats_pcc"] == (
        check["model"]["auroc"] > check["pcc"]["auroc"] and check["model"]["epr"] > check["pcc"]["epr"]
    )


def test_ranking_figures_are_the_metrics_module_s():
    from deeptgi_rt import metrics

    labels = np.array([1, 0, 1, 0, 0, 1, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.6, 0.1, 0.5])
    figures = ranking_figures(labels, scores)
    assert figures["auroc"] == metrics.auroc(labels, scores)
    assert figures["epr"] == metrics.early_precision_ratio(labels, scores)


def test_fit_warns_about_concentrated_negatives_and_records_its_genome_wide_check(tmp_path, capsys):
    from conftest import REPO

    import deeptgi_rt
    from deeptgi_train.cli import main

    common = [
        "--expr",
        str(REPO / "examples" / "mhsc-e.parquet"),
        "--labels",
        str(REPO / "examples" / "mhsc-e-pairs.csv"),
    ]
    fast = ["--config", "tiny", "--epochs", "1", "--crossfit", "2", "--threads", "1"]
    assert main(["fit", *common, *fast, "--out", str(tmp_path / "g.onnx")]) == 0
    err = capsys.readouterr().err
    # mhsc-e's 677 negatives sit on 151 targets where uniform draws would use about 302.
    assert "use 151 targets" in err and "share 0.50" in err and "concentrated" in err
    assert "genome-wide check (out-of-fold, 45 held-out TFs x every gene" in err
    training = deeptgi_rt.load_model(tmp_path / "g.onnx", device="cpu").metadata.training
    check = training["genome_wide"]
    assert check["protocol"] == "tf" and check["tfs"] == 45 and set(check) >= {"model", "pcc", "target_degree"}
    assert training["genome_negatives"] == {"ratio": 3.0, "scheme": "uniform", "file_negatives": "pool"}
    assert training["validation_protocol"] == "tf"
    assert main(["fit", *common, *fast, "--negatives", "file", "--out", str(tmp_path / "f.onnx")]) == 0
    err = capsys.readouterr().err
    assert "with --negatives file the model learns which genes are labelled non-targets" in err
    training = deeptgi_rt.load_model(tmp_path / "f.onnx", device="cpu").metadata.training
    assert "genome_wide" not in training and training["validation_protocol"] == "random"
