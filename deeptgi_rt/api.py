"""The Python API: load a DeepTGI model once, score expression data with it.

>>> import deeptgi_rt
>>> model = deeptgi_rt.load_model("models/lite.onnx")            # doctest: +SKIP
>>> edges = model.score("expression.parquet", top_k=100)        # doctest: +SKIP
>>> edges.head()                                                 # polars: TF, target, score

``score`` returns a polars DataFrame, ``iter_batches`` streams pyarrow RecordBatches and
``write`` writes a ranked edge list (Parquet or TSV) atomically; the ``deeptgi-rt score``
command is a thin layer over ``write``.
"""

from __future__ import annotations

import contextlib
import os
import resource
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .atomic import atomic_output, check_output_path
from .errors import InputError, preview
from .expression import Expression
from .progress import Reporter
from .scoring import DEFAULT_BATCH_SIZE, EdgeBlock, PairBuffers, count_over, rows_to_edges, score_listed_pairs, score_tf_rows

FORMATS = ("parquet", "tsv")
UNKNOWN_PAIRS = ("skip", "error")
# Edge lists up to this size are sorted globally by score (about 32 bytes per edge while sorting).
MAX_SORT_EDGES = 50_000_000
STAGES = ("read", "pcc", "encode", "score", "write")


@dataclass
class ScoreSummary:
    """What a scoring run did.

    Attributes:
        pairs_scored: pairs the model scored (self pairs of all-pairs runs excluded).
        edges_over_threshold: scored pairs with score >= ``threshold``.
        threshold: the model's threshold (metadata ``threshold``).
        edges_written: edges in the output (after ``top_k`` / score filter).
        order: ``"score"`` (global, descending), ``"tf"`` (per TF, targets by descending score)
            or ``"pairs"`` (the pairs table's order).
        stage_seconds: wall time per stage (``read``, ``pcc``, ``encode``, ``score``, ``write``).
        providers: onnxruntime execution providers used.
        pcc_backend: ``"cpu"`` or ``"cuda"``.
        factorized: whether the encoder/head cut was used.
        peak_rss_bytes: peak resident memory of the process so far.
        top_tfs: up to 10 ``(TF, edges over threshold)``, most first.
        tfs, targets: numbers of TFs and target genes scored.
        out: the output path, if written.
    """

    pairs_scored: int = 0
    edges_over_threshold: int = 0
    threshold: float = 0.5
    edges_written: int = 0
    order: str = "score"
    stage_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    providers: list[str] = field(default_factory=list)
    pcc_backend: str = "cpu"
    factorized: bool = True
    peak_rss_bytes: int = 0
    top_tfs: list[tuple[str, int]] = field(default_factory=list)
    tfs: int = 0
    targets: int = 0
    out: str | None = None

    @property
    def total_seconds(self) -> float:
        return float(sum(self.stage_seconds.values()))


@dataclass
class _Job:
    """Prepared inputs of one scoring run."""

    tf_names: list[str]
    target_names: list[str]
    tf_table: np.ndarray
    gene_table: np.ndarray
    self_target: np.ndarray
    expected_edges: int
    pairs_total: int
    pairs: Any = None
    gene_index: Any = None
    tf_of_row: np.ndarray | None = None
    target_of_row: np.ndarray | None = None
    over_per_tf: np.ndarray | None = None


class DeepTGIModel:
    """A DeepTGI ``.onnx`` model loaded for scoring (see :func:`load_model`).

    Attributes:
        path: the model file.
        metadata: its :class:`~deeptgi_rt.contract.ModelMetadata`.
        providers: onnxruntime execution providers in use.
        pcc_backend: ``"cpu"`` or ``"cuda"``, where PCC features are computed.
        factorized: whether scoring runs encoders once per entity and the head per pair.
        last_summary: the :class:`ScoreSummary` of the latest run.
    """

    def __init__(self, path, device: str = "auto", *, threads: int | None = None,
                 reporter: Reporter | None = None):
        from .devices import pcc_backend
        from .model import ScoringModel

        self.reporter = reporter or Reporter()
        self._model = ScoringModel(path, device=device, threads=threads, reporter=self.reporter)
        self.path = self._model.path
        self.metadata = self._model.metadata
        self.providers = list(self._model.providers)
        self.factorized = self._model.factorized
        self.pcc_backend = pcc_backend(device)
        self.last_summary: ScoreSummary | None = None

    def __repr__(self) -> str:
        return (f"DeepTGIModel({self.path!r}, feature_genes={len(self.metadata.feature_genes)}, "
                f"modalities={self.metadata.modalities}, providers={self.providers})")

    # ----------------------------------------------------------------- public API

    def score(self, expression, *, bulk=None, tfs=None, genes=None, pairs=None, top_k: int | None = None,
              threshold=None, batch_size: int = DEFAULT_BATCH_SIZE, **options):
        """Score pairs and return them as a polars DataFrame sorted by descending score.

        Args:
            expression: the (single-cell) expression: an :class:`Expression`, a file path, a
                polars/pandas DataFrame laid out like a file, or ``(array, gene_names)`` with a
                numpy array ``[cells, genes]`` (``layout="genes-by-cells"`` for ``[genes, cells]``).
            bulk: the second modality for two-modality models, in the same forms.
            tfs: TF names (a list or a gene-list file); default the model's ``tfs`` found in the data.
            genes: target gene names (list or file); default every gene in the data.
            pairs: score only these pairs: a Parquet/CSV/TSV file or a polars/pandas/pyarrow
                table with TF and target columns (then ``tfs``/``genes`` must be ``None``).
            top_k: keep the ``top_k`` best targets per TF.
            threshold: keep edges with score >= this float in [0, 1], or ``"youden"`` for the
                model's threshold; ``None`` keeps every scored pair.
            batch_size: pairs per head run.
            **options: ``layout``, ``bulk_layout``, ``case_insensitive``, ``min_coverage``,
                ``unknown_pairs`` (``"skip"`` or ``"error"``).

        Returns:
            polars DataFrame with columns ``TF``, ``target`` (categorical) and ``score`` (float32).
        """
        import polars as pl
        import pyarrow as pa

        from .edges import EdgeNames, descending_order

        job, summary = self._start(expression, bulk, tfs, genes, pairs, top_k, threshold, batch_size, options)
        blocks = list(self._edge_blocks(job, summary, top_k, threshold, batch_size, rank=False))
        started = time.perf_counter()
        edges = EdgeBlock.concat(blocks)
        edges = edges.take(descending_order(edges.score))
        names = EdgeNames(job.tf_names, job.target_names)
        frame = pl.from_arrow(pa.Table.from_batches([names.batch(edges)]))
        summary.edges_written = len(edges)
        summary.stage_seconds["write"] += time.perf_counter() - started
        self._finish(summary, job)
        return frame

    def iter_batches(self, expression, *, bulk=None, tfs=None, genes=None, pairs=None, top_k: int | None = None,
                     threshold=None, batch_size: int = DEFAULT_BATCH_SIZE, **options) -> Iterator:
        """Stream the scored edges as ``pyarrow.RecordBatch`` es (TF and target
        dictionary-encoded, score float32), in bounded memory.

        Order: all-pairs runs come TF block by TF block, each TF's targets by descending
        score; ``pairs`` runs follow the pairs table; ``top_k`` runs come TF by TF at the end.
        Arguments as for :meth:`score`.
        """
        job, summary = self._start(expression, bulk, tfs, genes, pairs, top_k, threshold, batch_size, options)
        return self._stream(job, summary, top_k, threshold, batch_size)

    def _stream(self, job, summary, top_k, threshold, batch_size) -> Iterator:
        from .edges import EdgeNames

        names = EdgeNames(job.tf_names, job.target_names)
        for block in self._edge_blocks(job, summary, top_k, threshold, batch_size, rank=True):
            summary.edges_written += len(block)
            yield names.batch(block)
        self._finish(summary, job)

    def write(self, out, expression, *, format: str = "parquet", max_sort_edges: int = MAX_SORT_EDGES,
              bulk=None, tfs=None, genes=None, pairs=None, top_k: int | None = None, threshold=None,
              batch_size: int = DEFAULT_BATCH_SIZE, **options) -> ScoreSummary:
        """Score and write the edge list to ``out`` atomically (nothing at ``out`` unless complete).

        Args:
            out: output path.
            format: ``"parquet"`` (columns TF, target, score) or ``"tsv"`` (``TF<TAB>target<TAB>importance``).
            max_sort_edges: edge lists up to this size are sorted globally by descending score;
                larger ones stay in per-TF blocks (each TF's targets by descending score) or, for
                ``pairs``, in the pairs table's order.
            Other arguments as for :meth:`score`.

        Returns:
            The run's :class:`ScoreSummary`.
        """
        from .edges import EdgeNames, ParquetEdgeWriter, descending_order, iter_parquet_edges, write_edges, write_tsv

        if format not in FORMATS:
            raise InputError(f"unknown output format {format!r}; expected one of {', '.join(FORMATS)}")
        target = check_output_path(out)
        job, summary = self._start(expression, bulk, tfs, genes, pairs, top_k, threshold, batch_size, options)
        sort_globally = job.expected_edges <= max_sort_edges
        summary.order = "score" if sort_globally else ("pairs" if job.pairs is not None and top_k is None else "tf")
        if not sort_globally:
            self.reporter.info(
                f"{job.expected_edges:,} edges exceed --max-sort-edges {max_sort_edges:,}: "
                + ("edges stay in the pairs file's order" if summary.order == "pairs"
                   else "edges are grouped per TF, each TF's targets by descending score")
            )
        names = EdgeNames(job.tf_names, job.target_names)
        with atomic_output(target) as final, _scratch(target) as scratch:
            if sort_globally:
                # Within the budget the edges (12 bytes each) are held and sorted in memory.
                edges = EdgeBlock.concat(list(self._edge_blocks(job, summary, top_k, threshold, batch_size,
                                                                rank=False)))
                started = time.perf_counter()
                summary.edges_written = write_edges(edges.take(descending_order(edges.score)), names, final, format)
                summary.stage_seconds["write"] += time.perf_counter() - started
            else:
                # Beyond it they stream to the output (Parquet) or to a spool read back once (TSV).
                spool = final if format == "parquet" else scratch("spool")
                writer = ParquetEdgeWriter(spool, names, compression="zstd" if format == "parquet" else "none")
                try:
                    for block in self._edge_blocks(job, summary, top_k, threshold, batch_size, rank=True):
                        started = time.perf_counter()
                        writer.write(block)
                        summary.stage_seconds["write"] += time.perf_counter() - started
                finally:
                    started = time.perf_counter()
                    writer.close()
                    summary.stage_seconds["write"] += time.perf_counter() - started
                started = time.perf_counter()
                if format == "tsv":
                    write_tsv(iter_parquet_edges(spool), final)
                summary.stage_seconds["write"] += time.perf_counter() - started
                summary.edges_written = writer.rows
        summary.out = str(target)
        self._finish(summary, job)
        return summary

    # ----------------------------------------------------------------- preparation

    def _start(self, expression, bulk, tfs, genes, pairs, top_k, threshold, batch_size, options):
        summary = ScoreSummary(threshold=float(self.metadata.threshold), providers=self.providers,
                               pcc_backend=self.pcc_backend, factorized=self.factorized)
        job = self._prepare(expression, bulk, tfs, genes, pairs, top_k, threshold, batch_size, summary, **options)
        return job, summary

    def _prepare(self, expression, bulk, tfs, genes, pairs, top_k, threshold, batch_size, summary, *,
                 layout: str | None = None, bulk_layout: str | None = None, case_insensitive: bool = False,
                 min_coverage: float = 1.0, unknown_pairs: str = "skip") -> _Job:
        from . import features
        from .pairs import GeneIndex, PairSource, scan_pairs

        check_score_options(top_k=top_k, threshold=threshold, batch_size=batch_size, min_coverage=min_coverage,
                            unknown_pairs=unknown_pairs)
        if pairs is not None and (tfs is not None or genes is not None):
            raise InputError("--pairs lists the pairs to score; it cannot be combined with --tfs or --genes")
        meta = self.metadata
        given = [expression] + ([bulk] if bulk is not None else [])
        if len(given) != len(meta.modalities):
            hint = "give --bulk" if len(meta.modalities) > len(given) else "drop --bulk"
            raise InputError(
                f"{self.path}: the model expects {len(meta.modalities)} expression modalities "
                f"({', '.join(meta.modalities)}) but {len(given)} were given ({hint})"
            )
        pair_source = PairSource(pairs) if pairs is not None else None

        started = time.perf_counter()
        expressions = [
            _as_expression(data, layout=lay, log1p=prep == "log1p", case_insensitive=case_insensitive, what=what)
            for data, lay, prep, what in zip(given, (layout, bulk_layout), meta.preprocessing, ("expression", "bulk"))
        ]
        summary.stage_seconds["read"] += time.perf_counter() - started
        for data in expressions:
            columns, _ = features.feature_gene_columns(data, meta.feature_genes, min_coverage=min_coverage,
                                                       case_insensitive=case_insensitive)
            if len(columns) < len(meta.feature_genes):
                self.reporter.warn(
                    f"{data.source}: {len(meta.feature_genes) - len(columns)} of {len(meta.feature_genes)} feature "
                    f"genes missing; their PCC columns are zero ({len(columns) / len(meta.feature_genes):.1%} coverage)"
                )
        data_genes = _shared_genes(expressions, case_insensitive)
        index = GeneIndex(data_genes, case_insensitive)
        job_pairs = None
        if pair_source is not None:
            scan = scan_pairs(pair_source, index)
            if scan.unknown_pairs:
                if unknown_pairs == "error":
                    raise InputError(scan.unknown_message(pair_source.source) + " (--unknown-pairs error)")
                self.reporter.warn(scan.unknown_message(pair_source.source) + "; skipping those pairs")
            if scan.unknown_pairs == scan.pairs:
                raise InputError(f"{pair_source.source}: none of the {scan.pairs} pairs name genes in the data")
            tf_rows = np.flatnonzero(scan.tf_used)
            target_rows = np.flatnonzero(scan.gene_used)
            expected = total = scan.pairs - scan.unknown_pairs
            job_pairs = pair_source
        else:
            tf_rows = self._tf_rows(tfs, index)
            target_rows = self._target_rows(genes, index)
            expected = len(tf_rows) * len(target_rows) - len(np.intersect1d(tf_rows, target_rows))
            total = len(tf_rows) * len(target_rows)
            if expected <= 0:
                raise InputError("no TF -> target pairs to score: the only target genes are the TFs themselves")
        if top_k is not None:
            expected = min(expected, len(tf_rows) * int(top_k))

        entity_rows = np.union1d(tf_rows, target_rows)
        feats = self._entity_features(expressions, [data_genes[row] for row in entity_rows], min_coverage,
                                      case_insensitive, summary)
        started = time.perf_counter()
        with self.reporter.task("encoding", len(tf_rows) + len(target_rows), unit="entities") as advance:
            tf_table = self._model.tf_table(feats[np.searchsorted(entity_rows, tf_rows)])
            advance(len(tf_rows))
            gene_table = self._model.gene_table(feats[np.searchsorted(entity_rows, target_rows)])
            advance(len(target_rows))
        del feats
        summary.stage_seconds["encode"] += time.perf_counter() - started

        target_of_row = np.full(len(data_genes), -1, dtype=np.int32)
        target_of_row[target_rows] = np.arange(len(target_rows), dtype=np.int32)
        tf_of_row = np.full(len(data_genes), -1, dtype=np.int32)
        tf_of_row[tf_rows] = np.arange(len(tf_rows), dtype=np.int32)
        summary.tfs, summary.targets = len(tf_rows), len(target_rows)
        return _Job(
            tf_names=[data_genes[row] for row in tf_rows],
            target_names=[data_genes[row] for row in target_rows],
            tf_table=tf_table,
            gene_table=gene_table,
            self_target=target_of_row[tf_rows],
            expected_edges=int(expected),
            pairs_total=int(total),
            pairs=job_pairs,
            gene_index=index,
            tf_of_row=tf_of_row,
            target_of_row=target_of_row,
            over_per_tf=np.zeros(len(tf_rows), dtype=np.int64),
        )

    def _tf_rows(self, tfs, index) -> np.ndarray:
        """Gene-list positions of the TFs to score (given, or the model's TFs in the data)."""
        if tfs is not None:
            return self._rows_in_data(*_name_list(tfs, "TFs"), "TFs", index)
        if not self.metadata.tfs:
            raise InputError(f"{self.path}: the model lists no TFs (metadata tfs); give --tfs")
        return self._rows_in_data(list(self.metadata.tfs), f"{self.path}: the model's", "TFs", index)

    def _target_rows(self, genes, index) -> np.ndarray:
        """Gene-list positions of the target genes (given, or every gene in the data)."""
        if genes is None:
            return np.arange(index.n_genes)
        return self._rows_in_data(*_name_list(genes, "genes"), "target genes", index)

    def _rows_in_data(self, names: list[str], source: str, what: str, index) -> np.ndarray:
        """Positions of ``names`` in the data, in order, each once; names not in the data are
        skipped with an info line, and none in the data is an :class:`InputError`."""
        import pyarrow as pa

        rows = index.lookup(pa.array(names, type=pa.string()))
        missing = [name for name, row in zip(names, rows) if row < 0]
        if len(missing) == len(names):
            raise InputError(f"{source} {len(names)} {what}: none is in the expression data ({preview(names)})")
        if missing:
            self.reporter.info(f"{len(missing)} of {len(names)} {what} are not in the expression data; "
                               f"skipped: {preview(missing)}")
        return _unique_in_order(rows[rows >= 0])

    def _entity_features(self, expressions, names, min_coverage, case_insensitive, summary) -> np.ndarray:
        """float32 ``[entities, modalities, feature_genes]``: one blocked PCC call per modality, with progress."""
        from .features import entity_features

        started = time.perf_counter()
        meta = self.metadata
        total = len(names) * len(expressions)
        with self.reporter.task("PCC features", total, unit="genes") as advance:
            out = entity_features(
                expressions, names, meta.feature_genes, min_coverage=min_coverage,
                case_insensitive=case_insensitive, backend=self.pcc_backend, reporter=self.reporter,
                progress=advance,
            )
        summary.stage_seconds["pcc"] += time.perf_counter() - started
        return out

    # ----------------------------------------------------------------- scoring

    def _edge_blocks(self, job: _Job, summary: ScoreSummary, top_k, threshold, batch_size, rank: bool):
        """Yield the run's edge blocks (after ``top_k`` and the score filter), counting as it goes.

        Only the scoring work is timed as ``score``; the consumer's time between blocks is not.
        """
        from .edges import TopKPerTF

        keep_over = _threshold_value(threshold, self.metadata.threshold)
        model_threshold = float(self.metadata.threshold)
        top = TopKPerTF(top_k) if (top_k is not None and job.pairs is not None) else None
        with self.reporter.task("scoring", job.pairs_total, unit="pairs") as advance:
            started = time.perf_counter()
            if job.pairs is None:
                blocks = score_tf_rows(self._model.pair_scores, job.tf_table, job.gene_table,
                                       batch_size=batch_size, progress=advance)
                for tf_start, rows in blocks:
                    job.over_per_tf[tf_start:tf_start + len(rows)] = count_over(
                        rows, model_threshold, job.self_target, tf_start)
                    summary.pairs_scored += rows.size - int(np.count_nonzero(
                        job.self_target[tf_start:tf_start + len(rows)] >= 0))
                    block = rows_to_edges(tf_start, rows, job.self_target, top_k=top_k, threshold=keep_over,
                                          rank=rank)
                    summary.stage_seconds["score"] += time.perf_counter() - started
                    yield block
                    started = time.perf_counter()
            else:
                buffers = PairBuffers(job.tf_table.shape[1:], job.gene_table.shape[1:], batch_size)
                from .pairs import iter_known_pairs

                for tf_rows, gene_rows in iter_known_pairs(job.pairs, job.gene_index):
                    tf_index, target_index = job.tf_of_row[tf_rows], job.target_of_row[gene_rows]
                    scores = score_listed_pairs(self._model.pair_scores, job.tf_table, job.gene_table,
                                                tf_index, target_index, buffers)
                    advance(len(scores))
                    summary.pairs_scored += len(scores)
                    over = scores >= model_threshold
                    job.over_per_tf += np.bincount(tf_index[over], minlength=len(job.tf_names))
                    block = EdgeBlock(tf_index, target_index, scores)
                    if keep_over is not None:
                        block = block.take(scores >= keep_over)
                    if top is not None:
                        top.add(block)
                        continue
                    summary.stage_seconds["score"] += time.perf_counter() - started
                    yield block
                    started = time.perf_counter()
                if top is not None:
                    block = top.result()
                    summary.stage_seconds["score"] += time.perf_counter() - started
                    yield block
                    started = time.perf_counter()
            summary.stage_seconds["score"] += time.perf_counter() - started

    def _finish(self, summary: ScoreSummary, job: _Job) -> None:
        summary.edges_over_threshold = int(job.over_per_tf.sum())
        best = np.argsort(-job.over_per_tf, kind="stable")[:10]
        summary.top_tfs = [(job.tf_names[i], int(job.over_per_tf[i])) for i in best if job.over_per_tf[i] > 0]
        summary.peak_rss_bytes = peak_rss_bytes()
        self.last_summary = summary


def load_model(path, device: str = "auto", *, threads: int | None = None,
               reporter: Reporter | None = None) -> DeepTGIModel:
    """Load a DeepTGI ``.onnx`` model for scoring.

    Args:
        path: the model file.
        device: ``"auto"`` (CUDA if it initializes, else CPU), ``"cpu"`` or ``"cuda"`` (an
            :class:`InputError` when CUDA does not work); selects both the onnxruntime
            execution provider and the PCC backend.
        threads: onnxruntime intra-op threads (default: all cores).
        reporter: progress and messages (default: silent).

    Raises:
        InputError: missing file, not ONNX, not a DeepTGI model, or an unusable device.
    """
    return DeepTGIModel(path, device, threads=threads, reporter=reporter)


def check_score_options(*, top_k=None, threshold=None, batch_size: int = DEFAULT_BATCH_SIZE,
                        min_coverage: float = 1.0, unknown_pairs: str = "skip") -> None:
    """Raise :class:`InputError` for an invalid scoring option (before any work is done)."""
    if top_k is not None and (not isinstance(top_k, (int, np.integer)) or top_k <= 0):
        raise InputError(f"--top-k must be a positive integer, got {top_k!r}")
    _threshold_value(threshold, 0.5)
    if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise InputError(f"--batch-size must be a positive integer, got {batch_size!r}")
    if not 0.0 < float(min_coverage) <= 1.0:
        raise InputError(f"--allow-missing-features must be a fraction in (0, 1], got {min_coverage!r}")
    if unknown_pairs not in UNKNOWN_PAIRS:
        raise InputError(f"--unknown-pairs must be one of {', '.join(UNKNOWN_PAIRS)}, got {unknown_pairs!r}")


def _threshold_value(threshold, model_threshold: float) -> float | None:
    """The score filter: ``None``, a float in [0, 1], or ``"youden"`` (the model's threshold)."""
    if threshold is None:
        return None
    if isinstance(threshold, str):
        if threshold.strip().lower() == "youden":
            return float(model_threshold)
        try:
            threshold = float(threshold)
        except ValueError:
            raise InputError(f"--threshold must be 'youden' or a number in [0, 1], got {threshold!r}") from None
    value = float(threshold)
    if not 0.0 <= value <= 1.0:
        raise InputError(f"--threshold must be 'youden' or a number in [0, 1], got {threshold!r}")
    return value


def _as_expression(data, *, layout, log1p: bool, case_insensitive: bool, what: str) -> Expression:
    """An :class:`Expression` (preprocessed) from any accepted input form."""
    from .expression import expression_from_frame, read_expression

    if isinstance(data, Expression):
        if not log1p:
            return data
        return expression_from_frame(data.values, genes=data.genes, cells=data.cells, layout="genes-by-cells",
                                     source=data.source, log1p=True, case_insensitive=case_insensitive)
    if isinstance(data, (str, os.PathLike)):
        return read_expression(data, layout=layout or "auto", log1p=log1p, case_insensitive=case_insensitive)
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], np.ndarray):
        array, genes = data
        return expression_from_frame(array, genes=list(genes), layout=layout or "cells-by-genes",
                                     source=f"<{what} array>", log1p=log1p, case_insensitive=case_insensitive)
    if isinstance(data, np.ndarray):
        raise InputError(f"<{what} array>: pass a numpy array with its gene names as (array, gene_names)")
    return expression_from_frame(data, layout=layout or "cells-by-genes", source=f"<{what} frame>",
                                 log1p=log1p, case_insensitive=case_insensitive)


def _shared_genes(expressions: Sequence[Expression], case_insensitive: bool) -> list[str]:
    """Genes of the first modality that every other modality has too, in the first's order."""
    genes = list(expressions[0].genes)
    for other in expressions[1:]:
        key = str.casefold if case_insensitive else str
        present = {key(name) for name in other.genes}
        genes = [name for name in genes if key(name) in present]
    if not genes:
        raise InputError(f"{expressions[1].source}: no gene in common with {expressions[0].source}")
    return genes


def _name_list(names, what: str) -> tuple[list[str], str]:
    """Names from a list or a gene-list file, and how to name their source in a message."""
    if isinstance(names, (str, os.PathLike)):
        from .genes import read_gene_list

        return read_gene_list(names), f"{names}: its"
    names = [str(name) for name in names]
    if not names:
        raise InputError(f"the list of {what} is empty")
    return names, "the given"


def _unique_in_order(rows: np.ndarray) -> np.ndarray:
    _, first = np.unique(rows, return_index=True)
    return rows[np.sort(first)].astype(np.int64)


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


def peak_rss_bytes() -> int:
    """Peak resident set size of this process in bytes (``ru_maxrss`` is KiB on Linux)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
