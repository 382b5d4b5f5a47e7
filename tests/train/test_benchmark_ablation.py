"""benchmarks/ablation.py --merge: steps run separately become one table in the paper's order."""

import importlib.util
import json
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "ablation_benchmark", Path(__file__).resolve().parents[2] / "benchmarks" / "ablation.py"
)
ablation = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(ablation)


def _run(path: Path, command: str, steps: list[str], config: str = "paper", epochs_cap=None) -> Path:
    rows = [
        {
            "step": step,
            "label": ablation.STEPS[step],
            "folds": [],
            **{f"{key}_{stat}": 0.5 for key in ("auroc", "aupr", "seconds") for stat in ("mean", "sd")},
        }
        for step in steps
    ]
    path.write_text(
        json.dumps(
            {"command": command, "config": config, "epochs_cap": epochs_cap, "folds": 5, "seed": 0, "results": rows}
        )
    )
    return path


def test_merge_puts_the_steps_in_the_paper_order_and_keeps_every_command(tmp_path):
    first = _run(tmp_path / "a.json", "run a", ["cnn+siamese+autoencoder", "cnn"])
    second = _run(tmp_path / "b.json", "run b", ["full", "cnn+siamese"])
    out = tmp_path / "ablation.json"
    assert ablation.main(["--merge", str(first), str(second), "--out", str(out)]) == 0
    merged = json.loads(out.read_text())
    assert [row["step"] for row in merged["results"]] == list(ablation.STEPS)
    assert merged["commands"] == ["run a", "run b"] and merged["config"] == "paper"
    assert out.with_suffix(".md").read_text().splitlines()[2].startswith("| CNN |")

    # A merged file merges again and keeps its runs' commands.
    again = tmp_path / "again.json"
    assert ablation.main(["--merge", str(out), "--out", str(again)]) == 0
    assert json.loads(again.read_text())["commands"] == ["run a", "run b"]


def test_merge_refuses_runs_of_different_configs_or_budgets(tmp_path, capsys):
    paper = _run(tmp_path / "paper.json", "paper run", ["cnn"])
    lite = _run(tmp_path / "lite.json", "lite run", ["full"], config="lite")
    capped = _run(tmp_path / "capped.json", "capped run", ["full"], epochs_cap=10)
    out = tmp_path / "ablation.json"
    for other in (lite, capped):
        with pytest.raises(SystemExit) as stop:
            ablation.main(["--merge", str(paper), str(other), "--out", str(out)])
        assert stop.value.code == 2
        assert "differ in (config, epochs cap, folds, seed)" in capsys.readouterr().err
    assert not out.exists()
