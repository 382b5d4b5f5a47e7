"""The label-only target prior as a fixed logit offset, so the network fits what it does not explain.

A network trained on labelled pairs learns first which genes are frequent targets: the target
label rate alone (:mod:`deeptgi_train.baselines`) reaches most of its AUROC when TFs are held
out. With ``--prior-offset`` the logit of that rate is added to the network's logit during
training (:func:`deeptgi_train.trainer.train_model`'s ``logit_offset``), so the gradient
only asks the network for what the prior does not already say: the TF-specific part. The
exported model is the network plus the per-target table of those logits over its fitted
pairs (:func:`target_prior_table`, metadata ``target_prior``), which the runtime adds back
when scoring (:mod:`deeptgi_rt.target_prior`); validation and test scores here include it
the same way, so thresholds and figures are those of what users score.

A fitted pair's own label must not enter its offset (the network would learn to trust an
offset that cannot be that good on new pairs), so fitted pairs get the leave-one-out rate of
their target; every other pair (validation, test) gets the rate over all fitted pairs. With
targets held out every held-out pair's offset is 0 (rate 0.5).
"""

from __future__ import annotations

import numpy as np

from deeptgi_rt.target_prior import TARGET_PRIOR_SOURCE

from .data import PairDataset


def target_prior_logits(dataset: PairDataset, fit_idx: np.ndarray) -> np.ndarray:
    """Logit of the target label rate fitted on ``fit_idx``, for every pair of ``dataset``.

    The rate is ``(positives + 0.5) / (pairs + 1)`` of the target's fitted pairs (0.5 for a
    target without any), leaving the pair itself out for pairs in ``fit_idx``.

    Args:
        dataset: all pairs.
        fit_idx: int ``[n]`` indices of the pairs the network fits on.

    Returns:
        float32 ``[pairs of dataset]`` logits.
    """
    fit_idx = np.asarray(fit_idx, dtype=np.int64)
    labels = dataset.labels.astype(np.float64)
    positives, pairs = _target_counts(dataset, fit_idx)
    own_positive = positives[dataset.gene_idx]
    own_pairs = pairs[dataset.gene_idx]
    fitted = np.zeros(len(dataset), dtype=bool)
    fitted[fit_idx] = True
    own_positive = own_positive - np.where(fitted, labels, 0.0)
    own_pairs = own_pairs - fitted
    return _rate_logits(own_positive, own_pairs).astype(np.float32)


def target_prior_table(dataset: PairDataset, fit_idx: np.ndarray) -> dict:
    """The model's ``target_prior`` metadata: the logit of every fitted target's label rate.

    Same rate as :func:`target_prior_logits` without leaving any pair out (the pairs a model
    scores are new), for the targets with at least one pair in ``fit_idx`` (int ``[n]``);
    other targets get ``default_logit`` 0 (rate 0.5), as in training.

    Returns:
        ``{"genes": [...], "logits": [...], "default_logit": 0.0, "source": ...}``, logits float.
    """
    positives, pairs = _target_counts(dataset, np.asarray(fit_idx, dtype=np.int64))
    fitted = np.flatnonzero(pairs > 0)
    logits = _rate_logits(positives[fitted], pairs[fitted])
    return {
        "genes": [dataset.entities[row] for row in fitted],
        "logits": [float(value) for value in logits],
        "default_logit": 0.0,
        "source": TARGET_PRIOR_SOURCE,
    }


def _target_counts(dataset: PairDataset, fit_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positives and pairs of each entity as the target of the pairs ``fit_idx``: float64 ``[entities]`` each."""
    n_entities = len(dataset.entities)
    targets = dataset.gene_idx[fit_idx]
    positives = np.bincount(targets, weights=dataset.labels[fit_idx].astype(np.float64), minlength=n_entities)
    pairs = np.bincount(targets, minlength=n_entities).astype(np.float64)
    return positives, pairs


def _rate_logits(positives: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """float64 logit of the smoothed label rate ``(positives + 0.5) / (pairs + 1)`` (never 0 or 1)."""
    rate = (positives + 0.5) / (pairs + 1.0)
    return np.log(rate) - np.log1p(-rate)
