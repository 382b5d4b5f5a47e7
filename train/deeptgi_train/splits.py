"""Cross-validation protocols over labelled pairs.

* ``random``: stratified k-fold over pairs (the DeepTGI paper's protocol). A TF or target seen
  in a test pair usually also appears in training pairs.
* ``tf``: group k-fold on TFs; no TF of a test pair appears in any training pair.
* ``gene``: group k-fold on targets; no target of a test pair appears as a training target.

Every function is a pure function of its arguments and a seed.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from deeptgi_rt.errors import InputError

PROTOCOLS = ("random", "tf", "gene")


def _stratified_assignment(labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Fold number (int64 ``[n]``) per pair, each class spread evenly over the ``k`` folds."""
    folds = np.empty(labels.shape[0], dtype=np.int64)
    offset = 0
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        # Continue the round-robin where the previous class stopped so fold sizes stay balanced.
        folds[members] = (np.arange(members.size) + offset) % k
        offset = (offset + members.size) % k
    return folds


def _group_assignment(groups: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Fold number (int64 ``[n]``) per pair so each group falls in one fold, pair counts balanced.

    Groups are shuffled, then placed largest first into the fold with the fewest pairs so far.
    """
    names, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if names.size < k:
        raise InputError(f"only {names.size} groups for {k} folds; use fewer folds")
    shuffled = rng.permutation(names.size)
    order = shuffled[np.argsort(-counts[shuffled], kind="stable")]
    group_fold = np.empty(names.size, dtype=np.int64)
    load = np.zeros(k, dtype=np.int64)
    for g in order:
        fold = int(np.argmin(load))
        group_fold[g] = fold
        load[fold] += counts[g]
    return group_fold[inverse]


def fold_assignment(
    labels: np.ndarray, tfs: np.ndarray, targets: np.ndarray, *, protocol: str, folds: int, seed: int
) -> np.ndarray:
    """Fold number of each pair under ``protocol``.

    Args:
        labels: 0/1 ``[n]``.
        tfs, targets: names ``[n]`` (object or str arrays).
        protocol: ``"random"``, ``"tf"`` or ``"gene"``.
        folds: number of folds k >= 2.
        seed: seed of the numpy Generator.

    Returns:
        int64 ``[n]`` in ``[0, folds)``.
    """
    if protocol not in PROTOCOLS:
        raise InputError(f"--split {protocol!r}: choose one of {', '.join(PROTOCOLS)}")
    if folds < 2:
        raise InputError(f"--folds {folds}: need at least 2 folds")
    labels = np.asarray(labels)
    if labels.shape[0] < folds:
        raise InputError(f"only {labels.shape[0]} pairs for {folds} folds")
    rng = np.random.default_rng(seed)
    if protocol == "random":
        return _stratified_assignment(labels, folds, rng)
    groups = np.asarray(tfs if protocol == "tf" else targets, dtype=str)
    return _group_assignment(groups, folds, rng)


def kfold(
    labels: np.ndarray,
    tfs: np.ndarray,
    targets: np.ndarray,
    *,
    protocol: str,
    folds: int,
    seed: int,
    both_classes: bool = True,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(train_idx, test_idx)`` (int64 arrays into the pairs) for each fold.

    With ``both_classes`` a fold holding one class only is an error; genome-wide training turns
    it off, since its negatives come from the unlabelled candidates that follow each fold.
    """
    assignment = fold_assignment(labels, tfs, targets, protocol=protocol, folds=folds, seed=seed)
    for fold in range(folds):
        test = assignment == fold
        if both_classes and np.unique(labels[test]).size < 2:
            raise InputError(
                f"test fold {fold + 1} of {folds} ({protocol} split) holds only one class; "
                "use fewer folds or more labelled pairs"
            )
        yield np.flatnonzero(~test), np.flatnonzero(test)


def holdout(
    indices: np.ndarray,
    labels: np.ndarray,
    tfs: np.ndarray,
    targets: np.ndarray,
    *,
    protocol: str,
    fraction: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``indices`` (int ``[n]``) into ``(fit_idx, validation_idx)`` under ``protocol``.

    ``labels``, ``tfs`` and ``targets`` cover all pairs (indexed by ``indices``). About
    ``fraction`` of the pairs go to validation: stratified for ``random``, whole TFs (targets)
    for ``tf`` (``gene``). The validation part always holds both classes when the data do.
    """
    indices = np.asarray(indices, dtype=np.int64)
    sub_labels = np.asarray(labels)[indices]
    classes = np.unique(sub_labels).size
    validation = np.zeros(indices.size, dtype=bool)
    for attempt in range(20):
        rng = np.random.default_rng(seed + attempt)
        if protocol == "random":
            validation = np.zeros(indices.size, dtype=bool)
            for value in np.unique(sub_labels):
                members = np.flatnonzero(sub_labels == value)
                # At least one pair of each class, and at least one left for fitting.
                take = min(max(1, int(round(fraction * members.size))), members.size - 1)
                validation[rng.choice(members, size=take, replace=False)] = True
        else:
            groups = np.asarray(tfs if protocol == "tf" else targets, dtype=str)[indices]
            names, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
            if names.size < 2:
                raise InputError(
                    f"only one {'TF' if protocol == 'tf' else 'target'} in the training pairs; "
                    "cannot hold out a validation group"
                )
            order = rng.permutation(names.size)
            # Whole groups until the wanted share is reached, never all of them.
            taken = np.cumsum(counts[order]) <= max(fraction * indices.size, counts[order[0]])
            taken[-1] = False
            group_taken = np.zeros(names.size, dtype=bool)
            group_taken[order] = taken
            validation = group_taken[inverse]
        if np.unique(sub_labels[validation]).size == classes:
            break
    else:
        raise InputError(
            f"cannot hold out validation pairs of both classes from {indices.size} training pairs "
            "(too few pairs for this protocol; use fewer folds or more labelled pairs)"
        )
    return indices[~validation], indices[validation]
