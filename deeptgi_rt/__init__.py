"""deeptgi-rt: genome-wide TF -> target gene network inference with DeepTGI.

The slim runtime: expression I/O, the blocked PCC core, ONNX scoring. It never imports torch;
heavy optional dependencies are imported where they are used, and the scoring API below is
imported on first use, so ``import deeptgi_rt`` stays light. ``deeptgi_rt.tl`` and
``deeptgi_rt.pl`` are the scanpy-style functions on an ``AnnData`` (:mod:`deeptgi_rt.tl`),
imported on first use too.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import InputError

# Public names served lazily from submodules: name -> module.
_LAZY = {
    "load_model": "api",
    "DeepTGIModel": "api",
    "ScoreSummary": "api",
    "ScoreRequest": "api",
    "Expression": "expression",
    "read_expression": "expression",
    "expression_from_frame": "expression",
    "ModelMetadata": "contract",
}

# scanpy-style namespaces, imported on first use: deeptgi_rt.tl (tools), deeptgi_rt.pl (plots).
_SUBMODULES = ("tl", "pl")

__all__ = ["InputError", "__version__", *_LAZY, *_SUBMODULES]


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        import importlib

        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))
