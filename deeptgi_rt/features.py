"""PCC feature rows of entities (TFs, target genes) against a model's feature genes.

Training and scoring both build their inputs here, so the features a model was trained on
are exactly the features it is scored on. A modality is either an in-memory
:class:`~deeptgi_rt.expression.Expression` (genes x cells, :func:`~deeptgi_rt.pcc.pcc_block`)
or a cells source read a chunk at a time (:class:`~deeptgi_rt.cells.CellChunks`,
:class:`~deeptgi_rt.cells.DaskCells`), whose PCC comes from statistics streamed over its cells
(:mod:`deeptgi_rt.pcc.streaming`) and is never held as cells x genes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from .cells import CellChunks, DaskCells
from .errors import InputError, preview
from .expression import Expression
from .names import GeneMatcher
from .pcc import constant_gene_mask, pcc_block
from .progress import Reporter

# A modality: anything with ``.genes`` and ``.source`` that entity_features can correlate.
Modality = Expression | CellChunks | DaskCells


def feature_gene_columns(
    expression: Modality,
    feature_genes: Sequence[str],
    *,
    min_coverage: float = 1.0,
    case_insensitive: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Locate the feature genes in ``expression``.

    Args:
        expression: the data (an :class:`Expression` or a cells source; only its genes are read).
        feature_genes: the model's feature gene names, in column order.
        min_coverage: fraction of feature genes that must be present; 1.0 (the default) makes
            any missing feature gene an error, lower values accept zero-filled columns.
        case_insensitive: match names ignoring case.

    Returns:
        ``(present_columns, rows)``: int64 ``[k]`` positions in ``feature_genes`` that the data
        has, and int64 ``[k]`` their row indices in ``expression``.
    """
    matcher = GeneMatcher(expression.genes, case_insensitive)
    found, missing = matcher.match(feature_genes)
    present_columns = np.flatnonzero(found >= 0)
    rows = found[present_columns]
    coverage = len(rows) / max(len(feature_genes), 1)
    if missing and (min_coverage >= 1.0 or coverage < min_coverage):
        # A spelling fix (case, Ensembl ids) comes before accepting zero columns.
        hint = matcher.missing_hint(missing) or _coverage_hint(coverage, min_coverage)
        raise InputError(
            f"{expression.source}: {len(missing)} of {len(feature_genes)} feature genes of the model "
            f"are missing from the data: {preview(missing)}{hint}"
        )
    return present_columns.astype(np.int64), rows


def _coverage_hint(coverage: float, min_coverage: float) -> str:
    """How to accept zero-filled feature columns, or why the accepted coverage is not met."""
    if min_coverage < 1.0:
        return f" (coverage {coverage:.1%} < required {min_coverage:.1%})"
    if coverage == 0:
        return ""
    # Rounded down, so that the fraction offered is one this data meets.
    offer = math.floor(coverage * 100) / 100
    return (
        f"; coverage {coverage:.1%}: to score with the missing ones as zero columns, pass "
        f"--allow-missing-features {offer:.2f} (min_coverage={offer:.2f})"
    )


def entity_features(
    expressions: Sequence[Modality],
    genes: Sequence[str],
    feature_genes: Sequence[str],
    *,
    min_coverage: float = 1.0,
    case_insensitive: bool = False,
    backend: str = "auto",
    reporter: Reporter | None = None,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Feature tensor of ``genes``: PCC with each feature gene, per modality.

    Args:
        expressions: one modality each, already preprocessed: an :class:`Expression`, a
            :class:`~deeptgi_rt.cells.CellChunks` (streamed chunk by chunk; its ``normalize``
            is the preprocessing) or a :class:`~deeptgi_rt.cells.DaskCells`.
        genes: entity names (TFs or targets); each must be in every modality.
        feature_genes: the model's feature genes.
        min_coverage, case_insensitive: see :func:`feature_gene_columns`.
        backend: PCC backend, ``"auto"``, ``"cpu"`` or ``"cuda"`` (dask modalities run on the CPU
            of the scheduler's workers).
        reporter: receives one warning per modality that has constant entity profiles, and one
            per cells source that left out cells with zero total counts.
        progress: optional ``advance(n)``: for an :class:`Expression`, called as blocks of ``n``
            entities finish (``len(genes)`` per modality); for a cells source, ``len(genes)`` in
            proportion to the cells read, so the total is ``len(genes) * len(expressions)`` either way.

    Returns:
        float32 ``[len(genes), len(expressions), len(feature_genes)]``.
    """
    reporter = reporter or Reporter()
    out = np.zeros((len(genes), len(expressions), len(feature_genes)), dtype=np.float32)
    for modality, expression in enumerate(expressions):
        entity_rows = gene_rows(expression, genes, what="genes", case_insensitive=case_insensitive)
        columns, feature_rows = feature_gene_columns(
            expression, feature_genes, min_coverage=min_coverage, case_insensitive=case_insensitive
        )
        if isinstance(expression, Expression):
            block, constant = _expression_pcc(expression, entity_rows, feature_rows, backend, progress)
        else:
            block, constant = _streamed_pcc(expression, entity_rows, feature_rows, backend, reporter, progress)
        if constant:
            reporter.warn(
                f"{expression.source}: {constant} of {len(genes)} genes have constant expression; "
                "their correlations are set to 0"
            )
        if len(columns) == len(feature_genes):
            out[:, modality, :] = block
        else:
            out[:, modality, columns] = block
    return out


def _expression_pcc(expression: Expression, entity_rows, feature_rows, backend: str, progress):
    """(float32 ``[E, F]`` PCC, number of constant entity genes) of an in-memory modality."""
    entity_values = _take_rows(expression.values, entity_rows)
    # The mask stops at a row's first differing value: nearly free, unlike a full min/max pass.
    constant = int(np.count_nonzero(constant_gene_mask(entity_values)))
    block = pcc_block(entity_values, _take_rows(expression.values, feature_rows), backend=backend, progress=progress)
    return block, constant


def _streamed_pcc(source, entity_rows, feature_rows, backend: str, reporter: Reporter, progress):
    """(float32 ``[E, F]`` PCC, number of constant entity genes) of a cells source, from
    statistics accumulated over its cells."""
    advance = None
    if progress is not None:
        # Entities "finished" in proportion to the cells read: one progress unit for both paths.
        cells = getattr(source, "n_cells", None) or 1
        advance = lambda n: progress(len(entity_rows) * n / cells)  # noqa: E731
    stats = streamed_statistics(source, entity_rows, feature_rows, backend=backend, reporter=reporter, progress=advance)
    constant = int(np.count_nonzero(stats.constant_genes()[entity_rows]))
    return stats.pcc(), constant


def streamed_statistics(
    source: CellChunks | DaskCells,
    entity_rows,
    feature_rows,
    *,
    backend: str = "auto",
    reporter: Reporter | None = None,
    progress: Callable[[float], None] | None = None,
):
    """The :class:`~deeptgi_rt.pcc.streaming.PccStatistics` of every cell of ``source``: chunk by
    chunk in this process (:class:`CellChunks`) or on the active dask scheduler (:class:`DaskCells`).

    Args:
        source: the cells.
        entity_rows, feature_rows: int64 gene positions in ``source.genes``.
        backend: PCC backend for the in-process path (dask blocks run on the workers' CPUs).
        reporter: warned once when cells with zero total counts were left out (counted on
            either path: a :class:`DaskCells` made by :meth:`CellChunks.to_dask` knows its cells).
        progress: optional ``advance(cells)``; called with ``source.n_cells`` cells in all.

    Raises:
        InputError: no cell left to correlate.
    """
    from .pcc import resolve_backend
    from .pcc.streaming import PccStatistics

    reporter = reporter or Reporter()
    advanced = 0
    if isinstance(source, DaskCells):
        from .pcc.dask_reduce import dask_pcc_statistics

        stats = dask_pcc_statistics(source.array, entity_rows, feature_rows)
        n_cells = source.n_cells if source.n_cells is not None else stats.cells
        excluded = n_cells - stats.cells
    else:
        stats = PccStatistics(len(source.genes), entity_rows, feature_rows, backend=resolve_backend(backend))
        for chunk in source:
            stats.add(chunk)
            if progress is not None:
                progress(chunk.shape[0])
            advanced += chunk.shape[0]
        n_cells, excluded = source.n_cells, source.excluded_cells
    if progress is not None and n_cells > advanced:
        progress(n_cells - advanced)  # the dask blocks at once, or the cells left out as zero-count
    if excluded:
        reporter.warn(f"{source.source}: {excluded} of {n_cells} cells have zero total counts; they are left out")
    if stats.cells == 0:
        raise InputError(f"{source.source}: no cells left to correlate")
    return stats


def gene_rows(
    expression: Modality, names: Sequence[str], *, what: str = "genes", case_insensitive: bool = False
) -> np.ndarray:
    """Row indices (int64 ``[len(names)]``) of ``names`` in ``expression``.

    Raises :class:`InputError` naming the file, how many of the ``what`` are missing and the first few.
    """
    matcher = GeneMatcher(expression.genes, case_insensitive)
    rows, missing = matcher.match(names)
    if missing:
        raise InputError(
            f"{expression.source}: {int(np.count_nonzero(rows < 0))} of {len(names)} {what} are not in the data: "
            f"{preview(missing)}{matcher.missing_hint(missing)}"
        )
    return rows


def _take_rows(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``values[rows]``, without the copy when ``rows`` is every row in order (the genome-wide
    case: a copy of all genes would double the memory of the expression matrix)."""
    if len(rows) == len(values) and np.array_equal(rows, np.arange(len(values))):
        return values
    return values[rows]


def pair_pcc(
    expressions: Sequence[Modality],
    tfs: Sequence[str],
    targets: Sequence[str],
    *,
    case_insensitive: bool = False,
    backend: str = "auto",
    reporter: Reporter | None = None,
) -> np.ndarray:
    """PCC of every TF with every target over each modality's cells: the pair feature ``"pcc"``.

    The same correlation as the feature rows (:func:`entity_features`): ``pcc_block`` of the
    preprocessed profiles, a constant profile correlates 0; a cells source is correlated from
    statistics accumulated over its cells. Training (the pairs a model learns from) and scoring
    (the pairs it ranks) both call this, so a pair's input is the same on both sides.

    Args:
        expressions: one modality each, as for :func:`entity_features`.
        tfs, targets: gene names; each must be in every modality.
        case_insensitive, backend, reporter: as for :func:`entity_features`.

    Returns:
        float32 ``[len(tfs), len(targets), len(expressions)]``.
    """
    reporter = reporter or Reporter()
    out = np.zeros((len(tfs), len(targets), len(expressions)), dtype=np.float32)
    for modality, expression in enumerate(expressions):
        tf_rows = gene_rows(expression, tfs, what="TFs", case_insensitive=case_insensitive)
        target_rows = gene_rows(expression, targets, what="targets", case_insensitive=case_insensitive)
        if isinstance(expression, Expression):
            block = pcc_block(
                _take_rows(expression.values, tf_rows), _take_rows(expression.values, target_rows), backend=backend
            )
        else:
            block = streamed_statistics(expression, tf_rows, target_rows, backend=backend, reporter=reporter).pcc()
        out[:, :, modality] = block
    return out


def pair_feature_table(
    expressions: Sequence[Modality],
    tfs: Sequence[str],
    targets: Sequence[str],
    kinds: Sequence[str],
    *,
    case_insensitive: bool = False,
    backend: str = "auto",
    reporter: Reporter | None = None,
) -> np.ndarray:
    """The pair features a model reads (metadata ``pair_features``) for every TF x target.

    Args:
        expressions, tfs, targets, case_insensitive, backend, reporter: as for :func:`pair_pcc`.
        kinds: names from :data:`deeptgi_rt.contract.PAIR_FEATURE_KINDS`, in the model's order.

    Returns:
        float32 ``[len(tfs), len(targets), len(expressions), len(kinds)]``; 4 bytes per pair,
        modality and kind (128 MB for 1,600 TFs x 20,000 genes), never genes x genes.
    """
    from .contract import PAIR_FEATURE_KINDS

    unknown = [kind for kind in kinds if kind not in PAIR_FEATURE_KINDS]
    if unknown:
        raise InputError(f"unknown pair features {unknown}; known: {', '.join(PAIR_FEATURE_KINDS)}")
    pcc = pair_pcc(expressions, tfs, targets, case_insensitive=case_insensitive, backend=backend, reporter=reporter)
    # "pcc" is the only kind so far; each kind is one slice of the last axis.
    return np.ascontiguousarray(np.stack([pcc for _ in kinds], axis=-1))
