"""The Python API: load a DeepTGI model once, score expression data with it.

>>> import deeptgi_rt
>>> model = deeptgi_rt.load_model("models/lite.onnx")            # doctest: +SKIP
>>> edges = model.score("expression.parquet", top_k=100)        # doctest: +SKIP
>>> edges.head()                                                 # polars: TF, target, score

``score`` returns a polars DataFrame, ``iter_batches`` streams pyarrow RecordBatches and
``write`` writes a ranked edge list (Parquet or TSV) atomically; the ``deeptgi-rt score``
command is a thin layer over ``write``. Each builds a :class:`ScoreRequest` (checked before
any data is read) and runs it with :meth:`DeepTGIModel.prepare` (see :mod:`deeptgi_rt.engine`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ._types import (
    Device,
    ExpressionLike,
    GeneList,
    Layout,
    OutputFormat,
    PairsLike,
    PathLike,
    Threshold,
    Transform,
    UnknownPairs,
)
from .errors import InputError
from .progress import Reporter
from .request import MAX_SORT_EDGES, ScoreRequest
from .scoring import DEFAULT_BATCH_SIZE
from .summary import STAGES, ScoreSummary, peak_rss_bytes

if TYPE_CHECKING:
    import polars
    import pyarrow

    from .engine import ScoreRun

__all__ = ["DeepTGIModel", "ScoreRequest", "ScoreSummary", "load_model", "MAX_SORT_EDGES", "STAGES", "peak_rss_bytes"]


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

    def __init__(
        self, path: PathLike, device: Device = "auto", *, threads: int | None = None, reporter: Reporter | None = None
    ):
        from .devices import pcc_backend
        from .model import ScoringModel

        started = time.perf_counter()
        self.reporter = reporter or Reporter()
        self._model = ScoringModel(path, device=device, threads=threads, reporter=self.reporter)
        self.path = self._model.path
        self.metadata = self._model.metadata
        self.providers = list(self._model.providers)
        self.factorized = self._model.factorized
        self.pcc_backend = pcc_backend(device)
        self.last_summary: ScoreSummary | None = None
        # Reported as the ``load`` stage of the first run, so its total matches the wall time.
        self._load_seconds = time.perf_counter() - started

    def __repr__(self) -> str:
        return (
            f"DeepTGIModel({self.path!r}, feature_genes={len(self.metadata.feature_genes)}, "
            f"modalities={self.metadata.modalities}, providers={self.providers})"
        )

    def score(
        self,
        expression: ExpressionLike,
        *,
        bulk: ExpressionLike | None = None,
        tfs: GeneList | None = None,
        genes: GeneList | None = None,
        pairs: PairsLike | None = None,
        top_k: int | None = None,
        threshold: Threshold | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        layout: Layout | None = None,
        bulk_layout: Layout | None = None,
        case_insensitive: bool = False,
        min_coverage: float = 1.0,
        unknown_pairs: UnknownPairs = "skip",
        transform: Transform = "none",
        bulk_transform: Transform = "none",
        var_names_column: str | None = None,
        target_prior: bool = True,
        layer: str | None = None,
        use_raw: bool = False,
    ) -> polars.DataFrame:
        """Score pairs and return them as a polars DataFrame sorted by descending score.

        Args:
            expression: the (single-cell) expression: an :class:`Expression`, a file path, a
                polars/pandas DataFrame laid out like a file, ``(array, gene_names)`` with a
                numpy array ``[cells, genes]`` (``layout="genes-by-cells"`` for ``[genes, cells]``),
                an ``anndata.AnnData`` (cells x genes; dense or sparse X, or backed) or
                ``(scipy.sparse matrix [cells, genes], gene_names)``. Sparse and backed matrices
                are read a chunk of cells at a time, never densified whole; the scores equal
                those of the object written to ``.h5ad`` (see :mod:`deeptgi_rt.inmemory`).
            bulk: the second modality for two-modality models, in the same forms.
            tfs: TF names (a list or a gene-list file); default the model's ``tfs`` found in the data.
            genes: target gene names (list or file); default every gene in the data.
            pairs: score only these pairs: a Parquet/CSV/TSV file or a polars/pandas/pyarrow
                table with TF and target columns (then ``tfs``/``genes`` must be ``None``).
            top_k: keep the ``top_k`` best targets per TF.
            threshold: keep edges with score >= this float in [0, 1], ``"youden"`` for the
                model's threshold at the genome-wide density of its training network (when the
                model records ``label_prior``), ``"balanced-youden"`` for it as chosen on
                balanced pairs, ``"density"`` for the cut keeping the top ``network_density``
                share of the run's pairs (all-pairs runs of a model with ``label_prior``; one
                extra scoring pass, on a subset of TFs beyond 4M pairs); ``None`` keeps every
                scored pair. Below 90 % feature-gene
                coverage the model's threshold is refused.
            batch_size: pairs per head run.
            layout, bulk_layout: ``"auto"`` (files), ``"cells-by-genes"`` or ``"genes-by-cells"``.
            case_insensitive: match gene names ignoring case.
            min_coverage: accept missing feature genes (zero PCC columns) down to this fraction.
            unknown_pairs: pairs naming genes absent from the data: ``"skip"`` or ``"error"``.
            transform, bulk_transform: transform raw counts first: ``"log1p"`` or
                ``"normalize_total_log1p"`` (each cell to a total of 10,000, then log1p, as
                scanpy); refused for a modality the model transforms itself (metadata
                ``preprocessing``). Raw-looking counts left untransformed get a warning, or an
                error when the model records it learned from other values.
            var_names_column: h5ad/zarr/AnnData ``expression``: the ``var`` column holding gene names.
            target_prior: add the model's per-target prior (metadata ``target_prior``, written
                by training with the prior offset) to the network's scores; ``False`` scores
                with the network alone.
            layer: AnnData ``expression`` (an object or an ``.h5ad``/zarr file): read
                ``layers[layer]`` instead of X (e.g. ``"counts"`` with
                ``transform="normalize_total_log1p"``).
            use_raw: AnnData ``expression``: read ``raw.X`` with ``raw.var_names``.

        Returns:
            polars DataFrame with columns ``TF``, ``target`` (categorical) and ``score`` (float32).

        Raises:
            InputError: an invalid option (before any data is read) or unusable data.
        """
        return self.prepare(
            ScoreRequest(
                expression,
                bulk=bulk,
                tfs=tfs,
                genes=genes,
                pairs=pairs,
                top_k=top_k,
                threshold=threshold,
                batch_size=batch_size,
                layout=layout,
                bulk_layout=bulk_layout,
                case_insensitive=case_insensitive,
                min_coverage=min_coverage,
                unknown_pairs=unknown_pairs,
                transform=transform,
                bulk_transform=bulk_transform,
                var_names_column=var_names_column,
                target_prior=target_prior,
                layer=layer,
                use_raw=use_raw,
            )
        ).frame()

    def iter_batches(
        self,
        expression: ExpressionLike,
        *,
        bulk: ExpressionLike | None = None,
        tfs: GeneList | None = None,
        genes: GeneList | None = None,
        pairs: PairsLike | None = None,
        top_k: int | None = None,
        threshold: Threshold | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        layout: Layout | None = None,
        bulk_layout: Layout | None = None,
        case_insensitive: bool = False,
        min_coverage: float = 1.0,
        unknown_pairs: UnknownPairs = "skip",
        transform: Transform = "none",
        bulk_transform: Transform = "none",
        var_names_column: str | None = None,
        target_prior: bool = True,
        layer: str | None = None,
        use_raw: bool = False,
    ) -> Iterator[pyarrow.RecordBatch]:
        """Stream the scored edges as ``pyarrow.RecordBatch`` es (TF and target
        dictionary-encoded, score float32), in bounded memory.

        Order: all-pairs runs come TF block by TF block, each TF's targets by descending
        score; ``pairs`` runs follow the pairs table; ``top_k`` runs come TF by TF at the end.
        Arguments as for :meth:`score`; the data are read and encoded before this returns.
        """
        return self.prepare(
            ScoreRequest(
                expression,
                bulk=bulk,
                tfs=tfs,
                genes=genes,
                pairs=pairs,
                top_k=top_k,
                threshold=threshold,
                batch_size=batch_size,
                layout=layout,
                bulk_layout=bulk_layout,
                case_insensitive=case_insensitive,
                min_coverage=min_coverage,
                unknown_pairs=unknown_pairs,
                transform=transform,
                bulk_transform=bulk_transform,
                var_names_column=var_names_column,
                target_prior=target_prior,
                layer=layer,
                use_raw=use_raw,
            )
        ).batches()

    def write(
        self,
        out: PathLike,
        expression: ExpressionLike,
        *,
        format: OutputFormat = "parquet",
        max_sort_edges: int = MAX_SORT_EDGES,
        bulk: ExpressionLike | None = None,
        tfs: GeneList | None = None,
        genes: GeneList | None = None,
        pairs: PairsLike | None = None,
        top_k: int | None = None,
        threshold: Threshold | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        layout: Layout | None = None,
        bulk_layout: Layout | None = None,
        case_insensitive: bool = False,
        min_coverage: float = 1.0,
        unknown_pairs: UnknownPairs = "skip",
        transform: Transform = "none",
        bulk_transform: Transform = "none",
        var_names_column: str | None = None,
        target_prior: bool = True,
        layer: str | None = None,
        use_raw: bool = False,
    ) -> ScoreSummary:
        """Score and write the edge list to ``out`` atomically (nothing at ``out`` unless complete).

        Args:
            out: output path.
            format: ``"parquet"`` (columns TF, target, score), ``"tsv"`` (``TF<TAB>target<TAB>importance``,
                pySCENIC's adjacencies) or ``"decoupler"`` (``source<TAB>target<TAB>weight``, decoupler's
                network); both TSV forms are gzipped for a ``.gz`` name.
            max_sort_edges: edge lists up to this size are sorted globally by descending score;
                larger ones stay in per-TF blocks (each TF's targets by descending score) or, for
                ``pairs``, in the pairs table's order.
            expression, bulk, tfs, genes, pairs, top_k, threshold, ...: as for :meth:`score`.

        Returns:
            The run's :class:`ScoreSummary`.
        """
        return self.write_request(
            out,
            ScoreRequest(
                expression,
                bulk=bulk,
                tfs=tfs,
                genes=genes,
                pairs=pairs,
                top_k=top_k,
                threshold=threshold,
                batch_size=batch_size,
                layout=layout,
                bulk_layout=bulk_layout,
                case_insensitive=case_insensitive,
                min_coverage=min_coverage,
                unknown_pairs=unknown_pairs,
                transform=transform,
                bulk_transform=bulk_transform,
                var_names_column=var_names_column,
                target_prior=target_prior,
                layer=layer,
                use_raw=use_raw,
                format=format,
                max_sort_edges=max_sort_edges,
            ),
        )

    def write_request(self, out: PathLike, request: ScoreRequest) -> ScoreSummary:
        """:meth:`write` for a ready :class:`ScoreRequest`: the output path is checked, then the run prepared."""
        from .atomic import check_output_path
        from .edges import tsv_compression

        target = check_output_path(out)
        if request.format != "parquet":
            tsv_compression(target)
        return self.prepare(request).write(target)

    def prepare(self, request: ScoreRequest) -> ScoreRun:
        """Read the request's data, compute PCC features and encode the TFs and targets.

        Returns:
            A :class:`~deeptgi_rt.engine.ScoreRun` whose ``frame()``, ``batches()`` or
            ``write(path)`` scores the pairs; its summary becomes :attr:`last_summary` when done.
        """
        from .engine import prepare

        summary = self._new_summary()
        summary.stage_seconds["load"], self._load_seconds = self._load_seconds, 0.0
        run = prepare(
            self._model,
            request,
            summary,
            pcc_backend=self.pcc_backend,
            reporter=self.reporter,
            on_finish=self._finished,
        )
        assert run is not None  # only a plan_only call returns None
        return run

    def plan(self, request: ScoreRequest) -> ScoreSummary:
        """The run ``request`` asks for, planned without the heavy work: sizes and the estimated
        cost per stage (``summary.plan``, a :class:`deeptgi_rt.plan.RunPlan`). Only the files'
        metadata is read where the cells readers can take them (h5ad, zarr, Parquet)."""
        from .engine import prepare

        summary = self._new_summary()
        prepare(self._model, request, summary, pcc_backend=self.pcc_backend, reporter=self.reporter, plan_only=True)
        return summary

    def _new_summary(self) -> ScoreSummary:
        return ScoreSummary(
            threshold=float(self.metadata.threshold),
            providers=self.providers,
            pcc_backend=self.pcc_backend,
            factorized=self.factorized,
        )

    def _finished(self, summary: ScoreSummary) -> None:
        self.last_summary = summary


def load_model(
    path: PathLike, device: Device = "auto", *, threads: int | None = None, reporter: Reporter | None = None
) -> DeepTGIModel:
    """Load a DeepTGI ``.onnx`` model for scoring.

    Args:
        path: the model file, or the name of a shipped model (``"mhsc-e-lite"``, ``"mdc-lite"``;
            :func:`deeptgi_rt.catalog.shipped_models` lists them).
        device: ``"auto"`` (CUDA if it initializes, else CPU), ``"cpu"`` or ``"cuda"`` (an
            :class:`InputError` when CUDA does not work); selects both the onnxruntime
            execution provider and the PCC backend.
        threads: onnxruntime intra-op threads (default: all cores).
        reporter: progress and messages (default: silent).

    Raises:
        InputError: missing file, not ONNX, not a DeepTGI model, or an unusable device.
    """
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise InputError(f"threads must be a positive integer, got {threads!r}", parameter="threads")
    return DeepTGIModel(path, device, threads=threads, reporter=reporter)
