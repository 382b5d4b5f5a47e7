"""benchmarks/accuracy.py: --merge, and its lite rows against cv."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

_SPEC = importlib.util.spec_from_file_location(
    "accuracy_benchmark", Path(__file__).resolve().parents[2] / "benchmarks" / "accuracy.py"
)
accuracy = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(accuracy)


def test_merge_orders_rows_by_data_set_protocol_then_baselines_before_deeptgi(tmp_path):
    def row(dataset, protocol, method):
        return {
            "dataset": dataset,
            "protocol": protocol,
            "method": method,
            "label": accuracy.LABELS[method],
            **{f"{key}_{stat}": 0.5 for key in ("auroc", "aupr", "seconds") for stat in ("mean", "sd")},
        }

    first, second = tmp_path / "lite.json", tmp_path / "baselines.json"
    first.write_text(
        json.dumps(
            {
                "command": "lite run",
                "results": [
                    row("mdc", "random", "lite"),
                    row("mhsc-e", "gene", "lite"),
                    row("mhsc-e", "random", "lite"),
                ],
            }
        )
    )
    second.write_text(
        json.dumps(
            {"command": "baseline run", "results": [row("mhsc-e", "random", "hgb"), row("mhsc-e", "random", "prior")]}
        )
    )
    out = tmp_path / "accuracy.json"
    assert accuracy.main(["--merge", str(first), str(second), "--out", str(out)]) == 0
    merged = json.loads(out.read_text())
    assert [(r["dataset"], r["protocol"], r["method"]) for r in merged["results"]] == [
        ("mhsc-e", "random", "prior"),
        ("mhsc-e", "random", "hgb"),
        ("mhsc-e", "random", "lite"),
        ("mhsc-e", "gene", "lite"),
        ("mdc", "random", "lite"),
    ]
    assert merged["commands"] == ["lite run", "baseline run"]
    assert (tmp_path / "accuracy.md").exists()

    # A merged file merges again with a later run; cross-fitted lite sorts after the single network.
    later = tmp_path / "crossfit.json"
    later.write_text(
        json.dumps({"command": "crossfit run", "results": [{**row("mhsc-e", "random", "lite"), "crossfit": 5}]})
    )
    again = tmp_path / "again.json"
    assert accuracy.main(["--merge", str(later), str(out), "--out", str(again)]) == 0
    remerged = json.loads(again.read_text())
    assert [(r["method"], r.get("crossfit", 1)) for r in remerged["results"][:4]] == [
        ("prior", 1),
        ("hgb", 1),
        ("lite", 1),
        ("lite", 5),
    ]
    assert remerged["commands"] == ["crossfit run", "lite run", "baseline run"]


@pytest.mark.parametrize("crossfit, prior_offset", [(1, False), (2, False), (1, True), (2, True)])
def test_benchmark_lite_rows_reproduce_deeptgi_train_cv_fold_for_fold(crossfit, prior_offset):
    from deeptgi_train.configs import model_config, train_config, with_epochs
    from deeptgi_train.cv import cv_splits, run_cv

    from .test_trainer import _dataset

    dataset = _dataset()
    splits = list(cv_splits(dataset, protocol="random", folds=2, seed=4))
    row = accuracy.run_method(
        "lite", dataset, splits, seed=4, epochs={"lite": 1}, threads=1, crossfit=crossfit, prior_offset=prior_offset
    )
    cv = run_cv(
        dataset,
        model_config("lite"),
        with_epochs(train_config("lite", seed=4, threads=1), 1),
        protocol="random",
        folds=2,
        seed=4,
        crossfit=crossfit,
        prior_offset=prior_offset,
    )
    assert [fold["auroc"] for fold in row["folds"]] == [fold.test["auroc"] for fold in cv.folds]
    # The degree-controlled figures too: the same pooled groups (a target in a fold) as cv's.
    assert row["target_wise"]["mean"] == pytest.approx(cv.target_wise_summary()["model"].mean, abs=1e-12)
    assert row["pair_specific"]["mean"] == pytest.approx(cv.pair_specific_summary()["model"].mean, abs=1e-12)
    assert row["pair_specific"]["targets"] == cv.pair_specific_summary()["model"].targets > 0


def test_any_data_set_runs_by_expr_labels_and_name(shared_data, tmp_path):
    data = shared_data / "mhsc-e"
    out = tmp_path / "any.json"
    assert (
        accuracy.main(
            [
                "--expr",
                str(data / "expression.csv"),
                "--labels",
                str(data / "pairs.csv"),
                "--name",
                "my-data",
                "--protocols",
                "tf",
                "--methods",
                "prior",
                "pcc",
                "--folds",
                "2",
                "--threads",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = json.loads(out.read_text())["results"]
    assert [(row["dataset"], row["method"]) for row in rows] == [("my-data", "prior"), ("my-data", "pcc")]
    # The same folds as the built-in mhsc-e, so the label rate equals deeptgi-train cv's reference.
    from deeptgi_train.baselines import label_only_auroc
    from deeptgi_train.cv import cv_splits

    dataset = accuracy.load("mhsc-e", 0)
    expected = [
        label_only_auroc(dataset.gene_idx, dataset.labels, np.r_[s.fit, s.validation], s.test)["target_label_rate"]
        for s in cv_splits(dataset, protocol="tf", folds=2, seed=0)
    ]
    assert [fold["auroc"] for fold in rows[0]["folds"]] == pytest.approx(expected)
    # A rule of the target alone ranks no target's TFs: exactly 0.5 in both degree-controlled columns.
    assert rows[0]["target_wise"]["mean"] == 0.5 == rows[0]["pair_specific"]["high"]
    assert "| target-wise AUROC | pair-specific AUROC |" in out.with_suffix(".md").read_text()
