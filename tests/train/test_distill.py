"""deeptgi-train distill: a student reproduces a planted teacher, records it, exports with parity,
scores through the same API and CLI as any model, and bad input is one line, exit 2, no file."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from compact_models import TFS, planted_teacher, write_data  # noqa: E402


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("distill")
    return planted_teacher(folder / "teacher.onnx"), write_data(folder), folder


def test_stratified_pairs_keep_every_tf_and_every_gene():
    from deeptgi_train.distill import stratified_pairs

    tfs, genes = stratified_pairs(7, 50, 60, np.random.default_rng(0))
    assert set(tfs) == set(range(7)) and set(genes) == set(range(50))
    assert len(tfs) == 7 * 9 and len(set(zip(tfs, genes))) == len(tfs)  # distinct pairs, 9 per TF
    every = stratified_pairs(3, 4, 12, np.random.default_rng(0))
    assert len(every[0]) == 12


def test_the_student_reproduces_the_planted_teacher(setup):
    from deeptgi_rt.model import ScoringModel
    from deeptgi_train import distill

    teacher_path, expr, _ = setup
    teacher = ScoringModel(teacher_path, device="cpu", threads=1)
    labels = distill.teacher_labels(teacher, distill.read_modalities(teacher, expr, None), seed=0)
    assert labels.n_model_tfs == len(TFS) and len(labels.tf_names) == 36  # every gene also a pseudo-TF
    assert np.std(labels.logits) > 0.5  # the planted function spreads
    result = distill.train_student(
        labels, "compact", epochs=40, seed=0, threads=1, threshold=0.6, sizes={"rank": 8, "hidden": 64}, holdout="pair"
    )
    assert result.agreement["validation_by"] == "pair" and not result.validation_tfs
    # Pairs never fitted (of entities seen through other pairs) and all pairs of the teacher's TFs.
    assert result.agreement["validation"]["spearman"] >= 0.99
    assert result.agreement["all"]["spearman"] >= 0.99
    assert result.agreement["all"]["spearman_within_tf"] >= 0.98


def _distill(setup, out, *extra):
    from deeptgi_train.cli import main

    teacher, expr, _ = setup
    args = ["distill", "--teacher", str(teacher), "--expr", str(expr), "--out", str(out)]
    return main([*args, "--threads", "1", "--epochs", "3", "-q", *extra])


@pytest.mark.parametrize("kind", ["compact", "lite"])
def test_metadata_records_the_teacher_and_carries_its_threshold_semantics(setup, kind):
    import deeptgi_rt

    teacher_path, expr, folder = setup
    out = folder / f"{kind}.onnx"
    assert _distill(setup, out, "--student", kind) == 0
    student, teacher = (deeptgi_rt.load_model(path, device="cpu", threads=1) for path in (out, teacher_path))
    meta, tmeta = student.metadata, teacher.metadata
    facts = meta.training["teacher"]
    assert facts["file"] == "teacher.onnx"
    assert facts["sha256"] == hashlib.sha256(teacher_path.read_bytes()).hexdigest()
    assert facts["genome_wide"] == tmeta.training["genome_wide"] and facts["members"] == 5
    assert meta.training["distillation"]["loss"] == "mse on logits"
    assert meta.training["distillation"]["student"] == kind
    for key in ("threshold", "label_prior", "calibration", "feature_genes", "tfs", "pair_features"):
        assert getattr(meta, key) == getattr(tmeta, key), key
    assert (meta.head or {}).get("kind") == ("bilinear" if kind == "compact" else None)
    assert student._model.factorized
    # Scored through the same API as any model.
    frame = student.score(expr, top_k=3)
    assert frame.height == len(TFS) * 3


def test_export_parity_of_both_students(setup):
    from deeptgi_rt.model import ScoringModel
    from deeptgi_train import distill

    teacher_path, expr, folder = setup
    teacher = ScoringModel(teacher_path, device="cpu", threads=1)
    labels = distill.teacher_labels(teacher, distill.read_modalities(teacher, expr, None))
    for kind in distill.STUDENT_KINDS:
        # With training noise, which must not reach the exported encoders.
        result = distill.train_student(labels, kind, epochs=1, threads=1, input_noise=0.5)
        meta = distill.student_metadata(teacher, result, labels, command="test", files={})
        report = distill.export_student(result, meta, labels, folder / f"parity-{kind}.onnx")
        assert report["max_abs_diff"] <= 1e-5 and report["runtime_max_abs_diff"] <= 1e-5


def _refused(capsys, code, out):
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not os.path.exists(out)
    return err


def test_a_teacher_that_is_not_a_deeptgi_model_is_refused(setup, tmp_path, capsys):
    import onnx
    from onnx import TensorProto, helper

    from deeptgi_train.cli import main

    _, expr, _ = setup
    text = tmp_path / "notes.onnx"
    text.write_text("not a model\n")
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    plain = tmp_path / "plain.onnx"
    onnx.save(helper.make_model(graph), plain)
    for teacher in (text, plain, tmp_path / "missing.onnx"):
        out = tmp_path / "s.onnx"
        code = main(["distill", "--teacher", str(teacher), "--expr", str(expr), "--out", str(out), "-q"])
        assert str(teacher) in _refused(capsys, code, out)


def test_expression_without_the_teachers_feature_genes_is_refused(setup, tmp_path, capsys):
    from onnx_models import synthetic_expression, write_genes_by_cells_csv

    from deeptgi_train.cli import main

    teacher, _, _ = setup
    # The TFs are there (G000..G007), the last six feature genes are not.
    genes, values = synthetic_expression(n_genes=30, n_cells=40, seed=3)
    other = write_genes_by_cells_csv(tmp_path / "other.csv", genes, values)
    out = tmp_path / "s.onnx"
    code = main(["distill", "--teacher", str(teacher), "--expr", str(other), "--out", str(out), "-q"])
    err = _refused(capsys, code, out)
    assert "6 of 36 feature genes" in err and "G030" in err


def test_out_in_a_missing_or_read_only_directory_is_refused(setup, tmp_path, capsys):
    out = tmp_path / "nowhere" / "s.onnx"
    assert "does not exist" in _refused(capsys, _distill(setup, out), out)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write to read-only directories")
        out = locked / "s.onnx"
        _refused(capsys, _distill(setup, out), out)
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o700)


def test_student_metadata_is_json_and_names_how_the_threshold_was_obtained(setup):
    import deeptgi_rt

    _, _, folder = setup
    path = folder / "compact.onnx"
    if not path.exists():
        pytest.skip("needs the compact student of the metadata test")
    meta = deeptgi_rt.load_model(path, device="cpu").metadata
    text = meta.training["distillation"]["threshold_semantics"]
    assert "carried over" in text
    json.dumps(meta.training)
