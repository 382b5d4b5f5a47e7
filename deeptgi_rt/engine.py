"""The scoring run behind :class:`~deeptgi_rt.api.DeepTGIModel`: from a :class:`ScoreRequest`
to an edge list.

:func:`prepare` reads the expression, computes the entities' PCC features and encodes them
into the TF and gene tables; the returned :class:`ScoreRun` scores the pairs while its output
is consumed (:meth:`ScoreRun.frame`, :meth:`ScoreRun.batches`, :meth:`ScoreRun.write`), so
streaming runs hold one block of scores at a time.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ._types import ExpressionLike, Layout
from .atomic import atomic_output
from .edges import EdgeBlock, EdgeNames
from .errors import InputError, preview
from .expression import Expression
from .progress import Reporter
from .request import ScoreRequest
from .scoring import PairBuffers, score_listed_pairs, score_tf_rows
from .selection import EdgeSelection
from .summary import ScoreSummary, peak_rss_bytes
from .target_prior import add_target_prior, target_offsets
from .thresholds import density_threshold, model_threshold

if TYPE_CHECKING:
    import polars
    import pyarrow

    from .model import ScoringModel
    from .names import GeneMatcher
    from .pairs import PairSource


@dataclass
class ScoreRun:
    """A prepared scoring run: the encoded tables and what to score with them.

    Attributes:
        model: the loaded model.
        request: the run's request.
        summary: filled in as the run goes; complete once its output is consumed.
        reporter: progress and messages.
        tf_names, target_names: the run's TFs and targets (edge indices point into these).
        tf_table: float32 ``[tfs, ...]`` what the pair head gathers per TF.
        gene_table: float32 ``[targets, ...]`` the same per target.
        pair_table: float32 ``[tfs, targets, modalities, kinds]`` the pairs' own features, for
            a model that reads them (metadata ``pair_features``), else ``None``.
        self_target: int32 ``[tfs]`` each TF's index among the targets, or -1.
        pairs_total: pairs the scoring walks (self pairs included), for progress.
        expected_edges: edges the output will hold at most.
        pair_source: the pairs table of a listed-pairs run, else ``None``.
        gene_index: the data's gene-name index (listed pairs are looked up in it).
        tf_of_row, target_of_row: int32 ``[data genes]`` a data gene's TF / target index, or -1.
        on_finish: called with the summary once the output is complete.
        target_offsets: float64 ``[targets]`` the model's target prior logits added to the
            network's scores, or ``None`` (network alone).
        threshold_shifted: the summary's model threshold is the Youden cut moved to the
            training network's density (:attr:`~deeptgi_rt.thresholds.ModelThreshold.shifted`).
    """

    model: ScoringModel
    request: ScoreRequest
    summary: ScoreSummary
    reporter: Reporter
    tf_names: list[str]
    target_names: list[str]
    tf_table: np.ndarray
    gene_table: np.ndarray
    self_target: np.ndarray
    pairs_total: int
    expected_edges: int
    pair_source: PairSource | None = None
    gene_index: GeneMatcher | None = None
    tf_of_row: np.ndarray | None = None
    target_of_row: np.ndarray | None = None
    on_finish: Callable[[ScoreSummary], None] | None = None
    pair_table: np.ndarray | None = None
    target_offsets: np.ndarray | None = None
    threshold_shifted: bool = False
    _selection: EdgeSelection | None = field(default=None, repr=False)

    # ----------------------------------------------------------------- outputs

    def frame(self) -> polars.DataFrame:
        """All edges as a polars DataFrame (``TF``, ``target`` categorical, ``score`` float32),
        sorted by descending score."""
        import polars as pl
        import pyarrow as pa

        blocks = list(self.edge_blocks(rank=False))
        with self.summary.timed("write"):
            edges = EdgeBlock.concat(blocks)
            batch = self.names().batch(_by_score(edges))
            frame = pl.from_arrow(pa.Table.from_batches([batch]))
        assert isinstance(frame, pl.DataFrame)  # from a Table, never a Series
        self.summary.edges_written = len(edges)
        self._finish()
        return frame

    def batches(self) -> Iterator[pyarrow.RecordBatch]:
        """The edges as ``pyarrow.RecordBatch`` es, streamed (see :meth:`DeepTGIModel.iter_batches`)."""
        names = self.names()
        for block in self.edge_blocks(rank=True):
            self.summary.edges_written += len(block)
            yield names.batch(block)
        self._finish()

    def write(self, target: Path) -> ScoreSummary:
        """Write the edge list to ``target`` (a path checked by :func:`~deeptgi_rt.atomic.check_output_path`)
        atomically, in ``request.format``; returns the summary."""
        from .edges import TEXT_HEADERS, ParquetEdgeWriter, iter_parquet_edges, tsv_compression, write_edges, write_tsv

        fmt, summary = self.request.format, self.summary
        compression = tsv_compression(target) if fmt in TEXT_HEADERS else None
        sort_globally = self.expected_edges <= self.request.max_sort_edges
        listed_in_order = self.pair_source is not None and self.request.top_k is None
        summary.order = "score" if sort_globally else ("pairs" if listed_in_order else "tf")
        if not sort_globally:
            self.reporter.info(
                f"{self.expected_edges:,} edges exceed the global sort limit of {self.request.max_sort_edges:,}: "
                + (
                    "edges stay in the pairs file's order"
                    if summary.order == "pairs"
                    else "edges are grouped per TF, each TF's targets by descending score"
                )
            )
        names = self.names()
        with atomic_output(target) as final, _scratch(target) as scratch:
            if sort_globally:
                # Within the budget the edges (12 bytes each) are held and sorted in memory.
                edges = EdgeBlock.concat(list(self.edge_blocks(rank=False)))
                with summary.timed("write"):
                    summary.edges_written = write_edges(_by_score(edges), names, final, fmt, compression=compression)
            else:
                # Beyond it they stream to the output (Parquet) or to a spool read back once (TSV).
                spool = final if fmt == "parquet" else scratch("spool")
                writer = ParquetEdgeWriter(spool, names, compression="zstd" if fmt == "parquet" else "none")
                try:
                    for block in self.edge_blocks(rank=True):
                        with summary.timed("write"):
                            writer.write(block)
                finally:
                    with summary.timed("write"):
                        writer.close()
                with summary.timed("write"):
                    if fmt in TEXT_HEADERS:
                        write_tsv(iter_parquet_edges(spool), final, compression=compression, header=TEXT_HEADERS[fmt])
                summary.edges_written = writer.rows
        summary.out = str(target)
        self._finish()
        return summary

    def names(self) -> EdgeNames:
        """The run's TF and target name dictionaries."""
        return EdgeNames(self.tf_names, self.target_names)

    # ----------------------------------------------------------------- scoring

    def edge_blocks(self, *, rank: bool) -> Iterator[EdgeBlock]:
        """The run's edges block by block, after the selection (self pairs, threshold, top k).

        Order: all-pairs runs TF block by TF block (each TF's targets by descending score when
        ``rank``); listed pairs in the table's order, or TF by TF at the end with ``top_k``.
        Only the scoring work is timed as ``score``; the consumer's time between blocks is not.
        """
        request, model_cut = self.request, self.summary.threshold
        listed = self.pair_source is not None
        self._selection = selection = EdgeSelection(
            len(self.tf_names),
            top_k=request.top_k,
            threshold=request.score_filter(model_cut),
            # The summary counts with the threshold in force, so its count names what was asked.
            model_threshold=self.summary.counted_threshold,
            self_target=None if listed else self.self_target,
        )
        with self.reporter.task("scoring", self.pairs_total, unit="pairs") as advance:
            blocks = self._listed_pairs(selection, advance) if listed else self._all_pairs(selection, advance, rank)
            yield from _timed(blocks, self.summary, "score")

    def _all_pairs(self, selection: EdgeSelection, advance: Callable[[float], None], rank: bool) -> Iterator[EdgeBlock]:
        for tf_start, rows in score_tf_rows(
            self.model.pair_scores,
            self.tf_table,
            self.gene_table,
            pair_table=self.pair_table,
            batch_size=self.request.batch_size,
            progress=advance,
            block_scores=self.model.block_scores,
        ):
            if self.target_offsets is not None:
                rows = add_target_prior(rows, self.target_offsets)
            yield selection.tf_rows(tf_start, rows, rank=rank)

    def _listed_pairs(self, selection: EdgeSelection, advance: Callable[[float], None]) -> Iterator[EdgeBlock]:
        from .pairs import iter_known_pairs

        # Set by prepare() for a run over listed pairs.
        assert self.pair_source is not None and self.gene_index is not None
        assert self.tf_of_row is not None and self.target_of_row is not None
        pair_rows = None if self.pair_table is None else self.pair_table.shape[2:]
        buffers = PairBuffers(self.tf_table.shape[1:], self.gene_table.shape[1:], self.request.batch_size, pair_rows)
        for tf_rows, gene_rows in iter_known_pairs(self.pair_source, self.gene_index):
            tf_index, target_index = self.tf_of_row[tf_rows], self.target_of_row[gene_rows]
            scores = score_listed_pairs(
                self.model.pair_scores, self.tf_table, self.gene_table, tf_index, target_index, buffers, self.pair_table
            )
            if self.target_offsets is not None:
                scores = add_target_prior(scores, self.target_offsets[target_index])
            advance(len(scores))
            block = selection.listed(EdgeBlock(tf_index, target_index, scores))
            if block is not None:
                yield block
        held = selection.held()
        if held is not None:
            yield held

    def _no_pair_advice(self) -> str:
        """What to do when no pair reaches the genome-wide cut, naming only options this run
        accepts: ``density`` is refused with listed pairs (a pair table's density is not the
        genome's), and ``--top-k`` is not advised to a run that already ranks with it."""
        if self.pair_source is None:
            flags = ["--threshold density keeps the top-scored pairs at the training network's density"]
            keywords = ["threshold='density'"]
        else:
            flags = ["a --threshold FLOAT of your own keeps the listed pairs scoring at least FLOAT"]
            keywords = ["threshold=FLOAT"]
        if self.request.top_k is None:
            flags.append("--top-k K ranks each TF's K best targets")
            keywords.append("top_k=K")
        return f"{', or '.join(flags)} ({', '.join(keywords)})"

    def _finish(self) -> None:
        selection = self._selection
        assert selection is not None  # set by the scoring pass that ends here
        self.summary.pairs_scored = selection.pairs_scored
        self.summary.edges_over_threshold = int(selection.over_per_tf.sum())
        self.summary.top_tfs = selection.top_tfs(self.tf_names)
        counts_with_shifted = self.threshold_shifted and self.request.threshold in (None, "youden")
        if self.summary.edges_over_threshold == 0 and self.summary.pairs_scored and counts_with_shifted:
            # Measured on mdc-lite: its scores stop at 0.990, under the 0.9905 the shift asks for.
            self.reporter.warn(
                f"no pair reaches the genome-wide threshold {self.summary.threshold:.4g}: the model's "
                f"scores are not calibrated that far; {self._no_pair_advice()}"
            )
        self.summary.peak_rss_bytes = peak_rss_bytes()
        if self.on_finish is not None:
            self.on_finish(self.summary)


# --------------------------------------------------------------------- preparation


def prepare(
    model: ScoringModel,
    request: ScoreRequest,
    summary: ScoreSummary,
    *,
    pcc_backend: str,
    reporter: Reporter,
    on_finish: Callable[[ScoreSummary], None] | None = None,
    plan_only: bool = False,
) -> ScoreRun | None:
    """Read the data, compute PCC features and encode the run's TFs and targets.

    The run's estimated cost (:mod:`deeptgi_rt.plan`) is set as ``summary.plan`` before the
    heavy work; ``plan_only`` stops there (reading only the files' metadata where the cells
    readers can) and returns ``None``.

    Raises:
        InputError: wrong number of modalities, unreadable data, too few feature genes, no TF
            or target (or pair) in the data.
    """
    from .pairs import PairSource, scan_pairs
    from .pcc.dask_reduce import dask_session
    from .plan import plan_run, worth_timing_pairs
    from .sources import for_scheduler, move_reading_time, sample_expression

    meta = model.metadata
    summary.threshold_asked = request.threshold
    given = request.modalities
    if len(given) != len(meta.modalities):
        hint = "give bulk=" if len(meta.modalities) > len(given) else "drop bulk="
        raise InputError(
            f"{model.path}: the model expects {len(meta.modalities)} expression modalities "
            f"({', '.join(meta.modalities)}) but {len(given)} were given ({hint})",
            parameter="bulk",
        )
    transforms = run_transforms(meta, request, model.path)
    if request.threshold == "density":
        _check_network_density(meta, model.path)
    else:
        threshold = model_threshold(meta, request.threshold_name)
        summary.threshold, summary.threshold_how = threshold.value, threshold.describe()
        if request.threshold == "youden" and not threshold.shifted:
            reporter.warn(
                f"{model.path}: --threshold youden is the threshold chosen on balanced labelled pairs "
                "(the model records no label_prior); genome-wide it calls far more pairs than a network "
                "holds"
            )
    pair_source = PairSource(request.pairs) if request.pairs is not None else None
    with summary.timed("read"):
        streamed: list | None = [] if plan_only else None
        expressions = [
            _modality(
                data,
                request,
                layout=layout,
                transform=transform,
                what=what,
                plan_streamed=streamed,
                # The model's own preprocessing is its business; only the user's transform is checked.
                check_counts=prep == "none",
                reporter=reporter,
            )
            for data, layout, transform, what, prep in zip(
                given, (request.layout, request.bulk_layout), transforms, ("expression", "bulk"), meta.preprocessing
            )
        ]
        for modality, (data, transform) in enumerate(zip(expressions, transforms)):
            if not plan_only:
                _check_not_raw_counts(
                    sample_expression(data, transform), transform, meta.transform_of(modality), model.path, reporter
                )
        summary.feature_coverage = _warn_missing_features(expressions, meta.feature_genes, request, reporter)
        _check_threshold_applies(summary.feature_coverage, request)
        data_genes, index = gene_index(expressions, request.case_insensitive)
        scan = scan_pairs(pair_source, index) if pair_source is not None else None
    if scan is not None:
        assert pair_source is not None and scan.tf_used is not None and scan.gene_used is not None  # from pair_source
        if scan.unknown_pairs:
            if request.unknown_pairs == "error":
                raise InputError(
                    scan.unknown_message(pair_source.source) + " (unknown_pairs='error')", parameter="unknown_pairs"
                )
            reporter.warn(scan.unknown_message(pair_source.source) + "; skipping those pairs")
        if scan.unknown_pairs == scan.pairs:
            raise InputError(f"{pair_source.source}: none of the {scan.pairs} pairs name genes in the data")
        tf_rows, target_rows = np.flatnonzero(scan.tf_used), np.flatnonzero(scan.gene_used)
        expected = pairs_total = scan.pairs - scan.unknown_pairs
        summary.mode = "listed-pairs"
    else:
        tf_rows = _tf_rows(request.tfs, meta.tfs, model.path, index, reporter)
        target_rows = (
            np.arange(index.n_genes)
            if request.genes is None
            else _rows_in_data(*_name_list(request.genes, "genes"), "target genes", index, reporter)
        )
        summary.self_pairs = len(np.intersect1d(tf_rows, target_rows))
        pairs_total = len(tf_rows) * len(target_rows)
        expected = pairs_total - summary.self_pairs
        if expected <= 0:
            raise InputError("no TF -> target pairs to score: the only target genes are the TFs themselves")
    if request.top_k is not None:
        expected = min(expected, len(tf_rows) * int(request.top_k))

    entity_rows = np.union1d(tf_rows, target_rows)
    members = _members(meta)
    # The pair step timed on one batch (~0.1-0.2 s) where scoring is a large part of the run: it
    # differs several-fold between models (members, pair features) and machines. Counted as scoring.
    with summary.timed("score"):
        timed = model.pair_seconds(request.batch_size) if worth_timing_pairs(pairs_total, members) else 0.0
    summary.plan = plan_run(
        expressions,
        streamed,
        request,
        features=len(meta.feature_genes),
        tfs=len(tf_rows),
        targets=len(target_rows),
        entities=len(entity_rows),
        pairs=pairs_total,
        edges=expected,
        pair_columns=len(model.pair_feature_kinds) * len(expressions),
        members=members,
        model_bytes=os.path.getsize(model.path) if os.path.isfile(model.path) else 0,
        pair_seconds=timed,
    )
    if plan_only:
        summary.tfs, summary.targets = len(tf_rows), len(target_rows)
        return None
    with summary.timed("pcc"), dask_session(request.dask_scheduler):
        scheduled = [for_scheduler(data, request) for data in expressions]
        feats = _entity_features(
            scheduled, [data_genes[row] for row in entity_rows], meta.feature_genes, request, pcc_backend, reporter
        )
        pair_table = None
        if model.uses_pair_features:
            pair_table = _pair_table(
                scheduled,
                [data_genes[row] for row in tf_rows],
                [data_genes[row] for row in target_rows],
                model.pair_feature_kinds,
                request,
                pcc_backend,
                reporter,
            )
    move_reading_time(expressions, summary.stage_seconds)
    with (
        summary.timed("encode"),
        reporter.task("encoding", len(tf_rows) + len(target_rows), unit="entities") as advance,
    ):
        tf_table = model.tf_table(feats[np.searchsorted(entity_rows, tf_rows)])
        advance(len(tf_rows))
        gene_table = model.gene_table(feats[np.searchsorted(entity_rows, target_rows)])
        advance(len(target_rows))
    del feats

    target_of_row = _positions(len(data_genes), target_rows)
    tf_of_row = _positions(len(data_genes), tf_rows)
    summary.tfs, summary.targets = len(tf_rows), len(target_rows)
    target_names = [data_genes[row] for row in target_rows]
    offsets = _target_offsets(meta, request, target_names, model.path, reporter)
    if request.threshold == "density":
        # Its own stage, so that the score stage's pairs/s stays the rate of the run's pairs.
        summary.stage_seconds.setdefault("density", 0.0)
        with summary.timed("density"):
            threshold = _density_threshold(
                model, tf_table, gene_table, pair_table, target_of_row[tf_rows], offsets, request.batch_size, reporter
            )
        summary.threshold, summary.threshold_how = threshold.value, threshold.describe()
    return ScoreRun(
        model=model,
        request=request,
        summary=summary,
        reporter=reporter,
        tf_names=[data_genes[row] for row in tf_rows],
        target_names=target_names,
        tf_table=tf_table,
        gene_table=gene_table,
        pair_table=pair_table,
        self_target=target_of_row[tf_rows],
        pairs_total=int(pairs_total),
        expected_edges=int(expected),
        pair_source=pair_source,
        gene_index=index,
        tf_of_row=tf_of_row,
        target_of_row=target_of_row,
        on_finish=on_finish,
        target_offsets=offsets,
        threshold_shifted=threshold.shifted,
    )


def _check_network_density(meta, model_path: str) -> None:
    """Refuse ``threshold='density'`` for a model that records no training network density."""
    if (meta.label_prior or {}).get("network_density") is None:
        raise InputError(
            f"{model_path}: threshold='density' needs the density of the model's training network "
            "(metadata label_prior), which it does not record; use threshold='youden', "
            "threshold='balanced-youden', a threshold=FLOAT or top_k=K",
            parameter="threshold",
        )


def _density_threshold(
    model: ScoringModel,
    tf_table: np.ndarray,
    gene_table: np.ndarray,
    pair_table: np.ndarray | None,
    self_target: np.ndarray,
    offsets: np.ndarray | None,
    batch_size: int,
    reporter: Reporter,
):
    """The ``"density"`` :class:`~deeptgi_rt.thresholds.ModelThreshold`: one scoring pass over
    the run's TFs (or an evenly spaced subset of them, see
    :func:`~deeptgi_rt.thresholds.density_tf_subset`) against every target, self pairs left
    out as the selection leaves them out, and the score keeping the network's density of them."""
    from . import thresholds

    n_tfs, n_targets = len(tf_table), len(gene_table)
    tfs = thresholds.density_tf_subset(n_tfs, n_targets, thresholds.DENSITY_SAMPLE_PAIRS)
    selfs = self_target[tfs]
    kept = []
    with reporter.task("density cut", len(tfs) * n_targets, unit="pairs") as advance:
        for tf_start, rows in score_tf_rows(
            model.pair_scores,
            tf_table[tfs],
            gene_table,
            pair_table=None if pair_table is None else pair_table[tfs],
            batch_size=batch_size,
            progress=advance,
            block_scores=model.block_scores,
        ):
            if offsets is not None:
                rows = add_target_prior(rows, offsets)
            block_selfs = selfs[tf_start : tf_start + len(rows)]
            has_self = np.flatnonzero(block_selfs >= 0)
            # -inf never reaches the top share (keep <= pairs without self pairs), so it drops the self pairs.
            rows[has_self, block_selfs[has_self]] = -np.inf
            kept.append(rows.ravel())
    scores = np.concatenate(kept)
    sample_pairs = len(scores) - int(np.count_nonzero(selfs >= 0))
    label_prior = model.metadata.label_prior
    assert label_prior is not None  # the density threshold is refused for models without one
    density = float(label_prior["network_density"])
    cut = thresholds.density_cut(scores, thresholds.density_keep(sample_pairs, density))
    run_pairs = n_tfs * n_targets - int(np.count_nonzero(self_target >= 0))
    return density_threshold(cut, model.metadata, run_pairs, None if len(tfs) == n_tfs else (len(tfs), n_tfs))


def _target_offsets(
    meta, request: ScoreRequest, target_names: list[str], model_path: str, reporter: Reporter
) -> np.ndarray | None:
    """The model's target prior logits per target (float64 ``[targets]``), or ``None`` when the
    model has none or the request scores the network alone."""
    if meta.target_prior is None:
        return None
    if not request.target_prior:
        from .thresholds import THRESHOLD_NAMES

        if request.threshold in THRESHOLD_NAMES and request.threshold != "density":
            reporter.warn(
                f"{model_path}: the model's threshold was chosen on scores with its target prior; "
                "without it (--no-target-prior) the cut is not the Youden point of the network alone"
            )
        return None
    return target_offsets(meta.target_prior, target_names, case_insensitive=request.case_insensitive)


def gene_index(expressions: Sequence[Expression], case_insensitive: bool) -> tuple[list[str], GeneMatcher]:
    """The genes every modality has (in the first's order) and their name index.

    The one place where the run matches gene names across modalities and looks names up.
    """
    from .names import GeneMatcher, shared_genes

    data_genes = shared_genes(
        [data.genes for data in expressions],
        case_insensitive=case_insensitive,
        sources=[data.source for data in expressions],
    )
    return data_genes, GeneMatcher(data_genes, case_insensitive)


def run_transforms(meta, request: ScoreRequest, model_path: str) -> list[str]:
    """The transform applied to each modality: the model's own preprocessing, else the request's.

    Raises:
        InputError: a transform requested for a modality the model transforms itself (it would
            be applied twice).
    """
    transforms = []
    for prep, asked, name in zip(
        meta.preprocessing, (request.transform, request.bulk_transform), ("transform", "bulk_transform")
    ):
        if prep != "none" and asked != "none":
            flags = "--log1p/--normalize" if name == "transform" else "--bulk-log1p/--bulk-normalize"
            raise InputError(
                f"{model_path}: the model applies {prep} itself (metadata preprocessing), so the data "
                f"would be transformed twice; drop {flags} ({name}='none')"
            )
        transforms.append(prep if prep != "none" else asked)
    return transforms


def _check_not_raw_counts(
    data: Expression | None, transform: str, trained_on: str, model_path: str, reporter: Reporter
) -> None:
    """Raw-looking counts reaching PCC untransformed: an error when the model records that it
    learned from values that were not raw counts, a warning when it does not say
    (``"unknown"``), nothing for a model trained on raw counts (``data``: the values, or a
    sample of a cells source's; ``None``: not checked)."""
    from .expression import looks_like_counts, raw_counts_hint

    if data is None or transform != "none" or trained_on == "raw_counts" or not looks_like_counts(data.values):
        return
    if trained_on == "unknown":
        reporter.warn(raw_counts_hint(data))
        return
    raise InputError(
        raw_counts_hint(data) + f"; {model_path} learned from values that were not raw counts "
        f"(metadata expression_transform {trained_on!r})"
    )


def _modality(
    data,
    request: ScoreRequest,
    *,
    layout,
    transform: str,
    what: str,
    plan_streamed: list | None,
    check_counts: bool = False,
    reporter: Reporter | None = None,
):
    """One modality as the run reads it: a cells source (:func:`deeptgi_rt.sources.cells_source`)
    or a whole :class:`Expression`. For a plan (``plan_streamed`` a list), a streamable file is
    opened for its metadata only and whether the run would stream it is appended to the list.

    ``check_counts``: ``transform`` is the user's, so values that are not raw counts get one
    warning (:func:`~deeptgi_rt.expression.not_counts_hint`, on the values before the transform)."""
    from .expression import not_counts_hint, transform_values
    from .sources import cells_source, sample_expression

    def check(raw: Expression | None) -> None:
        hint = None if raw is None or not check_counts else not_counts_hint(raw, transform, what)
        if hint is not None and reporter is not None:
            reporter.warn(hint)

    source = cells_source(data, request, transform=transform, what=what)
    if plan_streamed is not None:
        plan_streamed.append(source is not None)
        source = source or cells_source(data, request, transform=transform, what=what, metadata_only=True)
    elif source is not None and transform != "none":
        check(sample_expression(source, transform, as_stored=True))
    if source is not None:
        return source
    read = functools.partial(
        as_expression,
        data,
        layout=layout,
        case_insensitive=request.case_insensitive,
        what=what,
        var_names_column=request.var_names_column if what == "expression" else None,
    )
    if not check_counts or transform == "none":
        return read(transform=transform)
    if isinstance(data, Expression):
        # The caller's values are as given; as_expression transforms a copy of them.
        check(data)
        return read(transform=transform)
    # Read as stored, checked, then transformed in place: the same steps the readers take.
    expression = read(transform="none")
    check(expression)
    transform_values(expression, transform)
    return expression


def as_expression(
    data: ExpressionLike,
    *,
    layout: Layout | None,
    transform: str,
    case_insensitive: bool,
    what: str,
    var_names_column: str | None = None,
) -> Expression:
    """An :class:`Expression` (transformed) from any accepted input form."""
    from .expression import expression_from_frame, read_expression

    if isinstance(data, Expression):
        if transform == "none":
            return data
        return expression_from_frame(
            data.values,
            genes=data.genes,
            cells=data.cells,
            layout="genes-by-cells",
            source=data.source,
            transform=transform,
            case_insensitive=case_insensitive,
        )
    if isinstance(data, (str, os.PathLike)):
        return read_expression(
            data,
            layout=layout or "auto",
            transform=transform,
            case_insensitive=case_insensitive,
            var_names_column=var_names_column,
        )
    from .inmemory import anndata_expression, is_anndata

    if is_anndata(data):
        return anndata_expression(
            data,
            transform=transform,
            case_insensitive=case_insensitive,
            what=what,
            var_names_column=var_names_column,
        )
    if var_names_column is not None:
        raise InputError(
            f"<{what}>: var_names_column= names a column of an h5ad/zarr file or an AnnData's var; pass gene names "
            "with in-memory data instead",
            parameter="var_names_column",
        )
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray):
        array, genes = data
        return expression_from_frame(
            array,
            genes=list(genes),
            layout=layout or "cells-by-genes",
            source=f"<{what} array>",
            transform=transform,
            case_insensitive=case_insensitive,
        )
    if isinstance(data, np.ndarray):
        raise InputError(f"<{what} array>: pass a numpy array with its gene names as (array, gene_names)")
    return expression_from_frame(
        data,
        layout=layout or "cells-by-genes",
        source=f"<{what} frame>",
        transform=transform,
        case_insensitive=case_insensitive,
    )


def _check_threshold_applies(coverage: float, request: ScoreRequest) -> None:
    """Refuse the model's threshold below :data:`~deeptgi_rt.thresholds.MIN_THRESHOLD_COVERAGE`
    feature-gene coverage: zero-filled columns shift every score."""
    from .thresholds import MIN_THRESHOLD_COVERAGE, THRESHOLD_NAMES

    if request.threshold in THRESHOLD_NAMES and coverage < MIN_THRESHOLD_COVERAGE:
        raise InputError(
            f"threshold='{request.threshold}': the data hold {coverage:.1%} of the model's feature genes, below the "
            f"{MIN_THRESHOLD_COVERAGE:.0%} at which its threshold applies; give a threshold=FLOAT of your own or "
            "top_k=K (ranking without a threshold still works)",
            parameter="threshold",
        )


def _warn_missing_features(expressions, feature_genes: list[str], request: ScoreRequest, reporter: Reporter) -> float:
    """One warning per modality lacking feature genes (an error below ``min_coverage``);
    returns the lowest coverage (fraction of feature genes present) over the modalities."""
    from .features import feature_gene_columns

    coverage = 1.0
    for data in expressions:
        columns, _ = feature_gene_columns(
            data, feature_genes, min_coverage=request.min_coverage, case_insensitive=request.case_insensitive
        )
        if len(columns) < len(feature_genes):
            reporter.warn(
                f"{data.source}: {len(feature_genes) - len(columns)} of {len(feature_genes)} feature "
                f"genes missing; their PCC columns are zero ({len(columns) / len(feature_genes):.1%} coverage)"
            )
        coverage = min(coverage, len(columns) / len(feature_genes))
    return coverage


def _entity_features(
    expressions, names: list[str], feature_genes: list[str], request: ScoreRequest, backend: str, reporter: Reporter
) -> np.ndarray:
    """float32 ``[entities, modalities, feature_genes]``: one blocked PCC call per modality, with progress."""
    from .features import entity_features

    with reporter.task("PCC features", len(names) * len(expressions), unit="genes") as advance:
        return entity_features(
            expressions,
            names,
            feature_genes,
            min_coverage=request.min_coverage,
            case_insensitive=request.case_insensitive,
            backend=backend,
            reporter=reporter,
            progress=advance,
        )


def _pair_table(
    expressions, tfs: list[str], targets: list[str], kinds, request: ScoreRequest, backend: str, reporter: Reporter
) -> np.ndarray:
    """float32 ``[tfs, targets, modalities, kinds]``: the pair features of a model that reads them."""
    from .features import pair_feature_table

    # One blocked PCC call per modality (TFs x targets), like the feature rows.
    with reporter.task("pair features", len(tfs) * len(expressions), unit="TFs") as advance:
        table = pair_feature_table(
            expressions,
            tfs,
            targets,
            kinds,
            case_insensitive=request.case_insensitive,
            backend=backend,
            reporter=reporter,
        )
        advance(len(tfs) * len(expressions))
    return table


def _members(meta) -> int:
    """Networks averaged in the model's pair head (metadata ``config.members``, 1 if absent)."""
    try:
        return max(1, int(meta.config.get("members", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _tf_rows(tfs, model_tfs: list[str] | None, model_path: str, index, reporter: Reporter) -> np.ndarray:
    """Gene-list positions of the TFs to score (given, or the model's TFs in the data)."""
    if tfs is not None:
        return _rows_in_data(*_name_list(tfs, "TFs"), "TFs", index, reporter)
    if not model_tfs:
        raise InputError(f"{model_path}: the model lists no TFs (metadata tfs); give tfs=", parameter="tfs")
    return _rows_in_data(list(model_tfs), f"{model_path}: the model's", "TFs", index, reporter)


def _rows_in_data(names: list[str], source: str, what: str, index, reporter: Reporter) -> np.ndarray:
    """Positions of ``names`` in the data, in order, each once; names not in the data are
    skipped with an info line, and none in the data is an :class:`InputError`."""
    import pyarrow as pa

    rows = index.lookup(pa.array(names, type=pa.string()))
    missing = [name for name, row in zip(names, rows) if row < 0]
    if len(missing) == len(names):
        raise InputError(f"{source} {len(names)} {what}: none is in the expression data ({preview(names)})")
    if missing:
        reporter.info(
            f"{len(missing)} of {len(names)} {what} are not in the expression data; skipped: {preview(missing)}"
        )
    rows = rows[rows >= 0]
    _, first = np.unique(rows, return_index=True)
    return rows[np.sort(first)].astype(np.int64)


def _name_list(names, what: str) -> tuple[list[str], str]:
    """Names from a list or a gene-list file, and how to name their source in a message."""
    if isinstance(names, (str, os.PathLike)):
        from .genes import read_gene_list

        return read_gene_list(names), f"{names}: its"
    names = [str(name) for name in names]
    if not names:
        raise InputError(f"the list of {what} is empty")
    return names, "the given"


def _positions(n: int, rows: np.ndarray) -> np.ndarray:
    """int32 ``[n]``: the index of each of ``n`` data genes in ``rows``, or -1."""
    out = np.full(n, -1, dtype=np.int32)
    out[rows] = np.arange(len(rows), dtype=np.int32)
    return out


def _by_score(edges: EdgeBlock) -> EdgeBlock:
    from .edges import descending_order

    return edges.take(descending_order(edges.score))


def _timed(blocks: Iterable[EdgeBlock], summary: ScoreSummary, stage: str) -> Iterator[EdgeBlock]:
    """``blocks`` passed through, the time spent producing each added to ``stage``."""
    blocks = iter(blocks)
    while True:
        with summary.timed(stage):
            block = next(blocks, None)
        if block is None:
            return
        yield block


@contextlib.contextmanager
def _scratch(target: Path):
    """Yield ``name -> path`` making scratch files beside ``target``; all are removed at exit."""
    made: list[Path] = []

    def scratch(label: str) -> Path:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".{label}.partial", dir=target.parent or ".")
        os.close(fd)
        made.append(Path(name))
        return made[-1]

    try:
        yield scratch
    finally:
        for path in made:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
