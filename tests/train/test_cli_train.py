"""``deeptgi-train`` end to end on slices of the shared data, and its one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from deeptgi_rt.contract import ModelMetadata
from deeptgi_train.cli import main

FAST = ["--config", "tiny", "--epochs", "2", "--threads", "1", "--quiet"]


def _run(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _check_onnx(path, n_feature_genes):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    metadata = ModelMetadata.from_props(session.get_modelmeta().custom_metadata_map, str(path))
    assert len(metadata.feature_genes) == n_feature_genes
    assert metadata.modalities == ["single_cell"] and metadata.preprocessing == ["none"]
    assert 0.0 <= metadata.threshold <= 1.0
    assert metadata.training["validation_metrics"]["auroc"] >= 0.0
    assert "fit" in metadata.training["command"]
    features = np.zeros((3, 1, n_feature_genes), dtype=np.float32)
    scores = session.run(["score"], {"tf_features": features, "gene_features": features})[0]
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))
    return metadata


def test_cv_and_fit_on_mhsc_e(shared_data, tmp_path, capsys):
    data = shared_data / "mhsc-e"
    inputs = ["--expr", str(data / "expression.csv"), "--labels", str(data / "pairs.csv")]
    code, out, err = _run(capsys, ["cv", *inputs, *FAST, "--folds", "2", "--report", str(tmp_path / "rep")])
    assert code == 0, err
    assert "mean" in out
    report = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert len(report["folds"]) == 2
    for name in ("auroc", "aupr", "acc", "f1", "recall", "precision"):
        assert 0.0 <= report["summary"][name]["mean"] <= 1.0
    for name in ("metrics.csv", "roc.png", "pr.png"):
        assert (tmp_path / "rep" / name).stat().st_size > 0
    # The label-only references are printed, and stored per fold in both report files.
    rate = report["label_only_auroc"]["target_label_rate"]
    assert f"target label rate {rate['mean']:.3f} ± {rate['sd']:.3f}" in " ".join(out.split())
    with open(tmp_path / "rep" / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row, fold in zip(rows, report["folds"]):
        for rule, value in fold["label_only_auroc"].items():
            assert float(row[f"auroc_{rule}"]) == pytest.approx(value, abs=1e-6)
            # A rule that scores by target alone ranks no target's TFs: exactly 0.5 target-wise.
            assert fold["target_wise_auroc"][rule] == 0.5 == float(row[f"target_wise_auroc_{rule}"])
        assert float(row["target_wise_auroc_model"]) == pytest.approx(fold["target_wise_auroc"]["model"], abs=1e-6)
    # Target-wise AUROC is printed for the model and every reference, with its interval.
    tw = report["target_wise_auroc"]
    assert set(tw) == {"model", "hgb", "target_label_rate", "unseen_target_as_interaction"}
    assert tw["model"]["targets"] > 0 and tw["model"]["low"] <= tw["model"]["mean"] <= tw["model"]["high"]
    printed = " ".join(out.split())
    assert "target-wise AUROC" in printed and f"DeepTGI {tw['model']['mean']:.3f}" in printed
    assert f"gradient boosting {tw['hgb']['mean']:.3f}" in printed and "twAUC" in printed
    # So is the pair-specific AUROC; the label-only rules score by target alone: exactly 0.5.
    ps = report["pair_specific_auroc"]
    assert set(ps) == set(tw) and ps["target_label_rate"]["mean"] == 0.5 == ps["target_label_rate"]["high"]
    assert ps["model"]["targets"] == tw["model"]["targets"] and ps["model"]["low"] <= ps["model"]["mean"]
    assert "pair-specific AUROC" in printed and f"DeepTGI {ps['model']['mean']:.3f} [" in printed

    out_model = tmp_path / "m.onnx"
    # One network: this checks fit -> ONNX -> checkpoint -> export; cross-fitting is tested below.
    code, _, err = _run(
        capsys,
        ["fit", *inputs, *FAST, "--crossfit", "1", "--out", str(out_model), "--checkpoint", str(tmp_path / "m.pt")],
    )
    assert code == 0, err
    metadata = _check_onnx(out_model, 354)
    assert len(metadata.tfs) == 45

    code, _, err = _run(capsys, ["export", str(tmp_path / "m.pt"), "--out", str(tmp_path / "again.onnx"), "--quiet"])
    assert code == 0, err
    assert _check_onnx(tmp_path / "again.onnx", 354).feature_genes == metadata.feature_genes


def test_cv_and_fit_on_mdc_with_balanced_negatives(shared_data, tmp_path, capsys):
    data = shared_data / "mdc"
    genes = [line.split(",")[0] for line in (data / "expression.csv").read_text().splitlines()[1:121]]
    (tmp_path / "features.txt").write_text("\n".join(genes) + "\n")
    inputs = [
        "--expr",
        str(data / "expression.csv"),
        "--labels",
        str(data / "network-specific.csv"),
        "--negatives",
        "balanced",
        "--feature-genes",
        str(tmp_path / "features.txt"),
    ]
    code, out, err = _run(
        capsys, ["cv", *inputs, *FAST, "--folds", "2", "--split", "tf", "--report", str(tmp_path / "rep")]
    )
    assert code == 0, err
    report = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    assert report["settings"]["n_positive"] * 2 == report["settings"]["n_pairs"]
    # TFs held out: five cross-fitted members per fold unless --crossfit says otherwise.
    assert report["settings"]["crossfit"] == 5 and report["settings"]["validation_fraction"] is None
    assert "5 cross-fitted networks per fold" in out
    assert 0.0 <= report["summary"]["auroc"]["mean"] <= 1.0
    code, _, err = _run(capsys, ["fit", *inputs, *FAST, "--out", str(tmp_path / "m.onnx")])
    assert code == 0, err
    _check_onnx(tmp_path / "m.onnx", 120)


def _expression(tmp_path):
    rng = np.random.default_rng(0)
    genes = ["A", "B", "C", "D", "E", "F"]
    lines = ["gene," + ",".join(f"c{i}" for i in range(12))]
    lines += [name + "," + ",".join(f"{v:.3f}" for v in rng.random(12)) for name in genes]
    path = tmp_path / "expr.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "labels, message",
    [
        ("from,to\nA,B\n", "columns found: from, to"),
        ("TF,Target,Label\nA,B,1\nA,C,yes\n", "row 3: label 'yes' is not 0 or 1"),
        ("TF,Target,Label\nX,Y,1\nX,Z,0\n", "no pair has both genes"),
        # A positives-only file trains with genome negatives by default, but one TF cannot be held out.
        ("Gene1,Gene2\nA,B\nA,C\n", "1 TFs with labelled pairs; holding out whole TFs"),
    ],
)
def test_bad_label_files_give_one_line_errors(tmp_path, capsys, labels, message):
    (tmp_path / "labels.csv").write_text(labels)
    out_model = tmp_path / "m.onnx"
    code, _, err = _run(
        capsys,
        [
            "fit",
            "--expr",
            str(_expression(tmp_path)),
            "--labels",
            str(tmp_path / "labels.csv"),
            *FAST,
            "--out",
            str(out_model),
        ],
    )
    assert code == 2
    assert err.startswith("deeptgi-train: error: ") and "labels.csv" in err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not out_model.exists()


def test_a_positives_only_file_with_the_file_s_labels_alone_asks_for_negatives(tmp_path, capsys):
    (tmp_path / "labels.csv").write_text("Gene1,Gene2\nA,B\nA,C\n")
    args = ["fit", "--expr", str(_expression(tmp_path)), "--labels", str(tmp_path / "labels.csv"), *FAST]
    code, _, err = _run(capsys, [*args, "--negatives", "file", "--out", str(tmp_path / "m.onnx")])
    assert code == 2 and "labels.csv" in err and "--negatives balanced" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "m.onnx").exists()


# Twelve labelled pairs among genes A-E of _expression, both labels for every TF.
LABELLED_PAIRS = [
    ("A", "B", 1),
    ("A", "C", 0),
    ("A", "D", 1),
    ("A", "E", 0),
    ("B", "C", 1),
    ("B", "E", 0),
    ("B", "D", 1),
    ("B", "A", 0),
    ("C", "D", 1),
    ("C", "E", 0),
    ("C", "A", 1),
    ("C", "B", 0),
]


def _write_labels(path, pairs) -> None:
    """A TF,Target,Label CSV of ``(tf, target, label)`` triples."""
    path.write_text("TF,Target,Label\n" + "".join(f"{tf},{target},{label}\n" for tf, target, label in pairs))


def test_unknown_genes_are_reported_and_dropped(tmp_path, capsys):
    _write_labels(
        tmp_path / "labels.csv",
        [
            ("A", "B", 1),
            ("A", "C", 0),
            ("A", "D", 1),
            ("A", "E", 0),
            ("B", "C", 1),
            ("B", "F", 0),
            ("B", "D", 1),
            ("B", "E", 0),
            ("C", "D", 1),
            ("C", "F", 0),
            ("Q", "A", 1),
            ("A", "R", 0),
        ],
    )
    code, _, err = _run(
        capsys,
        ["cv", "--expr", str(_expression(tmp_path)), "--labels", str(tmp_path / "labels.csv"), *FAST, "--folds", "2"],
    )
    assert code == 0, err
    assert "2 of 12 pairs dropped" in err and "Q, R" in err


def test_missing_output_directory_fails_before_training(tmp_path, capsys):
    (tmp_path / "labels.csv").write_text("TF,Target,Label\nA,B,1\nA,C,0\n")
    code, _, err = _run(
        capsys,
        [
            "fit",
            "--expr",
            str(_expression(tmp_path)),
            "--labels",
            str(tmp_path / "labels.csv"),
            *FAST,
            "--out",
            str(tmp_path / "nope" / "m.onnx"),
        ],
    )
    assert code == 2 and "does not exist" in err


def test_fit_with_members_exports_an_ensemble_recorded_in_the_metadata(tmp_path, capsys):
    import onnxruntime as ort

    from deeptgi_train.configs import model_config
    from deeptgi_train.model import DeepTGI

    _write_labels(tmp_path / "labels.csv", LABELLED_PAIRS)
    out_model = tmp_path / "m.onnx"
    code, _, err = _run(
        capsys,
        [
            "fit",
            "--expr",
            str(_expression(tmp_path)),
            "--labels",
            str(tmp_path / "labels.csv"),
            *FAST,
            "--members",
            "2",
            "--out",
            str(out_model),
        ],
    )
    assert code == 0, err
    session = ort.InferenceSession(str(out_model), providers=["CPUExecutionProvider"])
    metadata = ModelMetadata.from_props(session.get_modelmeta().custom_metadata_map, str(out_model))
    single = model_config("tiny")
    assert metadata.config["members"] == 2
    assert metadata.config["state_size"] == 2 * DeepTGI(single, 1, len(metadata.feature_genes)).state_size


def test_fit_with_crossfit_exports_the_members_and_records_their_epochs(tmp_path, capsys):
    import onnxruntime as ort

    from deeptgi_train.export import load_checkpoint

    _write_labels(tmp_path / "labels.csv", LABELLED_PAIRS)
    out_model, checkpoint = tmp_path / "m.onnx", tmp_path / "m.pt"
    code, _, err = _run(
        capsys,
        [
            "fit",
            "--expr",
            str(_expression(tmp_path)),
            "--labels",
            str(tmp_path / "labels.csv"),
            *FAST,
            "--negatives",
            "file",
            "--crossfit",
            "2",
            "--out",
            str(out_model),
            "--checkpoint",
            str(checkpoint),
        ],
    )
    assert code == 0, err
    session = ort.InferenceSession(str(out_model), providers=["CPUExecutionProvider"])
    metadata = ModelMetadata.from_props(session.get_modelmeta().custom_metadata_map, str(out_model))
    assert metadata.config["members"] == 2
    assert metadata.training["crossfit"] == 2 and len(metadata.training["member_epochs"]) == 2
    # Out-of-fold validation covers every labelled pair (the file's labels alone: no candidates).
    assert metadata.training["n_validation"] == metadata.training["n_pairs"] == metadata.training["n_candidates"]
    assert (
        metadata.calibration["source"] == "out-of-fold"
        and metadata.calibration["pairs"] == metadata.training["n_pairs"]
    )
    model, _ = load_checkpoint(checkpoint)
    assert len(model.members) == 2


def test_fit_with_bulk_uses_shared_genes_and_records_both_modalities(tmp_path, capsys):
    import onnxruntime as ort

    expr = _expression(tmp_path)
    rng = np.random.default_rng(1)
    # Bulk lacks gene F and spells the others in lower case.
    bulk_lines = ["gene," + ",".join(f"s{i}" for i in range(8))]
    bulk_lines += [name + "," + ",".join(f"{v:.3f}" for v in rng.random(8) * 10) for name in "abcde"]
    (tmp_path / "bulk.csv").write_text("\n".join(bulk_lines) + "\n")
    _write_labels(tmp_path / "labels.csv", LABELLED_PAIRS)
    out_model = tmp_path / "m.onnx"
    code, _, err = _run(
        capsys,
        [
            "fit",
            "--expr",
            str(expr),
            "--bulk",
            str(tmp_path / "bulk.csv"),
            "--bulk-log1p",
            "--case-insensitive",
            "--labels",
            str(tmp_path / "labels.csv"),
            *FAST,
            "--out",
            str(out_model),
        ],
    )
    assert code == 0, err
    session = ort.InferenceSession(str(out_model), providers=["CPUExecutionProvider"])
    metadata = ModelMetadata.from_props(session.get_modelmeta().custom_metadata_map, str(out_model))
    assert metadata.modalities == ["single_cell", "bulk"]
    assert metadata.preprocessing == ["none", "log1p"]
    assert metadata.feature_genes == ["A", "B", "C", "D", "E"]


@pytest.mark.parametrize(
    "option, message",
    [
        (["--folds", "1"], "--folds 1"),
        (["--epochs", "0"], "--epochs 0"),
        (["--batch-size", "1"], "--batch-size 1"),
        (["--members", "0"], "--members 0"),
        (["--crossfit", "0"], "--crossfit 0"),
        (["--crossfit", "3", "--members", "2"], "--members 2"),
    ],
)
def test_bad_options_give_one_line_errors(tmp_path, capsys, option, message):
    (tmp_path / "labels.csv").write_text("TF,Target,Label\nA,B,1\nA,C,0\nB,C,1\nB,D,0\n")
    code, _, err = _run(
        capsys,
        [
            "cv",
            "--expr",
            str(_expression(tmp_path)),
            "--labels",
            str(tmp_path / "labels.csv"),
            "--config",
            "tiny",
            "--quiet",
            *option,
        ],
    )
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_refused_export_is_one_line_and_exit_1(monkeypatch, capsys):
    import argparse

    from deeptgi_train import cli
    from deeptgi_train.export import ExportError

    def refusing(args):
        raise ExportError("ONNX Runtime differs from PyTorch by 3e-3 > 1e-5")

    parser = argparse.ArgumentParser()
    parser.set_defaults(run=refusing)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main([]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["deeptgi-train: export refused: ONNX Runtime differs from PyTorch by 3e-3 > 1e-5"]


def test_fit_with_normalize_total_records_the_transform_and_scoring_applies_it(tmp_path, capsys):
    from deeptgi_rt.cli import main as rt_main

    rng = np.random.default_rng(2)
    counts = rng.poisson(rng.uniform(5, 80, (6, 1)), (6, 12))  # raw counts, maxima well over 50
    lines = ["gene," + ",".join(f"c{i}" for i in range(12))]
    lines += [name + "," + ",".join(str(v) for v in row) for name, row in zip("ABCDEF", counts)]
    (tmp_path / "counts.csv").write_text("\n".join(lines) + "\n")
    _write_labels(tmp_path / "labels.csv", LABELLED_PAIRS)
    out_model = tmp_path / "m.onnx"
    code, _, err = _run(
        capsys,
        [
            "fit",
            "--expr",
            str(tmp_path / "counts.csv"),
            "--normalize",
            "total",
            "--labels",
            str(tmp_path / "labels.csv"),
            *FAST,
            "--out",
            str(out_model),
        ],
    )
    assert code == 0, err
    metadata = _check_metadata(out_model)
    assert metadata.preprocessing == ["normalize_total_log1p"]
    assert metadata.expression_transform == ["normalize_total_log1p"]
    # Scoring the same counts needs no option: the runtime normalizes itself, and refuses a second transform.
    assert (
        rt_main(
            [
                "score",
                str(tmp_path / "counts.csv"),
                "--model",
                str(out_model),
                "--out",
                str(tmp_path / "g.parquet"),
                "--quiet",
            ]
        )
        == 0
    )
    assert "raw counts" not in capsys.readouterr().err
    assert (
        rt_main(
            [
                "score",
                str(tmp_path / "counts.csv"),
                "--model",
                str(out_model),
                "--log1p",
                "--out",
                str(tmp_path / "g2.parquet"),
                "--quiet",
            ]
        )
        == 2
    )
    assert "drop --log1p/--normalize" in capsys.readouterr().err


def test_fit_without_a_transform_records_what_the_values_were(tmp_path, capsys):
    _write_labels(tmp_path / "labels.csv", LABELLED_PAIRS)
    code, _, err = _run(
        capsys,
        [
            "fit",
            "--expr",
            str(_expression(tmp_path)),
            "--labels",
            str(tmp_path / "labels.csv"),
            *FAST,
            "--out",
            str(tmp_path / "m.onnx"),
        ],
    )
    assert code == 0, err
    metadata = _check_metadata(tmp_path / "m.onnx")
    assert metadata.expression_transform == ["none"]
    # The threshold is the Youden point of the 12 labelled pairs and the 3 unlabelled candidates of
    # their TFs (genome negatives), a balanced decision; 6 positives over 3 TFs x 5 other genes.
    assert metadata.label_prior == {
        "class_balance": 0.5,
        "threshold_pairs": "genome candidates, Youden point",
        "network_density": 0.4,
        "positives": 6,
        "labelled_pairs": 12,
        "tfs": 3,
        "targets": 5,
    }


def _check_metadata(path):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return ModelMetadata.from_props(session.get_modelmeta().custom_metadata_map, str(path))


def test_cv_runs_gradient_boosting_beside_the_model_and_says_when_the_model_does_not_beat_it(
    shared_data, tmp_path, capsys
):
    data = shared_data / "mhsc-e"
    inputs = ["--expr", str(data / "expression.csv"), "--labels", str(data / "pairs.csv")]
    # One epoch of the tiny network does not beat gradient boosting on mhsc-e.
    code, out, err = _run(
        capsys,
        [
            "cv",
            *inputs,
            "--config",
            "tiny",
            "--epochs",
            "1",
            "--threads",
            "1",
            "--folds",
            "2",
            "--report",
            str(tmp_path / "rep"),
        ],
    )
    assert code == 0, err
    report = json.loads((tmp_path / "rep" / "metrics.json").read_text())
    hgb = report["baseline_auroc"]["hgb"]["mean"]
    model = report["summary"]["auroc"]["mean"]
    assert model < hgb
    text = " ".join(out.split())
    assert f"gradient boosting {hgb:.3f}" in text
    assert f"does not beat gradient boosting here: mean test AUROC {model:.3f} against {hgb:.3f}" in text
    # A line per finished fold reaches stderr (progress for logs, not only the bars).
    assert sum(line.startswith(f"fold {k}/2: test AUROC") for line in err.splitlines() for k in (1, 2)) == 2
    # Every test pair with its TF, target, label and both scores, enough to recompute any metric.
    with open(tmp_path / "rep" / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    test_rows = [row for row in rows if row["part"] == "test"]
    assert len(test_rows) == sum(fold["n_test"] for fold in report["folds"])
    assert len(rows) - len(test_rows) == sum(fold["n_validation"] for fold in report["folds"])
    assert set(rows[0]) == {"fold", "part", "tf", "target", "label", "score", "score_hgb"}
    from deeptgi_train.metrics import auroc

    fold1 = [row for row in test_rows if row["fold"] == "1"]
    labels = np.array([int(row["label"]) for row in fold1])
    assert auroc(labels, np.array([float(row["score_hgb"]) for row in fold1])) == pytest.approx(
        report["folds"][0]["baseline_auroc"]["hgb"], abs=1e-4
    )
    validation1 = [row for row in rows if row["fold"] == "1" and row["part"] == "validation"]
    assert auroc(
        np.array([int(row["label"]) for row in validation1]), np.array([float(row["score"]) for row in validation1])
    ) == pytest.approx(report["folds"][0]["validation"]["auroc"], abs=1e-4)

    code, out, err = _run(
        capsys, ["cv", *inputs, *FAST, "--folds", "2", "--baselines", "none", "--report", str(tmp_path / "none")]
    )
    assert code == 0, err
    assert "gradient boosting" not in out
    assert json.loads((tmp_path / "none" / "metrics.json").read_text())["baseline_auroc"] == {}


def test_fit_validation_split_tf_holds_out_whole_tfs_and_the_model_says_so(shared_data, tmp_path, capsys):
    from deeptgi_train.configs import model_config, train_config
    from deeptgi_train.data import load_training_set
    from deeptgi_train.fit import fit_model

    data = shared_data / "mhsc-e"
    training = load_training_set(data / "expression.csv", data / "pairs.csv")
    result = fit_model(training, model_config("tiny"), train_config("tiny", threads=1, epochs=1), protocol="tf")
    dataset = training.dataset
    assert not set(dataset.tf_idx[result.fit_idx]) & set(dataset.tf_idx[result.validation_idx])

    out_model = tmp_path / "m.onnx"
    code, _, err = _run(
        capsys,
        [
            "fit",
            "--expr",
            str(data / "expression.csv"),
            "--labels",
            str(data / "pairs.csv"),
            *FAST,
            "--validation-split",
            "tf",
            "--out",
            str(out_model),
        ],
    )
    assert code == 0, err
    metadata = _check_onnx(out_model, 354)
    training_summary = metadata.training
    assert training_summary["validation_protocol"] == "tf"
    assert 0.0 < training_summary["validation_positive_fraction"] < 1.0
    # Figures of labelled (balanced) pairs are not BEELINE's genome-wide ones and are named so.
    assert {"balanced_auprc_ratio", "balanced_epr"} <= set(training_summary["validation_metrics"])
    assert not {"auprc_ratio", "epr"} & set(training_summary["validation_metrics"])
    assert metadata.validation_metrics()["protocol"] == "tf"


def test_fit_with_degree_matched_negatives_on_a_positives_only_network(shared_data, tmp_path, capsys):
    data = shared_data / "mdc"
    genes = [line.split(",")[0] for line in (data / "expression.csv").read_text().splitlines()[1:121]]
    (tmp_path / "features.txt").write_text("\n".join(genes) + "\n")
    out_model = tmp_path / "m.onnx"
    code, _, err = _run(
        capsys,
        [
            "fit",
            "--expr",
            str(data / "expression.csv"),
            "--labels",
            str(data / "network-specific.csv"),
            "--negatives",
            "degree-matched",
            "--feature-genes",
            str(tmp_path / "features.txt"),
            *FAST,
            "--out",
            str(out_model),
        ],
    )
    assert code == 0, err
    assert _check_onnx(out_model, 120).training["negatives"] == "degree-matched"
    code, _, err = _run(
        capsys,
        [
            "fit",
            "--expr",
            str(data / "expression.csv"),
            "--labels",
            str(data / "network-specific.csv"),
            "--negatives",
            "degree-matched",
            "--crossfit",
            "2",
            *FAST,
            "--out",
            str(tmp_path / "n.onnx"),
        ],
    )
    assert code == 2 and "degree-matched" in err and len(err.strip().splitlines()) == 1


def test_cv_crossfit_one_keeps_one_network_with_tfs_held_out(tmp_path, capsys):
    examples = Path(__file__).resolve().parents[2] / "examples"
    base = [
        "cv",
        "--expr",
        str(examples / "mhsc-e.parquet"),
        "--labels",
        str(examples / "mhsc-e-pairs.csv"),
        *FAST,
        "--folds",
        "2",
        "--split",
        "tf",
        "--baselines",
        "none",
    ]
    code, out, err = _run(capsys, [*base, "--crossfit", "1", "--report", str(tmp_path / "one")])
    assert code == 0, err
    settings = json.loads((tmp_path / "one" / "metrics.json").read_text())["settings"]
    assert settings["crossfit"] == 1 and settings["validation_fraction"] == 0.15
    assert "one network per fold" in out
    code, _, err = _run(capsys, [*base, "--crossfit", "0"])
    assert code == 2 and "--crossfit 0" in err and len(err.strip().splitlines()) == 1
    # Side-by-side members do not combine with cross-fitting, so they keep the one validation split.
    code, out, err = _run(capsys, [*base, "--members", "2", "--report", str(tmp_path / "two")])
    assert code == 0, err
    assert json.loads((tmp_path / "two" / "metrics.json").read_text())["settings"]["crossfit"] == 1
    assert "2 side-by-side networks per fold" in out
