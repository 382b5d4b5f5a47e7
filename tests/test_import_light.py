"""`import deeptgi_rt` stays light: never torch, and the scoring stack only on first use."""

from __future__ import annotations

import subprocess
import sys


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
