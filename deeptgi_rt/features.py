"""PCC feature rows of entities (TFs, target genes) against a model's feature genes.

Training and scoring both build their inputs here, so the features a model was trained on
are exactly the features it is scored on.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from .errors import InputError, preview
from .expression import Expression
from .names import GeneMatcher
from .pcc import constant_gene_mask, pcc_block
from .progress import Reporter


def feature_gene_columns(
    expression: Expression,
    feature_genes: Sequence[str],
    *,
    min_coverage: float = 1.0,
    case_insensitive: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Locate the feature genes in ``expression``.

    Args:
        expression: the data.
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
    return (f"; coverage {coverage:.1%}: to score with the missing ones as zero columns, pass "
            f"--allow-missing-features {offer:.2f} (min_coverage={offer:.2f})")


def entity_features(
    expressions: Sequence[Expression],
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
        expressions: one :class:`Expression` per modality, already preprocessed.
        genes: entity names (TFs or targets); each must be in every modality.
        feature_genes: the model's feature genes.
        min_coverage, case_insensitive: see :func:`feature_gene_columns`.
        backend: PCC backend, ``"auto"``, ``"cpu"`` or ``"cuda"``.
        reporter: receives one warning per modality that has constant entity profiles.
        progress: optional ``advance(n)``, called as blocks of ``n`` entities finish in each
            modality (``len(genes) * len(expressions)`` in all).

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
        entity_values = _take_rows(expression.values, entity_rows)
        # The mask stops at a row's first differing value: nearly free, unlike a full min/max pass.
        constant = int(np.count_nonzero(constant_gene_mask(entity_values)))
        if constant:
            reporter.warn(
                f"{expression.source}: {constant} of {len(genes)} genes have constant expression; "
                "their correlations are set to 0"
            )
        block = pcc_block(entity_values, _take_rows(expression.values, feature_rows), backend=backend,
                          progress=progress)
        if len(columns) == len(feature_genes):
            out[:, modality, :] = block
        else:
            out[:, modality, columns] = block
    return out


def gene_rows(
    expression: Expression, names: Sequence[str], *, what: str = "genes", case_insensitive: bool = False
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
