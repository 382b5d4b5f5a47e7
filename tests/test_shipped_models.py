"""Every shipped model loads, carries complete metadata, and its card matches it."""

from __future__ import annotations

import importlib.util
import json

import pytest
from conftest import REPO

import deeptgi_rt

MODELS = sorted((REPO / "deeptgi_rt" / "models").glob("*.onnx"))


def _is_student(path) -> bool:
    import onnx

    props = {prop.key: prop.value for prop in onnx.load(str(path), load_external_data=False).metadata_props}
    return "teacher" in json.loads(props.get("training", "{}"))


# Models fitted to labels (a distilled student carries its teacher's facts, checked in _check_student).
FITTED = [path for path in MODELS if not _is_student(path)]
_spec = importlib.util.spec_from_file_location("make_card", REPO / "tools" / "make_card.py")
make_card = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_card)


def test_at_least_two_models_ship():
    assert {path.name for path in MODELS} >= {"mhsc-e-lite.onnx", "mdc-lite.onnx"}
    assert [path.name for path in MODELS if _is_student(path)] == ["mdc-lite.onnx", "mhsc-e-lite.onnx"]


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_model_loads_factorized_with_complete_metadata(path):
    model = deeptgi_rt.load_model(path, device="cpu")
    meta = model.metadata
    assert model.factorized
    assert meta.feature_genes and meta.tfs and 0.0 < meta.threshold < 1.0
    assert meta.config["name"] == "lite"
    if "teacher" in meta.training:
        _check_student(path, meta)
        return
    for key in ("data", "n_pairs", "n_positive", "protocol", "validation_metrics", "package_version", "command"):
        assert key in meta.training, key
    assert meta.training["command"].startswith("deeptgi-train fit ")


def _check_student(path, meta):
    """A distilled student ships beside its teacher: the file its metadata names, with that
    sha256, whose threshold semantics it carries."""
    import hashlib

    teacher_facts = meta.training["teacher"]
    teacher = path.parent / teacher_facts["file"]
    assert teacher.is_file(), f"{path.name}: its teacher {teacher.name} does not ship"
    assert hashlib.sha256(teacher.read_bytes()).hexdigest() == teacher_facts["sha256"]
    teacher_meta = deeptgi_rt.load_model(teacher, device="cpu").metadata
    for key in ("threshold", "label_prior", "calibration", "feature_genes", "tfs", "pair_features"):
        assert getattr(meta, key) == getattr(teacher_meta, key), key
    assert meta.training["command"].startswith("deeptgi-train distill ")
    assert meta.training["distillation"]["agreement"]["all"]["spearman"] >= 0.95


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name)
def test_card_numbers_match_the_model(path):
    card = path.with_suffix(".md")
    assert card.is_file(), f"{card.name} is missing"
    text = card.read_text()
    for label, value in make_card.model_facts(path).items():
        assert f"| {label} | {value} |" in text, f"{card.name}: {label} should read {value}"
    training = deeptgi_rt.load_model(path, device="cpu").metadata.training
    assert training["command"] in text
    if "teacher" in training:
        # A student's accuracy is its teacher's card plus the agreement rows above.
        assert training["teacher"]["file"].removesuffix(".onnx") + ".md" in text
        return
    for protocol in ("random", "tf"):
        assert f"| {protocol} |" in text, f"{card.name} lacks {protocol} cross-validation"


def _benchmark_row(method, auroc, crossfit=1):
    return {
        "dataset": "d",
        "protocol": "random",
        "method": method,
        "crossfit": crossfit,
        "epochs_cap": None,
        "auroc_mean": auroc,
        "auroc_sd": 0.01,
        "aupr_mean": auroc,
        "aupr_sd": 0.02,
    }


def test_card_reads_the_single_network_and_label_only_rows_of_a_benchmark_file(tmp_path):
    path = tmp_path / "accuracy.json"
    path.write_text(
        json.dumps(
            {
                "folds": 5,
                "seed": 0,
                "results": [
                    _benchmark_row("prior", 0.7),
                    _benchmark_row("novelty", 0.8),
                    _benchmark_row("lite", 0.9),
                    _benchmark_row("lite", 0.95, crossfit=5),
                ],
            }
        )
    )
    report = make_card.benchmark_report(path, "d", "random")
    assert report["summary"]["auroc"]["mean"] == 0.9
    assert make_card.label_only_cell(report) == "0.700 / 0.800"
    del report["label_only_auroc"]
    assert make_card.label_only_cell(report) == "—"


def test_card_of_a_cross_fitted_model_reads_the_cross_fitted_row_and_says_so(tmp_path):
    path = tmp_path / "accuracy.json"
    path.write_text(
        json.dumps(
            {
                "folds": 5,
                "seed": 0,
                "results": [
                    _benchmark_row("prior", 0.7),
                    _benchmark_row("novelty", 0.8),
                    _benchmark_row("lite", 0.9),
                    _benchmark_row("lite", 0.95, crossfit=5),
                ],
            }
        )
    )
    report = make_card.benchmark_report(path, "d", "random", crossfit=5)
    assert report["summary"]["auroc"]["mean"] == 0.95 and report["settings"]["crossfit"] == 5
    # The label-only rules read no model, so their rows are the same whatever the crossfit.
    assert make_card.label_only_cell(report) == "0.700 / 0.800"
    with pytest.raises(SystemExit, match="no DeepTGI lite row with crossfit 10"):
        make_card.benchmark_report(path, "d", "random", crossfit=10)


@pytest.mark.parametrize("path", FITTED, ids=lambda p: p.name)
def test_added_training_facts_are_those_of_the_training_files(path):
    spec = importlib.util.spec_from_file_location("add_training_facts", REPO / "tools" / "add_training_facts.py")
    facts = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(facts)
    meta = deeptgi_rt.load_model(path, device="cpu").metadata
    assert facts.training_facts(meta) == {
        "label_prior": meta.label_prior,
        "expression_transform": meta.expression_transform,
    }
    # A genome-wide fit's threshold is the Youden point of held-out candidates (balanced-class decision point).
    balance = 0.5 if meta.training.get("genome_wide") else meta.training["n_positive"] / meta.training["n_pairs"]
    assert meta.label_prior["class_balance"] == pytest.approx(balance, abs=1e-6)


@pytest.mark.parametrize("path", FITTED, ids=lambda p: p.name)
def test_model_without_the_newer_validation_names_still_reads_them(path):
    # Older models lack validation_protocol and the balanced_* names; both spellings must read alike.
    meta = deeptgi_rt.load_model(path, device="cpu").metadata
    figures = meta.validation_metrics()
    assert figures["protocol"] == meta.training.get("validation_protocol", meta.training["protocol"])
    stored = meta.training["validation_metrics"]
    for old, new in (("auprc_ratio", "balanced_auprc_ratio"), ("epr", "balanced_epr")):
        assert figures["metrics"][new] == stored.get(new, stored.get(old))
    assert "auprc_ratio" not in figures["metrics"]
