"""ScoreRequest: every option is checked when the request is made, before any model or data
loads; errors name the Python parameter and the CLI turns it into its flag."""

from __future__ import annotations

import dataclasses

import pytest

from deeptgi_rt import InputError
from deeptgi_rt.cli import flag_message, main
from deeptgi_rt.request import ScoreRequest

# (option, bad value, the Python parameter in the message, the CLI flag that replaces it)
BAD_OPTIONS = [
    ("top_k", 0, "top_k must be a positive integer", "--top-k must be a positive integer"),
    ("top_k", 2.5, "top_k must be a positive integer", "--top-k must be a positive integer"),
    (
        "threshold",
        1.5,
        "threshold must be 'youden', 'balanced-youden', 'density' or a number",
        "--threshold must be 'youden', 'balanced-youden', 'density' or a number",
    ),
    (
        "threshold",
        [0.5],
        "threshold must be 'youden', 'balanced-youden', 'density' or a number",
        "--threshold must be 'youden', 'balanced-youden', 'density' or a number",
    ),
    (
        "threshold",
        "high",
        "threshold must be 'youden', 'balanced-youden', 'density' or a number",
        "--threshold must be 'youden', 'balanced-youden', 'density' or a number",
    ),
    ("batch_size", -1, "batch_size must be a positive integer", "--batch-size must be a positive integer"),
    ("min_coverage", 1.5, "min_coverage must be a fraction", "--allow-missing-features must be a fraction"),
    (
        "unknown_pairs",
        "ignore",
        "unknown_pairs must be one of skip, error",
        "--unknown-pairs must be one of skip, error",
    ),
    ("format", "csv", "format must be one of parquet, tsv", "--format must be one of parquet, tsv"),
    ("layout", "rows", "layout must be one of auto", "--layout must be one of auto"),
    ("max_sort_edges", -1, "max_sort_edges must be an integer >= 0", "--max-sort-edges must be an integer >= 0"),
]
CLI_OPTIONS = {
    "top_k": None,
    "threshold": None,
    "batch_size": None,
    "unknown_pairs": None,
    "format": None,
    "layout": None,
    "max_sort_edges": None,
    "pairs": None,
    "tfs": None,
    "genes": None,
    "device": None,
    "bulk": None,
}


@pytest.mark.parametrize("name, value, library, cli", BAD_OPTIONS)
def test_bad_option_names_the_parameter_and_the_cli_names_the_flag(name, value, library, cli):
    with pytest.raises(InputError) as caught:
        ScoreRequest("expr.csv", **{name: value})
    assert str(caught.value).startswith(library)
    assert caught.value.parameter == name
    assert flag_message(caught.value, CLI_OPTIONS).startswith(cli)


def test_pairs_with_tfs_or_genes_is_refused_when_the_request_is_made():
    for other in ({"tfs": ["G001"]}, {"genes": "genes.txt"}):
        with pytest.raises(InputError, match="cannot be combined") as caught:
            ScoreRequest("expr.csv", pairs="pairs.csv", **other)
        assert flag_message(caught.value, CLI_OPTIONS) == (
            "--pairs lists the pairs to score; it cannot be combined with --tfs or --genes"
        )


def test_cli_refuses_pairs_with_tfs_before_loading_the_model(tmp_path, capsys):
    # Neither the model nor the expression exists: a check made after loading either would
    # report the missing file instead.
    out = tmp_path / "out.parquet"
    code = main(
        [
            "score",
            str(tmp_path / "missing.csv"),
            "--model",
            str(tmp_path / "missing.onnx"),
            "--pairs",
            str(tmp_path / "pairs.csv"),
            "--tfs",
            str(tmp_path / "tfs.txt"),
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == (
        "deeptgi-rt: error: --pairs lists the pairs to score; it cannot be combined with --tfs or --genes"
    )
    assert not out.exists()


def test_threshold_strings_are_parsed_and_youden_resolves_to_the_model_threshold():
    assert ScoreRequest("e", threshold="0.25").threshold == 0.25
    assert ScoreRequest("e", threshold=" YOUDEN ").threshold == "youden"
    assert ScoreRequest("e", threshold="youden").score_filter(0.7) == 0.7
    assert ScoreRequest("e", threshold=0.3).score_filter(0.7) == 0.3
    assert ScoreRequest("e").score_filter(0.7) is None
    assert ScoreRequest("e", threshold="Balanced-Youden").threshold == "balanced-youden"
    assert ScoreRequest("e", threshold="balanced-youden").score_filter(0.4) == 0.4


def test_request_is_frozen_and_lists_its_modalities():
    request = ScoreRequest("sc.csv", bulk="bulk.csv", max_sort_edges=0)
    assert request.modalities == ["sc.csv", "bulk.csv"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.top_k = 5


def test_flag_message_rewrites_only_parameters_the_command_knows():
    exc = InputError("device='cuda' requested but no GPU", parameter="device")
    assert flag_message(exc, {"device": "auto"}) == "--device cuda requested but no GPU"
    # A parameter the command does not have, and a file name with '=', stay as they are.
    exc = InputError("run=1/model.onnx: the model expects 2 modalities (give bulk=)", parameter="bulk")
    assert flag_message(exc, {"bulk": None}) == "run=1/model.onnx: the model expects 2 modalities (give --bulk)"
    assert flag_message(exc, {}) == str(exc)
    # Messages about file content carry no parameter and are never rewritten.
    plain = InputError("top_k.csv: top_k= is not a column")
    assert flag_message(plain, {"top_k": 1}) == str(plain)


def test_load_model_checks_threads_before_reading_the_model(tmp_path):
    from deeptgi_rt import load_model

    with pytest.raises(InputError, match="^threads must be a positive integer, got 0$") as caught:
        load_model(tmp_path / "missing.onnx", threads=0)
    assert flag_message(caught.value, {"threads": 0}) == "--threads must be a positive integer, got 0"


@pytest.mark.parametrize(
    "options, message",
    [
        (["--bulk-log1p"], "--bulk-log1p/--bulk-normalize transforms the bulk modality; give --bulk too"),
        (["--threshold", "balanced"], "--threshold must be 'youden', 'balanced-youden', 'density' or a number"),
        (["--top-k", "0"], "--top-k must be a positive integer"),
        (["--allow-missing-features", "0"], "--allow-missing-features must be a fraction"),
        (["--out", "grn.tsv.zst"], "name it .tsv or .tsv.gz"),
    ],
)
def test_cli_refuses_every_conflict_before_loading_anything(tmp_path, capsys, monkeypatch, options, message):
    monkeypatch.chdir(tmp_path)
    argv = ["score", "absent.csv", "--model", "absent.onnx", *options]
    if "--out" not in options:
        argv += ["--out", "out.parquet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("deeptgi-rt: error: ") and message in err, err
    assert "absent" not in err  # not a report about the files, which a later check would give
    assert list(tmp_path.iterdir()) == []


def test_score_path_errors_name_the_fix(tmp_path, capsys):
    from onnx_models import build_model, save_model, synthetic_expression, write_genes_by_cells_csv

    genes, values = synthetic_expression(20, 30)
    expr = write_genes_by_cells_csv(tmp_path / "e.csv", [g.lower() for g in genes], values)
    model = save_model(build_model(genes[:8], tfs=genes[:3]), tmp_path / "m.onnx")
    assert main(["score", str(expr), "--model", str(model), "--out", str(tmp_path / "o.parquet"), "-q"]) == 2
    assert "--case-insensitive" in capsys.readouterr().err
    partial = write_genes_by_cells_csv(tmp_path / "p.csv", genes[2:], values[2:])
    assert main(["score", str(partial), "--model", str(model), "--out", str(tmp_path / "o.parquet"), "-q"]) == 2
    assert "--allow-missing-features 0.75" in capsys.readouterr().err
