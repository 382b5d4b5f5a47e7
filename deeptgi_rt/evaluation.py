"""Evaluate genome-wide edge lists against a ground-truth network on one explicit candidate set.

Inputs:

* predictions: Parquet or CSV/TSV edge lists with a TF column, a target column and a score column:
  ``deeptgi-rt score`` output (``TF, target, score``), GRNBoost2/pySCENIC adjacencies
  (``TF, target, importance``), decoupler-style networks (``source, target, weight``), or any
  table whose columns are recognized by :func:`edge_columns`. A pair listed twice keeps its
  highest score. Scores are used as given (BEELINE takes absolute values of signed weights;
  pass |weights| for signed methods).
* the truth: a network with TF and target columns (BEELINE ``Gene1, Gene2``, ``TF, target``,
  ``source, target``); when it has a ``Label`` column only rows with label 1 are edges.

The candidate set is every TF x every gene, self-pairs excluded: TFs from ``tfs`` (default: the
truth's TFs that every prediction lists as a TF), genes from a gene list or an expression
file's genes. Truth edges and predicted pairs outside it are ignored (and counted). A candidate
a method did not list gets the lowest score, ``-inf``: unlisted candidates tie with each other
below every listed one, and never enter EPR's top set. Metrics and their tie handling:
:mod:`deeptgi_rt.metrics`.

Scores live in one float64 vector per method over the candidates (8 bytes per candidate: 256 MB
for 1,600 TFs x 20,000 genes), so methods are evaluated one after another.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import metrics
from .errors import InputError, preview, require_file
from .names import GeneMatcher
from .tables import find_tf_target_columns, read_frame

if TYPE_CHECKING:
    from ._types import ExpressionLike, GeneList, PathLike

# Score column names, compared casefolded, first match wins.
SCORE_COLUMNS = ("score", "importance", "weight", "edgeweight", "prediction", "probability")
LABEL_COLUMN = "label"
PRIOR_NAME = "label-only prior"


# ----------------------------------------------------------------------------- reading tables


def edge_columns(names: Sequence[str], source: str, *, score: bool) -> tuple[str, str, str | None]:
    """The (TF, target, score-or-label) column names of an edge table.

    With ``score=True`` the third is the score column (:data:`SCORE_COLUMNS`; missing is an
    :class:`InputError`); with ``score=False`` it is the optional ``Label`` column (or ``None``).
    """
    tf, target = find_tf_target_columns(names, source)
    by_key = {str(name).casefold(): name for name in reversed(list(names))}
    if not score:
        return tf, target, by_key.get(LABEL_COLUMN)
    for key in SCORE_COLUMNS:
        if key in by_key:
            return tf, target, by_key[key]
    raise InputError(
        f"{source}: no score column (found {preview(names)}; expected one of {', '.join(SCORE_COLUMNS)}, any case)"
    )


def _read_table(path: PathLike, what: str) -> pa.Table:
    file = require_file(path, what=what, expected=f"a {what}")
    if file.stat().st_size == 0:
        raise InputError(f"{path}: {what} is empty")
    return read_frame(file, what=what).to_arrow()


def _strings(column: pa.ChunkedArray) -> pa.Array:
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return pc.cast(array, pa.string())


@dataclass
class EdgeTable:
    """Edges read from a file.

    Attributes:
        source: the file, for messages.
        tf, target: Arrow string arrays ``[edges]``.
        score: float64 ``[edges]``, or ``None`` for a truth network.
    """

    source: str
    tf: pa.Array
    target: pa.Array
    score: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.tf)


def read_predictions(path: PathLike) -> EdgeTable:
    """A predicted edge list (module docs); :class:`InputError` for unknown columns, NaN or non-numeric scores."""
    return _predictions(_read_table(path, "prediction file"), str(path))


def edge_table(frame: Any, source: str, *, score: bool) -> EdgeTable:
    """An in-memory edge table (polars, pandas or pyarrow) read as :func:`read_predictions`
    (``score=True``) or :func:`read_truth` (``score=False``) read a file; ``source`` names it in
    messages."""
    if isinstance(frame, pa.Table):
        table = frame
    elif type(frame).__module__.split(".")[0] == "polars":
        table = frame.to_arrow()
    elif type(frame).__module__.split(".")[0] == "pandas":
        table = pa.Table.from_pandas(frame, preserve_index=False)
    else:
        raise InputError(f"{source}: expected a polars, pandas or pyarrow table, got {type(frame).__name__}")
    return _predictions(table, source) if score else _truth(table, source)


def _predictions(table: pa.Table, source: str) -> EdgeTable:
    tf, target, score = edge_columns(table.column_names, source, score=True)
    try:
        values = pc.cast(table.column(score), pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowException, ValueError):
        raise InputError(f"{source}: column {score} is not numeric") from None
    values = values.astype(np.float64)
    edges = EdgeTable(source, _strings(table.column(tf)), _strings(table.column(target)), values)
    bad = np.flatnonzero(~np.isfinite(values) & ~np.isneginf(values))
    if bad.size:
        row = int(bad[0])
        raise InputError(
            f"{source}: {bad.size} scores are NaN or infinite (first: row {row + 2}, "
            f"{edges.tf[row]} -> {edges.target[row]})"
        )
    if not len(edges):
        raise InputError(f"{source}: prediction file lists no edges")
    return edges


def read_truth(path: PathLike) -> EdgeTable:
    """A ground-truth network (module docs); :class:`InputError` if it has no edges."""
    return _truth(_read_table(path, "truth network"), str(path))


def _truth(table: pa.Table, source: str) -> EdgeTable:
    tf, target, label = edge_columns(table.column_names, source, score=False)
    if label is not None:
        try:
            keep = pc.equal(pc.cast(table.column(label), pa.float64()), 1.0)
        except (pa.ArrowException, ValueError):
            raise InputError(f"{source}: column {label} is not 0/1") from None
        table = table.filter(keep)
    if table.num_rows == 0:
        raise InputError(f"{source}: the truth network has no edges")
    return EdgeTable(source, _strings(table.column(tf)), _strings(table.column(target)))


# ----------------------------------------------------------------------------- candidates


@dataclass
class Candidates:
    """TFs x genes without self-pairs, with truth labels.

    Candidate ``i`` is the pair ``(tfs[tf_index[i]], genes[gene_index[i]])``, TF-major.

    Attributes:
        tfs, genes: names.
        tf_index, gene_index: int32 ``[candidates]``.
        labels: bool ``[candidates]``, True for truth edges.
        truth_edges: distinct edges in the truth file; ``truth_self_pairs``: those of a TF with
            itself (never candidates); ``truth_outside``: the other ones not among the candidates.
    """

    tfs: list[str]
    genes: list[str]
    tf_index: np.ndarray
    gene_index: np.ndarray
    labels: np.ndarray
    truth_edges: int
    truth_outside: int
    truth_self_pairs: int = 0

    def __len__(self) -> int:
        return int(self.labels.size)

    @property
    def positives(self) -> int:
        """True edges among the candidates."""
        return int(np.count_nonzero(self.labels))

    def positions(self, tf_names: pa.Array, gene_names: pa.Array) -> np.ndarray:
        """Candidate positions (int64 ``[n]``) of named pairs; -1 for pairs outside the candidate set."""
        tf_rows = GeneMatcher(self.tfs).lookup(tf_names).astype(np.int64)
        gene_rows = GeneMatcher(self.genes).lookup(gene_names).astype(np.int64)
        inside = (tf_rows >= 0) & (gene_rows >= 0)
        # The dense TF x gene grid position, then its rank among non-self grid cells.
        grid = np.where(inside, tf_rows * len(self.genes) + gene_rows, -1)
        inside &= ~np.isin(grid, _self_cells(self.tfs, self.genes))
        position = np.searchsorted(self._grid(), grid)
        return np.where(inside, position, -1)

    def _grid(self) -> np.ndarray:
        return self.tf_index.astype(np.int64) * len(self.genes) + self.gene_index

    def scores(self, edges: EdgeTable) -> tuple[np.ndarray, int]:
        """``(scores, listed)``: float64 ``[candidates]`` scores of ``edges`` (``-inf`` where unlisted;
        a pair listed twice keeps its highest score), and the number of candidates listed."""
        if edges.score is None:
            raise ValueError(f"{edges.source}: a truth network has no scores")
        position = self.positions(edges.tf, edges.target)
        inside = position >= 0
        scores = np.full(len(self), -np.inf)
        np.maximum.at(scores, position[inside], edges.score[inside])
        return scores, int(np.count_nonzero(np.isfinite(scores)))


def _self_cells(tfs: Sequence[str], genes: Sequence[str]) -> np.ndarray:
    """TF x gene grid positions (int64, TF-major) of the self-pairs."""
    gene_rows = GeneMatcher(genes).lookup(pa.array(list(tfs), type=pa.string())).astype(np.int64)
    tf_rows = np.arange(len(tfs), dtype=np.int64)
    keep = gene_rows >= 0
    return tf_rows[keep] * len(genes) + gene_rows[keep]


def build_candidates(truth: EdgeTable, tfs: Sequence[str], genes: Sequence[str]) -> Candidates:
    """The candidate set ``tfs`` x ``genes`` without self-pairs, labelled by ``truth``."""
    tfs, genes = list(dict.fromkeys(tfs)), list(dict.fromkeys(genes))
    if not tfs:
        raise InputError("no candidate TFs")
    if not genes:
        raise InputError("no candidate genes")
    keep = np.ones(len(tfs) * len(genes), dtype=bool)
    keep[_self_cells(tfs, genes)] = False
    tf_grid, gene_grid = np.divmod(np.flatnonzero(keep), len(genes))
    candidates = Candidates(
        tfs, genes, tf_grid.astype(np.int32), gene_grid.astype(np.int32), np.zeros(tf_grid.size, dtype=bool), 0, 0
    )
    distinct = pa.table({"tf": truth.tf, "target": truth.target}).group_by(["tf", "target"]).aggregate([])
    position = candidates.positions(distinct.column("tf").combine_chunks(), distinct.column("target").combine_chunks())
    candidates.labels[position[position >= 0]] = True
    candidates.truth_edges = distinct.num_rows
    # A TF -> itself edge is never a candidate whatever the TFs and genes; counted apart so that
    # "outside" says only what a wider --tfs / --genes would bring in.
    self_pair = pc.equal(distinct.column("tf"), distinct.column("target")).to_numpy(zero_copy_only=False)
    candidates.truth_self_pairs = int(np.count_nonzero(self_pair))
    candidates.truth_outside = int(np.count_nonzero((position < 0) & ~self_pair))
    if candidates.positives == 0:
        raise InputError(
            f"{truth.source}: none of its {distinct.num_rows} edges is among the candidates "
            f"({len(tfs)} TFs x {len(genes)} genes; TFs: {preview(tfs)})"
        )
    if candidates.positives == len(candidates):
        raise InputError(f"{truth.source}: every candidate is a truth edge; nothing to rank against")
    return candidates


def default_tfs(truth: EdgeTable, predictions: Sequence[EdgeTable]) -> list[str]:
    """The truth's TFs that every prediction lists as a TF, in the truth's order."""
    truth_tfs = list(dict.fromkeys(truth.tf.to_pylist()))
    covered = set(truth_tfs)
    for edges in predictions:
        covered &= set(pc.unique(edges.tf).to_pylist())
        if not covered:
            raise InputError(
                f"{edges.source}: no TF in common with the truth network {truth.source} "
                f"(truth TFs: {preview(truth_tfs)})"
            )
    return [tf for tf in truth_tfs if tf in covered]


def prior_scores(labels_path: PathLike, candidates: Candidates) -> np.ndarray:
    """The label-only prior, float64 ``[candidates]``: each candidate's target in-degree among the
    edges of ``labels_path`` (rows with label 1 when it has a Label column). No expression; it
    shows how much of a ranking is knowing which genes are frequent targets."""
    labels = read_truth(labels_path)
    index = GeneMatcher(candidates.genes).lookup(labels.target)
    in_degree = np.bincount(index[index >= 0], minlength=len(candidates.genes)).astype(np.float64)
    return in_degree[candidates.gene_index]


# ----------------------------------------------------------------------------- evaluation


@dataclass
class MethodResult:
    """One method's figures on the candidate set.

    Attributes:
        name, source: the row's name and where its scores came from.
        listed: candidates the method scored (the rest got ``-inf``).
        summary: ``auroc, average_precision, auprc_ratio, epr`` (:func:`deeptgi_rt.metrics.summary`).
        intervals: bootstrap (resampling TFs) ``{metric: (low, high)}``; empty without bootstrap.
        target_wise: the degree-controlled AUROC, interval over targets.
        pair_specific: target-wise AUROC after removing additive TF and target effects from the
            scores' rank logits (:func:`deeptgi_rt.metrics.pair_specific_auroc`), interval over
            targets: 0.5 for any score of the TF alone, the target alone or their sum.
        per_tf: AUROC / average precision of each TF's ranking of its targets.
        roc, pr: curve points ``(fpr, tpr)`` / ``(recall, precision)``, float64, for plots.
    """

    name: str
    source: str
    listed: int
    summary: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    target_wise: metrics.TargetWiseAUROC
    pair_specific: metrics.TargetWiseAUROC
    per_tf: metrics.GroupAreas
    roc: tuple[np.ndarray, np.ndarray] | None = field(repr=False, default=None)
    pr: tuple[np.ndarray, np.ndarray] | None = field(repr=False, default=None)

    def per_tf_quantiles(self, metric: str) -> tuple[float, float, float]:
        """(25 %, median, 75 %) of a per-TF metric (``auroc`` / ``average_precision``) over evaluable TFs."""
        values = getattr(self.per_tf, metric)[self.per_tf.evaluable]
        if values.size == 0:
            return float("nan"), float("nan"), float("nan")
        low, median, high = (float(v) for v in np.percentile(values, [25, 50, 75]))
        return low, median, high


@dataclass
class Evaluation:
    """The result of :func:`evaluate`: the candidate set and one :class:`MethodResult` per method.

    ``tfs_from`` / ``genes_from``: which input gave the candidate TFs / genes, in words (e.g.
    ``"the gene list genes.txt"``), for the report."""

    candidates: Candidates
    methods: list[MethodResult]
    bootstrap: int
    seed: int
    truth: str
    tfs_from: str = ""
    genes_from: str = ""

    def to_dict(self) -> dict:
        """JSON-ready figures (no curves)."""
        c = self.candidates
        return {
            "truth": self.truth,
            "candidates": {
                "tfs": len(c.tfs),
                "genes": len(c.genes),
                "pairs": len(c),
                "true_edges": c.positives,
                "edge_density": c.positives / len(c),
                "truth_edges": c.truth_edges,
                "truth_edges_outside": c.truth_outside,
                "truth_self_pairs": c.truth_self_pairs,
                "tfs_from": self.tfs_from,
                "genes_from": self.genes_from,
                "tf_names": c.tfs,
            },
            "bootstrap": {"resamples": self.bootstrap, "seed": self.seed, "level": 0.95, "over": "TFs"},
            "methods": [_method_dict(m) for m in self.methods],
        }


def _method_dict(result: MethodResult) -> dict:
    tw, ps = result.target_wise, result.pair_specific
    return {
        "name": result.name,
        "source": result.source,
        "listed": result.listed,
        **result.summary,
        "intervals": {name: list(bounds) for name, bounds in result.intervals.items()},
        "target_wise_auroc": {"mean": tw.mean, "targets": tw.targets, "interval": [tw.low, tw.high]},
        "pair_specific_auroc": {"mean": ps.mean, "targets": ps.targets, "interval": [ps.low, ps.high]},
        "per_tf": {
            "quantiles_auroc": list(result.per_tf_quantiles("auroc")),
            "quantiles_average_precision": list(result.per_tf_quantiles("average_precision")),
            "tfs": {
                str(tf): {"auroc": _finite(a), "average_precision": _finite(p), "positives": int(n)}
                for tf, a, p, n in zip(
                    result.per_tf.groups, result.per_tf.auroc, result.per_tf.average_precision, result.per_tf.positives
                )
            },
        },
    }


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def evaluate_scores(
    name: str,
    source: str,
    candidates: Candidates,
    scores: np.ndarray,
    *,
    bootstrap: int = 0,
    seed: int = 0,
    curves: bool = True,
) -> MethodResult:
    """All figures of one method's scores (float64 ``[candidates]``, ``-inf`` = unlisted)."""
    labels = candidates.labels
    intervals = {}
    if bootstrap > 0:
        intervals = metrics.bootstrap_by_group(labels, scores, candidates.tf_index, resamples=bootstrap, seed=seed)
    result = MethodResult(
        name,
        source,
        int(np.count_nonzero(np.isfinite(scores))),
        metrics.summary(labels, scores),
        intervals,
        metrics.target_wise_auroc(labels, scores, candidates.gene_index, bootstrap=bootstrap, seed=seed),
        # Rank logits: methods' scores share no scale (probabilities, importances, |PCC|, -inf).
        metrics.pair_specific_auroc(
            labels,
            metrics.rank_logits(scores),
            candidates.tf_index,
            candidates.gene_index,
            bootstrap=bootstrap,
            seed=seed,
        ),
        _named_groups(metrics.grouped_areas(labels, scores, candidates.tf_index), candidates.tfs),
    )
    if curves:
        fpr, tpr, _ = metrics.roc_curve(labels, scores)
        recall, precision, _ = metrics.pr_curve(labels, scores)
        result.roc, result.pr = (fpr, tpr), (recall, precision)
    return result


def _named_groups(areas: metrics.GroupAreas, names: Sequence[str]) -> metrics.GroupAreas:
    return replace(areas, groups=np.asarray(names, dtype=object)[areas.groups])


def evaluate(
    predictions: Sequence[PathLike | EdgeTable],
    truth: PathLike | EdgeTable,
    *,
    tfs: GeneList | None = None,
    genes: GeneList | None = None,
    expression: ExpressionLike | None = None,
    names: Sequence[str] | None = None,
    prior_from: PathLike | None = None,
    bootstrap: int = 0,
    seed: int = 0,
) -> Evaluation:
    """Evaluate edge lists against a truth network on one candidate set (module docs).

    Args:
        predictions: prediction files (paths), or :class:`EdgeTable` s already read (:func:`edge_table`).
        truth: the truth network file, or an :class:`EdgeTable` read with ``score=False``.
        tfs: candidate TFs, a gene-list file or a list of names (default: :func:`default_tfs`).
        genes: candidate targets, a gene-list file or a list of names; or
        expression: an expression file whose genes are the candidate targets (one of the two is required).
        names: a row name per prediction (default: the file names).
        prior_from: labelled pairs; adds the label-only prior (target in-degree among them) as a row.
        bootstrap: resamples of TFs for 95 % intervals (0 = none); ``seed`` seeds them.

    Returns:
        An :class:`Evaluation`; raises :class:`InputError` for any bad input.
    """
    if not predictions:
        raise InputError("no prediction files given")
    if bootstrap < 0:
        raise InputError(f"--bootstrap must be 0 or more, got {bootstrap}")
    names = list(names) if names is not None else _default_names(predictions)
    if len(names) != len(predictions):
        raise InputError(f"{len(names)} names for {len(predictions)} prediction files")
    truth_edges = truth if isinstance(truth, EdgeTable) else read_truth(truth)
    tables = [p if isinstance(p, EdgeTable) else read_predictions(p) for p in predictions]
    candidate_genes, genes_from = _candidate_genes(genes, expression)
    if tfs is not None:
        candidate_tfs = _names(tfs, "TF list")
        tfs_from = f"the TF list {tfs}" if isinstance(tfs, (str, Path)) else "the given TF list"
    else:
        candidate_tfs = default_tfs(truth_edges, tables)
        truth_tfs = len(pc.unique(truth_edges.tf))
        tfs_from = f"the truth's TFs that every prediction lists ({len(candidate_tfs):,} of {truth_tfs:,})"
    candidates = build_candidates(truth_edges, candidate_tfs, candidate_genes)
    results = []
    for name, edges in zip(names, tables):
        scores, listed = candidates.scores(edges)
        if listed == 0:
            raise InputError(
                f"{edges.source}: lists none of the {len(candidates):,} candidate pairs "
                f"(its TFs: {preview(pc.unique(edges.tf).to_pylist())})"
            )
        results.append(evaluate_scores(name, edges.source, candidates, scores, bootstrap=bootstrap, seed=seed))
    if prior_from is not None:
        results.append(
            evaluate_scores(
                PRIOR_NAME,
                str(prior_from),
                candidates,
                prior_scores(prior_from, candidates),
                bootstrap=bootstrap,
                seed=seed,
            )
        )
    return Evaluation(candidates, results, bootstrap, seed, truth_edges.source, tfs_from, genes_from)


def _default_names(predictions: Sequence[PathLike | EdgeTable]) -> list[str]:
    paths = [p.source if isinstance(p, EdgeTable) else p for p in predictions]
    names = [Path(str(p)).name for p in paths]
    # Same file names in different folders: fall back to the paths, which differ.
    return names if len(set(names)) == len(names) else [str(p) for p in paths]


def _names(value: GeneList, what: str) -> list[str]:
    if isinstance(value, (str, os.PathLike)):
        from .genes import read_gene_list

        return read_gene_list(value)
    names = [str(name) for name in value]
    if not names:
        raise InputError(f"empty {what}")
    return names


def _candidate_genes(genes: GeneList | None, expression: ExpressionLike | None) -> tuple[list[str], str]:
    """The candidate genes and which input gave them, in words."""
    if genes is not None and expression is not None:
        raise InputError("give candidate genes by --genes or by --expr, not both")
    if genes is not None:
        given = f"the gene list {genes}" if isinstance(genes, (str, Path)) else "the given gene list"
        return _names(genes, "gene list"), given
    if expression is not None:
        from .expression import read_expression

        return read_expression(expression).genes, f"the genes of {expression}"
    raise InputError("the candidate genes are needed: give --genes FILE or --expr EXPRESSION")
