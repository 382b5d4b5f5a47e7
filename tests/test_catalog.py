"""Shipped models by name: the one registry that --model and load_model() consult."""

from __future__ import annotations

import json

import pytest

import deeptgi_rt
from deeptgi_rt import InputError
from deeptgi_rt.catalog import models_dir, resolve_model, shipped_models
from deeptgi_rt.cli import main


def test_shipped_models_are_package_data_with_card_summaries():
    models = {m.name: m for m in shipped_models()}
    assert {"mhsc-e-lite", "mdc-lite"} <= set(models)
    for model in models.values():
        assert model.path.parent == models_dir()
        assert model.path.is_file() and model.path.with_suffix(".md").is_file()
        assert model.summary and not model.summary.startswith(model.name)
    assert "dendritic" in models["mdc-lite"].summary


def test_a_name_with_or_without_onnx_resolves_to_the_packaged_file():
    expected = models_dir() / "mdc-lite.onnx"
    assert resolve_model("mdc-lite") == expected
    assert resolve_model("mdc-lite.onnx") == expected


def test_an_existing_path_wins_over_a_shipped_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mdc-lite").write_bytes(b"mine")
    assert resolve_model("mdc-lite") == tmp_path.joinpath("mdc-lite").relative_to(tmp_path)


def test_an_unknown_name_or_missing_path_names_the_shipped_models():
    with pytest.raises(
        InputError, match=r"nope: model file not found, and not the name of a shipped model \(.*mdc-lite"
    ):
        resolve_model("nope")
    # A path with a directory part is never read as a name.
    with pytest.raises(InputError, match="other/mdc-lite: model file not found"):
        resolve_model("other/mdc-lite")


def test_load_model_by_name_scores_like_the_file():
    by_name = deeptgi_rt.load_model("mhsc-e-lite", device="cpu")
    assert by_name.path == str(models_dir() / "mhsc-e-lite.onnx")
    assert by_name.metadata.tfs == deeptgi_rt.load_model(by_name.path, device="cpu").metadata.tfs


def test_models_command_lists_names_and_summaries(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines if not line.startswith("(")]
    assert names == [m.name for m in shipped_models()]
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["name"] for row in rows} == set(names)
    assert all(row["file"].endswith(".onnx") and row["summary"] for row in rows)


def test_cli_unknown_model_name_is_one_line_exit_2(capsys):
    assert main(["info", "no-such-model"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not the name of a shipped model" in err
