"""Labelled TF -> target pairs: reading label files, checking them, and sampling negatives.

A label file is CSV, TSV or Parquet with a TF column, a target column and optionally a 0/1
label column. Files without a label column are positives-only networks (every row is a
known interaction); negatives are then sampled from the non-edges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deeptgi_rt.errors import InputError, preview
from deeptgi_rt.progress import Reporter
from deeptgi_rt.tables import find_column, find_tf_target_columns, read_frame

from .configs import NEGATIVE_CHOICES

# Accepted label column header (compared case-insensitively); the TF and target columns are
# recognized by deeptgi_rt.tables, as for the pairs the scorer reads.
LABEL_COLUMNS = ("label",)
# Negatives are "concentrated" when they use fewer than this share of the distinct targets that
# as many pairs drawn uniformly over the data's genes would use (docs/training.md: mhsc-e's 677
# negatives use 151 targets where uniform draws would use 302, a share of 0.50; balanced
# negatives drawn by deeptgi-train come out at 0.95-1.0).
CONCENTRATION_SHARE = 0.7


@dataclass(frozen=True)
class NegativesDiagnosis:
    """How a label file's negatives cover the TFs and targets, against its positives and the genes.

    Attributes:
        positives, negatives: labelled pairs of each class.
        positive_targets, negative_targets: distinct targets among them.
        positive_tfs, negative_tfs: distinct TFs among them.
        genes: genes of the data (every TF's candidate targets).
        expected_targets: distinct targets that ``negatives`` pairs drawn uniformly over the
            genes would use on average, ``genes * (1 - (1 - 1/genes) ** negatives)``.
    """

    positives: int
    negatives: int
    positive_targets: int
    negative_targets: int
    positive_tfs: int
    negative_tfs: int
    genes: int
    expected_targets: float

    @property
    def target_share(self) -> float:
        """Distinct negative targets over :attr:`expected_targets` (1 for uniform draws)."""
        return self.negative_targets / self.expected_targets if self.expected_targets else 1.0

    @property
    def concentrated(self) -> bool:
        """Whether the negatives sit on few targets (:data:`CONCENTRATION_SHARE`)."""
        return self.negatives > 0 and self.target_share < CONCENTRATION_SHARE

    def describe(self, source: str) -> str:
        """One line: the counts behind the diagnosis."""
        return (
            f"{source}: the {self.negatives:,} negatives use {self.negative_targets:,} targets and "
            f"{self.negative_tfs:,} TFs, the {self.positives:,} positives {self.positive_targets:,} targets and "
            f"{self.positive_tfs:,} TFs, of {self.genes:,} genes (as many negatives drawn uniformly would use "
            f"about {self.expected_targets:,.0f} targets: share {self.target_share:.2f})"
        )


def diagnose_negatives(pairs: LabelledPairs, n_genes: int) -> NegativesDiagnosis:
    """The :class:`NegativesDiagnosis` of ``pairs`` over a data set of ``n_genes`` genes."""
    positive = pairs.labels == 1
    tfs, targets = np.asarray(pairs.tfs, dtype=object), np.asarray(pairs.targets, dtype=object)
    negatives = int((~positive).sum())
    genes = max(int(n_genes), 1)
    return NegativesDiagnosis(
        positives=int(positive.sum()),
        negatives=negatives,
        positive_targets=len(set(targets[positive])),
        negative_targets=len(set(targets[~positive])),
        positive_tfs=len(set(tfs[positive])),
        negative_tfs=len(set(tfs[~positive])),
        genes=genes,
        expected_targets=genes * (1.0 - (1.0 - 1.0 / genes) ** negatives),
    )


@dataclass
class LabelledPairs:
    """TF -> target pairs with 0/1 labels.

    Attributes:
        tfs: TF name of each pair, ``[n]``.
        targets: target gene name of each pair, ``[n]``.
        labels: int8 ``[n]``, 1 = interaction, 0 = non-interaction.
        source: the label file, for messages.
        had_labels: whether the file had a label column (else it was positives-only).
        notes: human-readable lines about what was done (dropped duplicates, sampled negatives).
    """

    tfs: list[str]
    targets: list[str]
    labels: np.ndarray
    source: str
    had_labels: bool = True
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tfs)

    @property
    def tf_names(self) -> list[str]:
        """Distinct TFs in first-seen order."""
        return list(dict.fromkeys(self.tfs))

    def subset(self, keep: np.ndarray) -> LabelledPairs:
        """The pairs where the bool ``[n]`` mask ``keep`` is true."""
        idx = np.flatnonzero(keep)
        return LabelledPairs(
            tfs=[self.tfs[i] for i in idx],
            targets=[self.targets[i] for i in idx],
            labels=self.labels[idx],
            source=self.source,
            had_labels=self.had_labels,
            notes=list(self.notes),
        )


def _parse_label(value, path: Path, row: int) -> int:
    text = str(value).strip() if value is not None else ""
    try:
        number = float(text)
    except ValueError:
        number = None
    if number not in (0.0, 1.0):
        raise InputError(f"{path}: row {row}: label {text!r} is not 0 or 1")
    return int(number)


def read_labels(path: str | Path, *, reporter: Reporter | None = None) -> LabelledPairs:
    """Read a label file and check it.

    Header spellings (any case): a TF and a target column as
    :func:`deeptgi_rt.tables.find_tf_target_columns` recognizes them (``TF/Target``,
    ``Gene1/Gene2``, ``tf/gene``, ``source/target``, ``regulator/target``, ...) and optionally
    ``Label``; other columns (``Type``, ``Score``) are ignored. CSV, TSV (optionally gzipped)
    or Parquet, as :func:`deeptgi_rt.tables.table_format` tells them apart. Row numbers in
    messages count the header as row 1, as a spreadsheet shows them.

    Duplicate pairs are merged (and counted in ``notes``); the same pair with both labels is an
    error. Raises :class:`InputError` naming the file for missing columns, labels other than
    0/1, empty names or an empty file.
    """
    reporter = reporter or Reporter()
    path = Path(path)
    frame = read_frame(path, what="label file", as_text=True)
    columns = list(frame.columns)
    tf_column, target_column = find_tf_target_columns(columns, str(path))
    label_column = find_column(columns, LABEL_COLUMNS)
    tfs_raw = frame[tf_column].cast(str).to_list()
    targets_raw = frame[target_column].cast(str).to_list()
    labels_raw = frame[label_column].cast(str).to_list() if label_column else None
    if not tfs_raw:
        raise InputError(f"{path}: label file has no rows")

    seen: dict[tuple[str, str], int] = {}
    tfs: list[str] = []
    targets: list[str] = []
    labels: list[int] = []
    duplicates = 0
    for i, (tf, target) in enumerate(zip(tfs_raw, targets_raw)):
        row = i + 2
        tf = (tf or "").strip()
        target = (target or "").strip()
        if not tf or not target:
            raise InputError(f"{path}: row {row}: empty TF or target name")
        label = _parse_label(labels_raw[i], path, row) if labels_raw is not None else 1
        key = (tf, target)
        if key in seen:
            first = seen[key]
            if labels[first] != label:
                raise InputError(
                    f"{path}: row {row}: pair {tf} -> {target} is labelled both {labels[first]} and {label}"
                )
            duplicates += 1
            continue
        seen[key] = len(tfs)
        tfs.append(tf)
        targets.append(target)
        labels.append(label)
    notes = []
    if duplicates:
        notes.append(f"{path}: {duplicates} duplicate pairs merged")
        reporter.info(notes[-1])
    return LabelledPairs(
        tfs=tfs,
        targets=targets,
        labels=np.asarray(labels, dtype=np.int8),
        source=str(path),
        had_labels=label_column is not None,
        notes=notes,
    )


def restrict_tfs(pairs: LabelledPairs, tfs: Sequence[str], *, source: str = "TF list") -> LabelledPairs:
    """Keep only the pairs whose TF is in ``tfs``; error if none remain."""
    allowed = set(tfs)
    keep = np.fromiter((tf in allowed for tf in pairs.tfs), dtype=bool, count=len(pairs))
    if not keep.any():
        raise InputError(f"{source}: none of the {len(allowed)} TFs occur in {pairs.source}")
    out = pairs.subset(keep)
    if not keep.all():
        out.notes.append(f"{len(pairs) - int(keep.sum())} pairs whose TF is not in {source} dropped")
    return out


def drop_unknown_genes(
    pairs: LabelledPairs, known_genes: Sequence[str], *, data_source: str, reporter: Reporter | None = None
) -> LabelledPairs:
    """Drop pairs whose TF or target is not in ``known_genes`` (one warning with the first few).

    Raises :class:`InputError` if no pair remains.
    """
    reporter = reporter or Reporter()
    known = set(known_genes)
    keep = np.fromiter(
        (tf in known and target in known for tf, target in zip(pairs.tfs, pairs.targets)),
        dtype=bool,
        count=len(pairs),
    )
    if keep.all():
        return pairs
    missing = list(
        dict.fromkeys(
            gene for tf, target in zip(pairs.tfs, pairs.targets) for gene in (tf, target) if gene not in known
        )
    )
    if not keep.any():
        raise InputError(
            f"{pairs.source}: no pair has both genes in {data_source} "
            f"({len(missing)} genes missing: {preview(missing)})"
        )
    dropped = len(pairs) - int(keep.sum())
    message = (
        f"{pairs.source}: {dropped} of {len(pairs)} pairs dropped because {len(missing)} of their genes "
        f"are not in {data_source}: {preview(missing)}"
    )
    reporter.warn(message)
    out = pairs.subset(keep)
    out.notes.append(message)
    return out


def add_negatives(
    pairs: LabelledPairs, genes: Sequence[str], mode: str, *, seed: int = 0, reporter: Reporter | None = None
) -> LabelledPairs:
    """Add sampled non-interactions (label 0) for each TF.

    Args:
        pairs: labelled pairs; their positives define the edges of each TF.
        genes: candidate targets (the genes of the expression data).
        mode: ``"none"`` (unchanged), ``"balanced"`` (per TF, as many non-edges as it has edges,
            counting negatives already in the file, drawn uniformly without replacement from
            the genes that are neither the TF, nor its positives, nor already labelled for it),
            ``"all"`` (every such non-edge) or ``"degree-matched"`` (the negatives that validation
            and test pairs keep: the file's own, or ``balanced`` ones for a positives-only file;
            the fitted pairs' negatives are replaced later by :func:`degree_matched_negatives`).
        seed: seed of the numpy Generator used by ``balanced``.

    Returns:
        A new :class:`LabelledPairs` with the sampled pairs appended after the original ones.
        A TF with fewer candidate genes than needed gets all of them (noted once).
    """
    if mode not in NEGATIVE_CHOICES:
        raise InputError(f"--negatives {mode!r}: choose one of {', '.join(NEGATIVE_CHOICES)}")
    if mode == "degree-matched":
        # The pairs read here are the validation and test pairs too; only the pairs a network
        # fits on get degree-matched negatives, drawn per fit part (deeptgi_train.negatives).
        if pairs.had_labels:
            return pairs
        mode = "balanced"
    if mode in ("none", "file", "genome"):
        # genome negatives are drawn from the data's candidates during training, not added here.
        return pairs
    reporter = reporter or Reporter()
    rng = np.random.default_rng(seed)
    labelled: dict[str, set[str]] = {}
    positives: dict[str, int] = {}
    negatives: dict[str, int] = {}
    for tf, target, label in zip(pairs.tfs, pairs.targets, pairs.labels):
        labelled.setdefault(tf, set()).add(target)
        if label == 1:
            positives[tf] = positives.get(tf, 0) + 1
        else:
            negatives[tf] = negatives.get(tf, 0) + 1
    genes = list(dict.fromkeys(genes))
    new_tfs: list[str] = []
    new_targets: list[str] = []
    short = 0
    for tf in pairs.tf_names:
        excluded = labelled[tf] | {tf}
        candidates = [gene for gene in genes if gene not in excluded]
        if mode == "all":
            chosen = candidates
        else:
            wanted = max(positives.get(tf, 0) - negatives.get(tf, 0), 0)
            if wanted > len(candidates):
                short += 1
                wanted = len(candidates)
            picks = rng.choice(len(candidates), size=wanted, replace=False) if wanted else []
            chosen = [candidates[i] for i in sorted(picks)]
        new_tfs.extend([tf] * len(chosen))
        new_targets.extend(chosen)
    note = f"{len(new_tfs)} negative pairs added ({mode})"
    if short:
        note += f"; {short} TFs had too few non-target genes for a full balance"
    reporter.info(note)
    return LabelledPairs(
        tfs=pairs.tfs + new_tfs,
        targets=pairs.targets + new_targets,
        labels=np.r_[pairs.labels, np.zeros(len(new_tfs), dtype=np.int8)].astype(np.int8),
        source=pairs.source,
        had_labels=True,
        notes=pairs.notes + [note],
    )


def check_trainable(pairs: LabelledPairs) -> None:
    """Raise :class:`InputError` unless there are both positive and negative pairs."""
    n_pos = int(np.count_nonzero(pairs.labels == 1))
    if n_pos == 0:
        raise InputError(f"{pairs.source}: no positive pairs (label 1) to learn from")
    if n_pos == len(pairs):
        hint = " (the file has no label column: add --negatives balanced or all)" if not pairs.had_labels else ""
        raise InputError(f"{pairs.source}: all {len(pairs)} pairs are positive; training needs negatives{hint}")


def degree_matched_negatives(
    positive_tfs: np.ndarray,
    positive_targets: np.ndarray,
    wanted: dict[int, int],
    forbidden: set[tuple[int, int]],
    *,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Non-edges whose targets occur as often as among the positives, drawn one TF at a time.

    Uniformly drawn negatives spread evenly over genes while known edges pile up on hub targets,
    so a model can separate the classes by target alone. Here every target's quota among the
    negatives is its share of the positives (largest-remainder rounding of ``total wanted *
    in-degree / positives``). TFs draw in order of decreasing ``wanted`` (ties shuffled), each
    its own count of distinct targets. A target whose quota left equals the number of TFs still
    to draw that may take it is taken first (else its quota could no longer be met); the rest
    is drawn weighted by quota left per such TF. A TF that cannot fill its count from targets
    with quota left (its edges and ``forbidden`` block them) fills the rest weighted by
    in-degree over the other positive targets (the global shares). Only genes that are positive
    targets are ever drawn. When every quota can be met (a target's quota is at most the number
    of TFs that may take it), the usual case for a sparse network, the counts match exactly.

    Args:
        positive_tfs, positive_targets: int ``[positives]`` entity codes of the edges (TFs and
            targets share one code space, so self-pairs are recognised).
        wanted: negatives to draw per TF code.
        forbidden: ``(tf, target)`` code pairs never drawn (every labelled pair, whatever its
            label or part); self-pairs are never drawn either.
        seed: seed of the numpy Generator.

    Returns:
        ``(tfs, targets)``, int64 ``[negatives]`` codes. A TF with fewer allowed targets than
        it wants gets all of them, so the total may be below ``sum(wanted)``.
    """
    rng = np.random.default_rng(seed)
    targets, in_degree = np.unique(np.asarray(positive_targets, dtype=np.int64), return_counts=True)
    tf_codes = np.array([tf for tf, count in wanted.items() if count > 0], dtype=np.int64)
    counts = np.array([wanted[int(tf)] for tf in tf_codes], dtype=np.int64)
    total = int(counts.sum())
    share = total * in_degree / max(int(in_degree.sum()), 1)
    quota = np.floor(share).astype(np.int64)
    # Largest remainders get the leftover units so the quotas sum to the total wanted.
    leftover = total - int(quota.sum())
    if leftover > 0:
        quota[np.argsort(-(share - quota), kind="stable")[:leftover]] += 1
    # allowed[i, j]: TF i may take target j as a negative.
    column = {int(t): j for j, t in enumerate(targets)}
    row = {int(tf): i for i, tf in enumerate(tf_codes)}
    allowed = tf_codes[:, None] != targets[None, :]
    for tf, target in forbidden:
        i, j = row.get(int(tf)), column.get(int(target))
        if i is not None and j is not None:
            allowed[i, j] = False
    capacity = allowed.sum(axis=0)
    order = rng.permutation(tf_codes.size)
    order = order[np.argsort(-counts[order], kind="stable")]
    out_tfs: list[np.ndarray] = []
    out_targets: list[np.ndarray] = []
    for i in order:
        count = int(counts[i])
        options = np.flatnonzero(allowed[i])
        with_quota = options[quota[options] > 0]
        forced = with_quota[quota[with_quota] >= capacity[with_quota]]
        if forced.size >= count:
            chosen = rng.choice(forced, size=count, replace=False)
        elif with_quota.size >= count:
            free = np.setdiff1d(with_quota, forced)
            weights = quota[free] / capacity[free]
            picks = rng.choice(free, size=count - forced.size, replace=False, p=weights / weights.sum())
            chosen = np.r_[forced, picks]
        else:
            rest = options[quota[options] <= 0]
            extra = min(count - with_quota.size, rest.size)
            weights = in_degree[rest].astype(np.float64)
            fill = rng.choice(rest, size=extra, replace=False, p=weights / weights.sum()) if extra else rest[:0]
            chosen = np.r_[with_quota, fill]
        quota[chosen] -= 1
        capacity[options] -= 1
        out_tfs.append(np.full(chosen.size, tf_codes[i], dtype=np.int64))
        out_targets.append(targets[np.sort(chosen)])
    if not out_tfs:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(out_tfs), np.concatenate(out_targets)
