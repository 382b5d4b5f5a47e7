"""`import deeptgi_rt` stays light: never torch, and the scoring stack only on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO


def run(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True)


def test_runtime_never_imports_torch():
    run(
        "import deeptgi_rt, deeptgi_rt.api, deeptgi_rt.cli, deeptgi_rt.model, deeptgi_rt.scoring, sys;"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )


def test_bare_import_loads_no_heavy_dependency():
    run(
        "import deeptgi_rt, sys;"
        "heavy = [m for m in ('torch', 'onnxruntime', 'onnx', 'polars', 'pyarrow', 'numba') if m in sys.modules];"
        "assert not heavy, heavy"
    )


def test_lazy_exports_resolve():
    run(
        "import deeptgi_rt, sys; assert callable(deeptgi_rt.load_model); assert 'onnxruntime' not in sys.modules;"
        "assert deeptgi_rt.DeepTGIModel.__name__ == 'DeepTGIModel'"
    )


def test_scanpy_style_namespaces_import_light():
    run(
        "import deeptgi_rt, sys; tl, pl = deeptgi_rt.tl, deeptgi_rt.pl;"
        "assert callable(tl.score) and callable(tl.evaluate) and callable(pl.network);"
        "heavy = [m for m in ('torch', 'onnxruntime', 'polars', 'pyarrow', 'numba', 'anndata', 'pandas', 'matplotlib')"
        " if m in sys.modules];"
        "assert not heavy, heavy"
    )


# What a command may not have imported when it reports a mistake in its arguments or a missing
# input: each of these takes a fraction of a second to seconds to import (numba.cuda most).
HEAVY = ("onnxruntime", "onnx", "numba", "numba.cuda", "polars", "pyarrow", "torch", "matplotlib", "pandas")


def heavy_modules_after(entry: str, argv: list[str]) -> tuple[int, str, list[str]]:
    """Run ``entry``'s ``main(argv)`` in a fresh interpreter: its exit code, its stderr and the
    :data:`HEAVY` modules it imported."""
    code = (
        "import json, sys\n"
        f"from {entry} import main\n"
        "try:\n"
        f"    rc = main({argv!r})\n"
        "except SystemExit as exit:\n"
        "    rc = exit.code\n"
        f"print(json.dumps([rc, [m for m in {HEAVY!r} if m in sys.modules]]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    import json

    rc, heavy = json.loads(result.stdout.strip().splitlines()[-1])
    return rc, result.stderr.strip(), heavy


MODEL = "mhsc-e-lite"
EXPR = "examples/mhsc-e.parquet"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["score", EXPR, "--model", "absent.onnx", "--out", "{tmp}/g.parquet"], "absent.onnx: model file not found"),
        (["score", EXPR, "--model", "{tmp}", "--out", "{tmp}/g.parquet"], "is a directory, not an ONNX model"),
        (["score", "absent.parquet", "--model", MODEL, "--out", "{tmp}/g.parquet"], "absent.parquet: file not found"),
        (["score", "absent.zarr", "--model", MODEL, "--out", "{tmp}/g.parquet"], "absent.zarr: zarr store not found"),
        (["score", EXPR, "--model", MODEL, "--pairs", "absent.csv", "--out", "{tmp}/g.parquet"], "pairs file not"),
        (["score", EXPR, "--model", MODEL, "--tfs", "absent.txt", "--out", "{tmp}/g.parquet"], "gene list not found"),
        (["score", EXPR, "--model", MODEL, "--top-k", "many"], "invalid int value"),
        (["score", EXPR], "the following arguments are required: --model"),
        (["info", "absent.onnx"], "absent.onnx: model file not found"),
        (["eval", "absent.parquet", "--truth", "examples/mdc-network-nonspecific.csv", "--expr", EXPR], "prediction"),
        (["plot", "absent.parquet", "--out", "{tmp}/n.png"], "absent.parquet: edge list not found"),
        (["pcc", "absent.parquet", "--out", "{tmp}/p.parquet"], "absent.parquet: file not found"),
    ],
    ids=lambda value: " ".join(value[:2]) if isinstance(value, list) else None,
)
def test_a_missing_input_or_bad_argument_is_reported_before_heavy_imports(argv, message, tmp_path):
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    rc, err, heavy = heavy_modules_after("deeptgi_rt.cli", argv)
    assert rc == 2
    # One error line (argparse prints its usage above it).
    assert message in err.splitlines()[-1] and err.splitlines()[-1].startswith("deeptgi-rt")
    assert heavy == [], f"imported {heavy} before reporting: {err}"
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "argv",
    [
        ["cv", "--expr", "absent.parquet", "--labels", "examples/mhsc-e-pairs.csv"],
        ["cv", "--expr", EXPR, "--labels", "examples/mhsc-e-pairs.csv", "--epochs", "0"],
        ["fit", "--expr", EXPR, "--labels", "absent.csv", "--out", "{tmp}/m.onnx"],
        ["export", "absent.pt", "--out", "{tmp}/m.onnx"],
    ],
    ids=lambda argv: " ".join(argv[:3]),
)
def test_training_reports_missing_data_and_bad_options_before_torch(argv, tmp_path):
    pytest.importorskip("torch")
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    rc, err, heavy = heavy_modules_after("deeptgi_train.cli", argv)
    assert rc == 2 and err.startswith("deeptgi-train: error: ")
    assert heavy == [], f"imported {heavy} before reporting: {err}"
