"""Platt scaling of held-out scores: how far a model's scores are from probabilities.

Early stopping, mixup and ensembling change how far a model's scores spread, so a score is
not the probability of an edge on balanced pairs. Regressing the label on the score's logit,
``P(label = 1 | s) = sigmoid(slope * logit(s) + intercept)``, measures that: ``slope`` > 1
means the scores are too timid, < 1 over-confident (mdc's out-of-fold scores: 0.771).
The fit uses only held-out scores
(validation pairs, or out-of-fold scores of a cross-fitted ensemble), the same scores the
threshold comes from; the runtime uses ``slope`` to move the threshold to a genome-wide base
rate (:mod:`deeptgi_rt.thresholds`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deeptgi_rt.errors import InputError
from deeptgi_rt.thresholds import score_logits

# A tiny ridge keeps slope and intercept finite when the held-out scores separate the labels
# perfectly (tiny data sets); on real data (thousands of pairs) it moves neither in 4 digits.
RIDGE = 1e-4


def platt_fit(
    scores: np.ndarray, labels: np.ndarray, *, ridge: float = RIDGE, max_steps: int = 100
) -> tuple[float, float]:
    """Logistic regression of ``labels`` on ``logit(scores)`` by Newton steps in float64.

    Args:
        scores: float ``[pairs]`` held-out probabilities in [0, 1].
        labels: 0/1 ``[pairs]``, both classes present.
        ridge: L2 penalty on slope and intercept (``ridge / 2 * (a**2 + b**2)`` added to the
            summed log loss).
        max_steps: Newton steps at most (it converges in well under 20 on real scores).

    Returns:
        ``(slope, intercept)`` of ``P(label = 1) = sigmoid(slope * logit(score) + intercept)``.
    """
    x = score_logits(scores)
    y = np.asarray(labels, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"scores {x.shape} and labels {y.shape} must be two equal-length vectors")
    if not 0 < y.sum() < len(y):
        raise InputError(f"Platt scaling needs positive and negative held-out pairs, got {int(y.sum())} of {len(y)}")
    design = np.column_stack([x, np.ones_like(x)])
    weights = np.zeros(2)

    def loss(w: np.ndarray) -> float:
        z = design @ w
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * ridge * w @ w)

    current = loss(weights)
    for _ in range(max_steps):
        prob = 1.0 / (1.0 + np.exp(-(design @ weights)))
        gradient = design.T @ (prob - y) + ridge * weights
        hessian = (design * (prob * (1.0 - prob))[:, None]).T @ design + ridge * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        # Halve the Newton step until the loss falls: near-separable data overshoot otherwise.
        scale = 1.0
        while scale > 1e-10:
            candidate = weights - scale * step
            value = loss(candidate)
            if value <= current:
                break
            scale *= 0.5
        else:
            break
        weights, previous, current = candidate, current, value
        if previous - current <= 1e-12 * max(1.0, abs(current)):
            break
    return float(weights[0]), float(weights[1])


def platt_calibration(scores: np.ndarray, labels: np.ndarray, source: str) -> dict[str, Any] | None:
    """The contract's ``calibration`` entry for held-out ``scores`` (float ``[pairs]``) and 0/1
    ``labels`` (``[pairs]``); ``source`` says where the scores come from (``"validation"`` or
    ``"out-of-fold"``).

    ``None`` when the fitted slope is not > 0: held-out scores that rank the labels no better
    than chance (a few validation pairs, an undertrained model) say nothing about how far the
    scores are from probabilities, and a threshold divided by such a slope would move the wrong way.
    """
    slope, intercept = platt_fit(scores, labels)
    if not slope > 0:
        return None
    return {
        "method": "platt",
        "slope": round(slope, 6),
        "intercept": round(intercept, 6),
        "pairs": int(len(labels)),
        "source": source,
    }
