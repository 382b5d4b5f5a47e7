"""Which score cut a threshold name means, and what density it calls.

A model's ``threshold`` metadata is the Youden point on its validation pairs, which are
balanced (about as many positives as negatives). Genome-wide, edges are a few per cent of the
TF x target pairs, so the balanced cut calls far too many. When the model records its label
prior (contract ``label_prior``: the class balance of its labelled pairs and the density of
the network they came from), ``"youden"`` is the same decision moved to that base rate by
Bayes' rule for a prior shift: the likelihood ratio of a score is unchanged, the prior odds
change, so the cut on the *calibrated* logit moves by the difference of the log prior odds.

The shift is only exact on a logit that is a calibrated log-odds, and a model's scores need
not be one (ensemble averaging and early stopping change their spread). Models that record a
Platt fit of their held-out scores (contract ``calibration``: ``P(edge) = sigmoid(a *
logit(s) + b)`` on balanced pairs) keep the Youden point's cost ratio on that calibrated logit::

    a * logit(t_genome) + b = a * logit(t_balanced) + b + logit(class_balance) - logit(network_density)
    logit(t_genome) = logit(t_balanced) + (logit(class_balance) - logit(network_density)) / a

Models without ``calibration`` use a = 1 and say so. Measured on mdc (the shipped 5-member
cross-fitted ensemble's rebuild command): the out-of-fold scores give a = 0.771, b = -0.118,
so the members' held-out scores are if anything over-confident and the calibrated cut (0.9958)
lies above the raw shift (0.9856); the ensemble's genome-wide scores (averaged member logits)
stop at 0.990, so both call no pair and the run warns. A calibration of the members' scores
cannot see the averaging; ``--top-k`` ranks such a model.
``"balanced-youden"`` is the metadata threshold unchanged; models without ``label_prior``
use it for ``"youden"`` too, and say so.

``"density"`` needs no calibration: it keeps the top ``network_density`` share of the run's own
scored pairs, so the network called is as dense as the one the labels came from (on mdc the
shifted Youden cut calls no pair and the balanced one 16.6 %). The cut is a score quantile of the
run (:func:`density_keep`, :func:`density_cut`), found by one extra scoring pass; runs of more
than :data:`DENSITY_SAMPLE_PAIRS` pairs estimate it on an evenly spaced subset of TFs
(:func:`density_tf_subset`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Names accepted for the model's threshold (besides a float).
THRESHOLD_NAMES = ("youden", "balanced-youden", "density")
# The density cut is exact up to this many pairs, else estimated on a subset of TFs holding at
# most this many. The extra pass holds their scores (4 bytes a pair: 16 MB) and scores them once
# (measured: mdc-lite's head runs 48,000 pairs/s on one thread, so at most about 80 s, next to
# the 10^7-10^8 pairs of a genome). Were pairs independent, 4M of them would pin a 1.5 % share
# to within 0.4 % of itself (binomial standard error); TFs differ, which is why the subset is
# whole TFs spread evenly over the run's TF list.
DENSITY_SAMPLE_PAIRS = 4_000_000
# Below this fraction of feature genes in the data the model's threshold is not applied: its
# scores move with every zero-filled PCC column (measured: 30 % coverage called 79 % of
# mhsc-e pairs), so only a stated float cut or a top k is meaningful.
MIN_THRESHOLD_COVERAGE = 0.9
# Scores are float32 probabilities: clipped this far from 0 and 1, a saturated score keeps a
# finite logit and no real score moves.
SCORE_CLIP = 1e-7


@dataclass(frozen=True)
class ModelThreshold:
    """The model's threshold for a run.

    Attributes:
        value: the score cut (edges with score >= value).
        balanced: the metadata threshold (Youden on balanced validation pairs).
        shifted: whether ``value`` was moved to the genome-wide base rate.
        class_balance, network_density: the label prior used (``None`` when not recorded).
        calibration_slope: the Platt slope the shift was divided by (``None``: the model
            records no calibration, the raw logit was shifted).
        density_pairs: for ``"density"``: the run's pairs (self pairs excluded) whose top
            ``network_density`` share the cut keeps (``None`` for the other names).
        sampled_tfs: for an estimated ``"density"`` cut: ``(TFs scored for it, TFs of the run)``.
    """

    value: float
    balanced: float
    shifted: bool
    class_balance: float | None = None
    network_density: float | None = None
    calibration_slope: float | None = None
    density_pairs: int | None = None
    sampled_tfs: tuple[int, int] | None = None

    def describe(self) -> str:
        """How the cut was chosen, in one phrase."""
        if self.density_pairs is not None:
            estimated = (
                f", estimated from {self.sampled_tfs[0]:,} of {self.sampled_tfs[1]:,} TFs" if self.sampled_tfs else ""
            )
            return (
                f"top {self.network_density:.2%} of {self.density_pairs:,} pairs (the training network's "
                f"density): cut {self.value:.4f}{estimated}"
            )
        if self.shifted:
            how = (
                f"on the calibrated logit (Platt slope {self.calibration_slope:.3g})"
                if self.calibration_slope is not None
                else "on the raw logit (the model records no calibration; its scores may overshoot)"
            )
            return (
                f"Youden {self.balanced:.4g} on balanced pairs ({self.class_balance:.0%} positive) moved to the "
                f"training network's density {self.network_density:.2%} {how}"
            )
        return (
            "Youden on balanced labelled pairs, not corrected to a genome-wide base rate "
            "(the model records no label_prior)"
        )


def logit(p: float) -> float:
    """``log(p / (1 - p))`` with ``p`` clipped into (0, 1) by :data:`SCORE_CLIP`."""
    p = min(max(float(p), SCORE_CLIP), 1.0 - SCORE_CLIP)
    return math.log(p / (1.0 - p))


def score_logits(scores) -> np.ndarray:
    """float64 logits of probabilities ``scores`` (any shape, any float dtype), clipped by
    :data:`SCORE_CLIP` as :func:`logit` clips one."""
    p = np.clip(np.asarray(scores, dtype=np.float64), SCORE_CLIP, 1.0 - SCORE_CLIP)
    return np.log(p) - np.log1p(-p)


def sigmoid(x: float) -> float:
    """``1 / (1 + exp(-x))``."""
    return 1.0 / (1.0 + math.exp(-x))


def model_threshold(metadata, name: str = "youden") -> ModelThreshold:
    """The cut named ``"youden"`` or ``"balanced-youden"`` for a model's
    :class:`~deeptgi_rt.contract.ModelMetadata` (``"density"`` depends on the run's scores:
    :func:`density_threshold`)."""
    balanced = float(metadata.threshold)
    prior = metadata.label_prior or {}
    pi_train, density = prior.get("class_balance"), prior.get("network_density")
    if name == "balanced-youden" or pi_train is None or density is None:
        return ModelThreshold(balanced, balanced, False, pi_train, density)
    slope = float(metadata.calibration["slope"]) if metadata.calibration else None
    value = sigmoid(logit(balanced) + (logit(pi_train) - logit(density)) / (slope or 1.0))
    return ModelThreshold(value, balanced, True, float(pi_train), float(density), slope)


def density_threshold(value: float, metadata, pairs: int, sampled_tfs: tuple[int, int] | None) -> ModelThreshold:
    """The :class:`ModelThreshold` of a ``"density"`` cut ``value`` found over a run of ``pairs`` pairs."""
    prior = metadata.label_prior
    return ModelThreshold(
        float(value),
        float(metadata.threshold),
        False,
        prior.get("class_balance"),
        float(prior["network_density"]),
        density_pairs=int(pairs),
        sampled_tfs=sampled_tfs,
    )


def density_keep(pairs: int, density: float) -> int:
    """How many of ``pairs`` scored pairs the ``density`` share keeps: ``density * pairs``
    rounded to the nearest integer (halves up), at least 1 (a cut needs a pair to sit on)."""
    return max(1, min(int(pairs), math.floor(float(density) * int(pairs) + 0.5)))


def density_cut(scores: np.ndarray, keep: int) -> float:
    """The score of the ``keep``-th best of ``scores`` (float32 ``[n]``, ``1 <= keep <= n``).

    Edges with score >= the cut are kept, so pairs tied with the ``keep``-th score are all kept
    (equal scores cannot be told apart): the count is ``keep`` unless the cut sits on a tie.
    """
    scores = np.asarray(scores).ravel()
    if not 1 <= keep <= len(scores):
        raise ValueError(f"keep must be in [1, {len(scores)}], got {keep}")
    return float(np.partition(scores, len(scores) - keep)[len(scores) - keep])


def density_tf_subset(n_tfs: int, n_targets: int, max_pairs: int) -> np.ndarray:
    """int64 ``[m]``: the TFs (ascending row indices of ``0 .. n_tfs``) whose rows of
    ``n_targets`` pairs the density cut is taken over: all TFs when they hold at most
    ``max_pairs`` pairs, else ``m = max(1, max_pairs // n_targets)`` evenly spaced ones
    (``floor(i * n_tfs / m)``: deterministic, so a run's cut repeats)."""
    m = max(1, int(max_pairs) // max(1, int(n_targets)))
    if m >= n_tfs:
        return np.arange(n_tfs, dtype=np.int64)
    return (np.arange(m, dtype=np.int64) * int(n_tfs)) // m
