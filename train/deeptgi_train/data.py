"""Training data: expression modalities, feature genes, and the pair data set.

Features come only from :func:`deeptgi_rt.features.entity_features`, the code the scorer
uses, so a trained model sees exactly the inputs it will be scored on. They are computed
once per distinct gene; a pair is a pair of row indices into that entity tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from deeptgi_rt.errors import InputError, preview
from deeptgi_rt.expression import Expression, read_expression
from deeptgi_rt.features import entity_features
from deeptgi_rt.names import GeneMatcher, shared_genes
from deeptgi_rt.progress import Reporter

from .labels import CONCENTRATION_SHARE, LabelledPairs


@dataclass
class ExpressionData:
    """The expression modalities of a training run and the model's feature genes.

    Attributes:
        expressions: one per modality, preprocessed: an :class:`Expression`, or for the
            single-cell modality a :class:`~deeptgi_rt.cells.CellChunks` read a chunk of cells at
            a time (as ``deeptgi-rt score`` reads the same file, see :mod:`deeptgi_rt.sources`).
        modalities: ``["single_cell"]`` or ``["single_cell", "bulk"]``.
        preprocessing: per modality, the transform applied (``"none"``, ``"log1p"`` or
            ``"normalize_total_log1p"``), which the runtime applies again when scoring.
        feature_genes: feature gene names, in single-cell order.
        genes: genes present in every modality (candidate TFs and targets), single-cell order.
        expression_transform: per modality, what the training values were (the model
            contract's ``expression_transform``): the transform applied, or for none ``"raw_counts"``
            when the values looked like raw counts and ``"none"`` otherwise.
    """

    expressions: list[Expression]
    modalities: list[str]
    preprocessing: list[str]
    feature_genes: list[str]
    genes: list[str]
    expression_transform: list[str] | None = None

    @property
    def sources(self) -> list[str]:
        return [expression.source for expression in self.expressions]


def _read_modality(
    path: str | Path, layout: str, transform: str, case_insensitive: bool, reporter: Reporter, layer: str | None = None
):
    """The modality read and transformed, and its ``expression_transform`` (raw-looking counts
    read untransformed are warned about, as when scoring). An h5ad/zarr/Parquet file with
    ``layer`` or ``transform="normalize_total_log1p"`` is opened for reading a chunk of cells
    at a time, the way ``deeptgi-rt score`` reads it, so the features agree with scoring's."""
    from deeptgi_rt.expression import looks_like_counts, raw_counts_hint
    from deeptgi_rt.sources import NORMALIZE_OF_TRANSFORM, sample_expression, streamable

    if layer is not None or (transform == "normalize_total_log1p" and streamable(path)):
        from deeptgi_rt.cells import open_cells

        if layout != "auto" or not streamable(path):
            raise InputError(
                f"{path}: --layer and --normalize total read an h5ad/zarr/Parquet file a chunk of "
                "cells at a time (cells as rows): drop --layout, or give such a file"
            )
        expression = open_cells(path, layer=layer, normalize=NORMALIZE_OF_TRANSFORM[transform])
    else:
        expression = read_expression(path, layout=layout, transform=transform, case_insensitive=case_insensitive)
    if transform != "none":
        return expression, transform
    if looks_like_counts(sample_expression(expression, transform).values):
        reporter.warn(raw_counts_hint(expression) + " (the model then expects raw counts too)")
        return expression, "raw_counts"
    return expression, "none"


def load_expression_data(
    expr: str | Path,
    bulk: str | Path | None = None,
    *,
    layout: str = "auto",
    bulk_layout: str = "auto",
    log1p: bool = False,
    bulk_log1p: bool = False,
    feature_genes_file: str | Path | None = None,
    case_insensitive: bool = False,
    reporter: Reporter | None = None,
    transform: str = "none",
    bulk_transform: str = "none",
    layer: str | None = None,
) -> ExpressionData:
    """Read the single-cell (and optional bulk) expression and choose the feature genes.

    Feature genes are all genes of the single-cell data, or those listed in
    ``feature_genes_file``; with bulk data only genes present in both modalities are kept (in
    single-cell order, the count dropped is reported). With ``case_insensitive`` the bulk and
    list names are matched ignoring case and spelled as in the single-cell data. ``transform``
    / ``bulk_transform`` (``"log1p"``, ``"normalize_total_log1p"``; ``log1p`` / ``bulk_log1p``
    are the older flags for ``"log1p"``) transform raw counts first. ``layer``: read the
    single-cell h5ad/zarr's ``layers/<layer>`` instead of X.
    """
    from deeptgi_rt.expression import combined_transform

    reporter = reporter or Reporter()
    preprocessing = [combined_transform(transform, log1p)]
    modalities = ["single_cell"]
    if bulk is not None:
        preprocessing.append(combined_transform(bulk_transform, bulk_log1p))
        modalities.append("bulk")
    read = [
        _read_modality(path, how, prep, case_insensitive, reporter, layer=layer if modality == 0 else None)
        for modality, (path, how, prep) in enumerate(zip((expr, bulk), (layout, bulk_layout), preprocessing))
    ]
    expressions = [expression for expression, _ in read]
    expression_transform = [trained_on for _, trained_on in read]

    sc_genes = expressions[0].genes
    genes = shared_genes(
        [e.genes for e in expressions], case_insensitive=case_insensitive, sources=[e.source for e in expressions]
    )
    if bulk is not None:
        if len(genes) < len(sc_genes):
            reporter.info(f"{len(genes)} of {len(sc_genes)} single-cell genes are also in {bulk}; only those are used")
        if case_insensitive:
            # Entity lookup is exact by default: spell bulk genes as in the single-cell data.
            spelling = GeneMatcher(sc_genes, case_insensitive=True)
            bulk_expr = expressions[1]
            expressions[1] = Expression(
                genes=[spelling.spelling(name) or name for name in bulk_expr.genes],
                values=bulk_expr.values,
                source=bulk_expr.source,
                cells=bulk_expr.cells,
            )

    if feature_genes_file is None:
        feature_genes = list(genes)
    else:
        from deeptgi_rt.genes import read_gene_list

        listed = read_gene_list(feature_genes_file)
        matcher = GeneMatcher(genes, case_insensitive)
        rows, absent = matcher.match(listed)
        feature_genes = list(dict.fromkeys(genes[row] for row in rows if row >= 0))
        if not feature_genes:
            raise InputError(
                f"{feature_genes_file}: none of the {len(listed)} feature genes are in the expression data"
                f"{matcher.missing_hint(absent)}"
            )
        if absent:
            reporter.warn(
                f"{feature_genes_file}: {int(np.count_nonzero(rows < 0))} of {len(listed)} feature genes are not "
                f"in every expression modality and are left out: {preview(absent)}"
            )
    return ExpressionData(
        expressions=expressions,
        modalities=modalities,
        preprocessing=preprocessing,
        feature_genes=feature_genes,
        genes=genes,
        expression_transform=expression_transform,
    )


def canonical_pair_names(pairs: LabelledPairs, genes: Sequence[str]) -> LabelledPairs:
    """Respell the pairs' gene names as in ``genes`` where they match ignoring case."""
    matcher = GeneMatcher(genes, case_insensitive=True)
    return LabelledPairs(
        tfs=[matcher.spelling(name) or name for name in pairs.tfs],
        targets=[matcher.spelling(name) or name for name in pairs.targets],
        labels=pairs.labels,
        source=pairs.source,
        had_labels=pairs.had_labels,
        notes=list(pairs.notes),
    )


@dataclass
class PairDataset:
    """Labelled pairs as indices into one entity feature tensor.

    A *genome* data set (:func:`build_pair_dataset` with ``genome=True``) holds every gene of
    the data as an entity and, after the file's pairs, every other TF x gene candidate of the
    labelled TFs as an unlabelled pair (label 0, ``labelled`` False): the pairs ``score`` will
    rank, from which training draws its negatives (:mod:`deeptgi_train.genome`).

    Attributes:
        features: float32 ``[entities, modalities, feature_genes]``, one row per distinct gene.
        entities: gene name of each feature row.
        tf_idx: int64 ``[pairs]``, the TF's row in ``features``.
        gene_idx: int64 ``[pairs]``, the target's row in ``features``.
        labels: float32 ``[pairs]``, 1 = interaction.
        feature_genes: the feature gene names (columns of ``features``).
        labelled: bool ``[pairs]``, whether the pair came from the label file (or was added as a
            labelled negative); ``None``: all of them did.
        pcc_grid: float32 ``[grid TFs, entities, modalities]``, the PCC of each grid TF with every
            entity (the pair feature ``"pcc"``, :func:`deeptgi_rt.features.pair_pcc`), or ``None``.
        grid_row: int64 ``[entities]``, each entity's row in ``pcc_grid`` (-1: not a grid TF).
    """

    features: np.ndarray
    entities: list[str]
    tf_idx: np.ndarray
    gene_idx: np.ndarray
    labels: np.ndarray
    feature_genes: list[str]
    labelled: np.ndarray | None = None
    pcc_grid: np.ndarray | None = None
    grid_row: np.ndarray | None = None

    def is_labelled(self) -> np.ndarray:
        """bool ``[pairs]``: the pairs from the label file (see :attr:`labelled`)."""
        return np.ones(len(self), dtype=bool) if self.labelled is None else self.labelled

    @property
    def has_pair_features(self) -> bool:
        return self.pcc_grid is not None

    def pair_values(self, tf_rows: np.ndarray, gene_rows: np.ndarray) -> np.ndarray:
        """Pair features of the entity pairs ``(tf_rows[i], gene_rows[i])`` (int ``[n]`` each):
        float32 ``[n, modalities, 1]``, their PCC per modality (the contract's ``pair_features``).

        PCC is symmetric, so a pair whose first entity is no grid TF (a swapped copy) is read
        from its second entity's row. Raises ``ValueError`` without a grid or when neither
        entity of a pair is a grid TF.
        """
        if self.pcc_grid is None or self.grid_row is None:
            raise ValueError("this data set has no pair features (no PCC grid)")
        tf_rows, gene_rows = np.asarray(tf_rows, dtype=np.int64), np.asarray(gene_rows, dtype=np.int64)
        rows = self.grid_row[tf_rows]
        columns = gene_rows.copy()
        swapped = rows < 0
        if swapped.any():
            rows[swapped], columns[swapped] = self.grid_row[gene_rows[swapped]], tf_rows[swapped]
            if (rows < 0).any():
                raise ValueError("a pair has no grid TF on either side")
        return self.pcc_grid[rows, columns][:, :, None]

    def pair_inputs(self, idx: np.ndarray) -> np.ndarray | None:
        """Pair features of the pairs ``idx`` (int ``[b]``), float32 ``[b, modalities, 1]``, or
        ``None`` for a data set without them."""
        if self.pcc_grid is None:
            return None
        return self.pair_values(self.tf_idx[idx], self.gene_idx[idx])

    def __len__(self) -> int:
        return int(self.tf_idx.shape[0])

    @property
    def n_modalities(self) -> int:
        return int(self.features.shape[1])

    @property
    def n_feature_genes(self) -> int:
        return int(self.features.shape[2])

    def pair_tfs(self) -> np.ndarray:
        """TF name of each pair, object ``[pairs]``."""
        return np.asarray(self.entities, dtype=object)[self.tf_idx]

    def pair_targets(self) -> np.ndarray:
        """Target name of each pair, object ``[pairs]``."""
        return np.asarray(self.entities, dtype=object)[self.gene_idx]

    def inputs(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Model inputs of the pairs ``idx`` (int ``[b]``): TF and gene features, float32 ``[b, M, F]`` each."""
        return self.features[self.tf_idx[idx]], self.features[self.gene_idx[idx]]

    def flat_inputs(self, idx: np.ndarray | None = None) -> np.ndarray:
        """Concatenated, flattened TF and gene features, then the pair features when the data set
        has them: float32 ``[b, 2 * M * F (+ M)]`` (for baselines, so they see what the network sees)."""
        idx = np.arange(len(self)) if idx is None else idx
        tf, gene = self.inputs(idx)
        parts = [tf.reshape(len(idx), -1), gene.reshape(len(idx), -1)]
        pair = self.pair_inputs(idx)
        if pair is not None:
            parts.append(pair.reshape(len(idx), -1))
        return np.concatenate(parts, axis=1)


def build_pair_dataset(
    data: ExpressionData,
    pairs: LabelledPairs,
    *,
    case_insensitive: bool = False,
    reporter: Reporter | None = None,
    genome: bool = False,
) -> PairDataset:
    """Compute entity features once per distinct gene of ``pairs`` and index the pairs into them.

    ``pairs`` must only name genes of ``data.genes`` (see
    :func:`deeptgi_train.labels.drop_unknown_genes`). The PCC of every labelled TF with every
    entity is computed too (``pcc_grid``: the pair feature ``"pcc"``, a TFs x entities block),
    so that any config can read it. With ``genome``, every gene of the data is an entity and
    every TF x gene candidate of the labelled TFs that the file does not label (self pairs
    excluded) is appended as an unlabelled pair with label 0.
    """
    entities = list(dict.fromkeys(pairs.tfs + pairs.targets))
    if genome:
        entities = list(dict.fromkeys(entities + list(data.genes)))
    row = {name: i for i, name in enumerate(entities)}
    features = entity_features(
        data.expressions, entities, data.feature_genes, case_insensitive=case_insensitive, reporter=reporter
    )
    tf_idx = np.fromiter((row[name] for name in pairs.tfs), dtype=np.int64, count=len(pairs))
    gene_idx = np.fromiter((row[name] for name in pairs.targets), dtype=np.int64, count=len(pairs))
    dataset = PairDataset(
        features=np.ascontiguousarray(features, dtype=np.float32),
        entities=entities,
        tf_idx=tf_idx,
        gene_idx=gene_idx,
        labels=pairs.labels.astype(np.float32),
        feature_genes=list(data.feature_genes),
    )
    if genome:
        return with_genome_candidates(dataset, data, case_insensitive=case_insensitive, reporter=reporter)
    grid, grid_row, _ = _tf_pcc_grid(dataset, data, case_insensitive, reporter)
    return replace(dataset, pcc_grid=grid, grid_row=grid_row)


def _tf_pcc_grid(dataset: PairDataset, data: ExpressionData, case_insensitive: bool, reporter: Reporter | None):
    """``(pcc_grid float32 [TFs, entities, modalities], grid_row int64 [entities], tf_rows int64
    [TFs])`` of the dataset's TFs in first-seen order."""
    from deeptgi_rt.features import pair_pcc as tf_target_pcc

    tf_rows = np.unique(dataset.tf_idx, return_index=True)
    tf_rows = tf_rows[0][np.argsort(tf_rows[1])]
    grid = tf_target_pcc(
        data.expressions,
        [dataset.entities[row] for row in tf_rows],
        dataset.entities,
        case_insensitive=case_insensitive,
        reporter=reporter,
    )
    grid_row = np.full(len(dataset.entities), -1, dtype=np.int64)
    grid_row[tf_rows] = np.arange(len(tf_rows))
    return np.ascontiguousarray(grid, dtype=np.float32), grid_row, tf_rows


def with_genome_candidates(
    dataset: PairDataset, data: ExpressionData, *, case_insensitive: bool = False, reporter: Reporter | None = None
) -> PairDataset:
    """``dataset`` (whose entities are every gene of ``data``) with its TFs' PCC grid and every
    unlabelled TF x entity candidate appended (label 0, ``labelled`` False), self pairs excluded.

    Candidates come TF by TF in the TFs' first-seen order, each TF's genes in entity order, so
    the index of a candidate depends only on the labels and the genes, never on a seed.
    """
    n_entities = len(dataset.entities)
    grid, grid_row, tf_rows = _tf_pcc_grid(dataset, data, case_insensitive, reporter)
    taken = np.zeros((len(tf_rows), n_entities), dtype=bool)
    taken[grid_row[dataset.tf_idx], dataset.gene_idx] = True
    taken[np.arange(len(tf_rows)), tf_rows] = True
    grid_rows, new_genes = np.nonzero(~taken)
    return replace(
        dataset,
        tf_idx=np.r_[dataset.tf_idx, tf_rows[grid_rows]].astype(np.int64),
        gene_idx=np.r_[dataset.gene_idx, new_genes].astype(np.int64),
        labels=np.r_[dataset.labels, np.zeros(len(new_genes), dtype=np.float32)].astype(np.float32),
        labelled=np.r_[dataset.is_labelled(), np.zeros(len(new_genes), dtype=bool)],
        pcc_grid=grid,
        grid_row=grid_row,
    )


def pair_pcc(dataset: PairDataset) -> np.ndarray:
    """PCC between each pair's TF and target in the first modality, float32 ``[pairs]``.

    Read from the TF's feature row at the target's column; NaN where the target is not a
    feature gene.
    """
    column = {name: j for j, name in enumerate(dataset.feature_genes)}
    target_column = np.array([column.get(name, -1) for name in dataset.pair_targets()], dtype=np.int64)
    out = np.full(len(dataset), np.nan, dtype=np.float32)
    known = target_column >= 0
    out[known] = dataset.features[dataset.tf_idx[known], 0, target_column[known]]
    return out


def _report_negatives(pairs: LabelledPairs, n_genes: int, negatives: str, reporter: Reporter) -> None:
    """Say how the file's negatives cover the genes, and warn when they are concentrated."""
    from .labels import diagnose_negatives

    diagnosis = diagnose_negatives(pairs, n_genes)
    if not diagnosis.negatives:
        return
    line = diagnosis.describe(pairs.source)
    pairs.notes.append(line)
    if not diagnosis.concentrated:
        reporter.info(line)
        return
    if negatives == "genome":
        action = (
            "this run fits the positives against unlabelled TF x gene pairs of the data instead and treats the "
            "file's negatives as unlabelled pairs (--negatives genome, the default)"
        )
    elif negatives in ("file", "none"):
        action = (
            "with --negatives file the model learns which genes are labelled non-targets and ranks the rest of "
            "the genome high; drop --negatives file to draw negatives from the whole genome"
        )
    else:
        action = f"--negatives {negatives} adds non-edges, but the file's own negatives stay"
    reporter.warn(f"{line}: concentrated on few targets (share < {CONCENTRATION_SHARE}); {action}")


@dataclass
class TrainingSet:
    """Everything a training run reads: the expression data, the labelled pairs and their features."""

    data: ExpressionData
    pairs: LabelledPairs
    dataset: PairDataset


def load_training_set(
    expr: str | Path,
    labels: str | Path,
    *,
    bulk: str | Path | None = None,
    layout: str = "auto",
    bulk_layout: str = "auto",
    log1p: bool = False,
    bulk_log1p: bool = False,
    feature_genes_file: str | Path | None = None,
    tfs_file: str | Path | None = None,
    negatives: str = "genome",
    case_insensitive: bool = False,
    seed: int = 0,
    reporter: Reporter | None = None,
    transform: str = "none",
    bulk_transform: str = "none",
    layer: str | None = None,
) -> TrainingSet:
    """Read labels and expression, drop pairs with unknown genes, add negatives, compute features.

    Steps, in order: read and check the label file; restrict to the TFs of ``tfs_file``; read
    the expression modalities; drop (and report) pairs whose genes are not in every modality;
    diagnose the file's negatives (:func:`~deeptgi_train.labels.diagnose_negatives`: a warning
    when they sit on few targets); add negatives (``balanced`` or ``all``, seeded; ``genome``,
    the default, keeps every unlabelled TF x gene candidate of the labelled TFs for training to
    draw from, :mod:`deeptgi_train.genome`); check that both classes can be formed; compute the
    entity features once per distinct gene (every gene of the data for ``genome``).
    """
    from .labels import (
        add_negatives,
        check_trainable,
        drop_unknown_genes,
        read_labels,
        restrict_tfs,
    )

    reporter = reporter or Reporter()
    pairs = read_labels(labels, reporter=reporter)
    if tfs_file is not None:
        from deeptgi_rt.genes import read_gene_list

        pairs = restrict_tfs(pairs, read_gene_list(tfs_file), source=str(tfs_file))
    if negatives in ("none", "file") and not pairs.had_labels:
        check_trainable(pairs)
    data = load_expression_data(
        expr,
        bulk,
        layout=layout,
        bulk_layout=bulk_layout,
        log1p=log1p,
        bulk_log1p=bulk_log1p,
        feature_genes_file=feature_genes_file,
        case_insensitive=case_insensitive,
        reporter=reporter,
        transform=transform,
        bulk_transform=bulk_transform,
        layer=layer,
    )
    if case_insensitive:
        pairs = canonical_pair_names(pairs, data.genes)
    sources = " and ".join(data.sources)
    pairs = drop_unknown_genes(pairs, data.genes, data_source=sources, reporter=reporter)
    _report_negatives(pairs, len(data.genes), negatives, reporter)
    pairs = add_negatives(pairs, data.genes, negatives, seed=seed, reporter=reporter)
    genome = negatives == "genome"
    if genome:
        if not (pairs.labels == 1).any():
            check_trainable(pairs)
    else:
        check_trainable(pairs)
    dataset = build_pair_dataset(data, pairs, reporter=reporter, genome=genome)
    candidates = len(dataset) - len(pairs)
    reporter.info(
        f"{len(pairs)} labelled pairs ({int(pairs.labels.sum())} positive) over {len(pairs.tf_names)} TFs"
        + (f" and {candidates:,} unlabelled TF x gene candidates to draw negatives from" if genome else "")
        + f"; {len(dataset.entities)} distinct genes x {len(data.feature_genes)} feature genes x "
        f"{len(data.modalities)} modalities"
    )
    return TrainingSet(data=data, pairs=pairs, dataset=dataset)
