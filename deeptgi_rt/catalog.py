"""The shipped models, by name: one registry for every place a model is named.

The models trained on the shipped examples are package data (``deeptgi_rt/models/``), so an
installed wheel carries them: ``--model mhsc-e-lite`` and ``load_model("mhsc-e-lite")`` resolve
to ``deeptgi_rt/models/mhsc-e-lite.onnx``, and each has a card (``<name>.md``) whose title line
gives its one-line summary. A path that exists always wins over a name, so a file of the user's
called like a shipped model is never shadowed.

This module imports nothing heavy: the CLI resolves ``--model`` before loading onnxruntime.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError, preview

if TYPE_CHECKING:
    from ._types import PathLike

MODEL_SUFFIX = ".onnx"


@dataclass(frozen=True)
class ShippedModel:
    """One packaged model.

    Attributes:
        name: what ``--model`` and ``load_model`` accept (the file name without ``.onnx``).
        path: the ``.onnx`` file inside the installed package.
        summary: the card's title after its ``name:`` prefix, or ``""`` without a card.
    """

    name: str
    path: Path
    summary: str


def models_dir() -> Path:
    """The directory of the packaged models (``deeptgi_rt/models``)."""
    return Path(str(resources.files("deeptgi_rt") / "models"))


def shipped_models() -> list[ShippedModel]:
    """The packaged models, sorted by name."""
    found = []
    for path in sorted(models_dir().glob(f"*{MODEL_SUFFIX}")):
        name = path.name[: -len(MODEL_SUFFIX)]
        found.append(ShippedModel(name, path, _card_summary(path.with_suffix(".md"), name)))
    return found


def _card_summary(card: Path, name: str) -> str:
    if not card.is_file():
        return ""
    with card.open(encoding="utf-8") as handle:
        title = handle.readline().strip().lstrip("#").strip()
    prefix = f"{name}:"
    return title[len(prefix) :].strip() if title.startswith(prefix) else title


def resolve_model(model: PathLike) -> Path:
    """The model file that ``model`` names: an existing path as given, else a shipped model's
    name (with or without ``.onnx``); :class:`InputError` naming both readings otherwise.

    A directory or any other existing non-file is returned as given, for the caller's own
    "not a file" message.
    """
    path = Path(model)
    if path.exists():
        return path
    text = str(model)
    name = text[: -len(MODEL_SUFFIX)] if text.endswith(MODEL_SUFFIX) else text
    if name and "/" not in name and "\\" not in name:
        for shipped in shipped_models():
            if shipped.name == name:
                return shipped.path
    names = [shipped.name for shipped in shipped_models()]
    raise InputError(
        f"{text}: model file not found, and not the name of a shipped model ({preview(names) or 'none installed'}; "
        "`deeptgi-rt models` lists them)"
    )


def model_sha256(path: PathLike) -> str:
    """Hex SHA-256 of a model file (read in 1 MiB blocks): the identity a stored result or a
    distilled student records for the model it came from."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
