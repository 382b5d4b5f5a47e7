"""The per-target prior a model may carry (metadata ``target_prior``), added to its scores.

A model trained with the prior offset learned the residual of each target's label rate: its
network alone ranks one target's TFs, and the logit of the target's rate among the fitted
labelled pairs says how often that target is regulated at all. Scoring adds the two back
together, ``sigmoid(logit(p_network) + offset[target])``, so the scores rank pairs across
targets as the training loss saw them. Targets without labelled pairs get ``default_logit``
(0, rate 0.5, the same fallback training used): there the score is the network's alone.

The table is JSON in the metadata::

    {"genes": [...], "logits": [...], "default_logit": 0.0, "source": "..."}
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .errors import InputError
from .thresholds import score_logits

TARGET_PRIOR_SOURCE = "target label rate over the fitted labelled pairs, (pos+0.5)/(pairs+1)"


def check_target_prior(prior, source: str) -> None:
    """Raise :class:`InputError` naming ``source`` unless ``prior`` is a valid ``target_prior``:
    an object with ``genes`` (unique strings) and ``logits`` (finite numbers) of equal length
    and a finite ``default_logit``."""
    where = f"{source}: metadata target_prior"
    if not isinstance(prior, dict) or not {"genes", "logits", "default_logit"} <= set(prior):
        raise InputError(f"{where} must be an object with genes, logits and default_logit")
    genes, logits = prior["genes"], prior["logits"]
    if not isinstance(genes, list) or not all(isinstance(name, str) for name in genes):
        raise InputError(f"{where} genes must be a list of gene names")
    if not isinstance(logits, list) or len(logits) != len(genes):
        raise InputError(
            f"{where} logits must be a list as long as genes ({len(genes)}), "
            f"got {len(logits) if isinstance(logits, list) else type(logits).__name__}"
        )
    bad = [value for value in [*logits, prior["default_logit"]] if not _finite_number(value)]
    if bad:
        raise InputError(f"{where} holds a value that is not a finite number: {bad[0]!r}")
    seen: set[str] = set()
    for name in genes:
        if name in seen:
            raise InputError(f"{where} genes contains {name!r} twice")
        seen.add(name)


def _finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def target_offsets(prior: dict, target_names: Sequence[str], *, case_insensitive: bool = False) -> np.ndarray:
    """The prior's logit for each of ``target_names``: float64 ``[targets]``, ``default_logit``
    for targets the table does not hold; names matched as the run matches genes."""
    from .names import GeneMatcher

    rows, _ = GeneMatcher(prior["genes"], case_insensitive).match(list(target_names))
    logits = np.asarray(prior["logits"], dtype=np.float64)
    default = float(prior["default_logit"])
    return np.where(rows >= 0, logits[np.maximum(rows, 0)] if len(logits) else default, default)


def add_target_prior(probabilities: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``sigmoid(logit(p) + offset)`` in float64 (``p`` clipped as
    :func:`deeptgi_rt.thresholds.score_logits` clips), returned as float32.

    Args:
        probabilities: float32 network scores, any shape (``[n]`` or ``[tfs, targets]``).
        offsets: float64 logits broadcastable to ``probabilities`` (``[n]`` or ``[targets]``).
    """
    logit = score_logits(probabilities) + offsets
    return (0.5 * (1.0 + np.tanh(0.5 * logit))).astype(np.float32)
