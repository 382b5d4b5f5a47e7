"""What a scoring run will cost, estimated before any heavy work from the sizes alone.

:func:`estimate` is a pure function of :class:`PlanInputs` (cells, genes, stored entries, TFs,
targets, pairs, chunking) and per-unit costs measured on one thread; ``deeptgi-rt score --plan``
prints it, and every run's summary shows it beside the measured stage times and peak memory.

The costs are CPU seconds of one thread of the 2-core AMD EPYC development machine (the one of
``benchmarks/results/atlas.md``); other machines scale them, and a loaded machine stretches wall
time beyond CPU time. Stages are those of :data:`deeptgi_rt.summary.STAGES`. Each stage has a
fixed cost besides the per-unit ones (importing its libraries, loading numba's cached kernels,
the first runs of a session), which is all there is on small data: ``load`` is a fresh
``deeptgi-rt score`` process's start-up and model loading (a program that scores twice with
one loaded model pays it once), and the estimate as a whole is the wall time of that command.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# ---- fixed costs of a fresh `deeptgi-rt score` process, seconds (benchmarks/plan_small.py on
# examples/; benchmarks/results/plan_small.json). Measured on the Quick start with the machine
# nearly quiet (load 1.4): 2.5 s wall, of which the summary's stages 1.7 s (load 0.74, read 0.13,
# pcc 0.40, encode 0.06, score 0.35) and 0.8 s around them.
# Interpreter and imports (numpy, onnx, onnxruntime), the model parsed, cut at its state tensors
# and three sessions created, and the process's exit (numba's and onnxruntime's teardown, 0.3 s):
# what is left of the 2.5 s once the other stages and the model's size are counted, set a little
# above (1.4 s, not 1.2 s) since the probe-free plan of that run came to 0.73-0.77x its wall.
STARTUP_SECONDS = 1.4
# Parsing, shape inference and the sessions grow with the model: 3.0 MB (mhsc-e-lite) and 5.4 MB
# (mdc-lite, 5 members each).
LOAD_PER_MODEL_BYTE = 4.0e-8
# Reading: polars / pyarrow imported and the file opened; an h5ad or zarr store imports anndata,
# h5py and scipy besides (the read stage of examples/mhsc-e as h5ad took 0.85 s against 0.25 s
# as Parquet on the loaded machine, about 0.6 s against 0.15 s quiet).
READ_FIXED = {"parquet": 0.13, "delimited": 0.15, "anndata": 0.55, "memory": 0.0}
# A pairs file (--pairs) read and its names looked up: the read stage of examples/mdc.parquet
# with --pairs took 0.6 s more than without, loaded.
PAIRS_FIXED = 0.4
# numba imported and its cached PCC kernels loaded (the first kernel call loads numba's
# registries, which import scipy.linalg): 0.4 s whatever the size, 0.01 s in a second run.
PCC_FIXED = 0.4
# The first encoder and head runs of new sessions (onnxruntime allocates and plans), selection set up.
ENCODE_FIXED = 0.03
SCORE_FIXED = 0.05
WRITE_FIXED = 0.01
# Members of a cross-fitted ensemble (metadata config.members) each run their own pair head: 5
# members took 4.73x one network's head time on the same pairs (README, benchmarks/score.py).
# Used when the model's own pair step was not timed (PlanInputs.pair_seconds 0).
MEMBER_HEAD_COST = (4.73 - 1) / 4
# The pair step is timed (~0.1-0.2 s, PlanInputs.pair_seconds) only for runs whose scoring the
# default cost puts above this: below, the probe would cost a large part of what it predicts.
TIME_PAIRS_ABOVE_SECONDS = 1.0
# Beyond the timed pair step (rows broadcast into the batch, the head run), per pair: the TF's
# scores collected, self pairs dropped, top-k or threshold selection, the edge block.
SELECT_PER_PAIR = 0.2e-6

# ---- per-unit costs, CPU seconds of one thread
# Streamed read + check + normalize total, per value stored in the file (CSR h5ad, 6 % dense):
# 1.2 s CPU for 60.2 M entries at 50,000 cells (benchmarks/results/atlas.md, stats stage).
READ_PER_STORED = 2.0e-8
# Whole-matrix read of an h5ad into dense float32 genes x cells and its normalization, per
# cell x gene: 42.7 s wall for 50,000 x 20,000 (atlas.md, dense path, load average 8 on 2 cores,
# so about half of that is this process's CPU).
READ_DENSE_PER_VALUE = 2.1e-8
# Sparse statistics kernel, per stored entity entry x feature gene: 10.9 s for 60.2 M x 1,000
# at 50,000 cells (atlas.md); the BLAS path (chunks at >= DENSIFY_DENSITY), per cell x entity x
# feature: 1.27x a bare GEMM of 0.42 s for 1,024 x 20,000 x 1,000 (atlas.md sweep, dense input).
STATS_SPARSE_PER_ENTRY_FEATURE = 1.8e-10
STATS_BLAS_PER_CELL_PAIR = 2.6e-11
# Whole-matrix pcc_block, per cell x entity x feature: 25.6 s CPU at 50,000 x 20,000 x 1,000.
PCC_DENSE_PER_CELL_PAIR = 2.6e-11
# Forming the PCC block from the statistics, per entity x feature: 0.3 s for 20,000 x 1,000.
FINISH_PER_PAIR = 1.5e-11
# The rest from benchmarks/plan_costs.py (benchmarks/results/plan_costs.json): `score` runs on
# 5,000 cells x 20,000 genes, lite with 1,000 feature genes, 1,600 TFs x all genes (32 M pairs),
# stage clocks on process CPU time. Encoders, per entity x feature gene: 0.45-0.49 s for
# 21,600 entities.
ENCODE_PER_ENTITY_FEATURE = 2.2e-8
# Pair head + selection, per pair: 67.3 s (--top-k 100) and 71.9 s (every pair kept).
SCORE_PER_PAIR = 2.2e-6
# Writing edges to Parquet, per edge written: 7.7 s for 32 M edges sorted in memory, 3.6 s for
# the same streamed per TF (beyond max_sort_edges).
WRITE_PER_EDGE_SORTED = 2.4e-7
WRITE_PER_EDGE_STREAMED = 1.1e-7

# ---- memory, bytes
# Python, numpy, numba, onnxruntime, pyarrow and the lite model loaded: the 653 MiB peak of the
# --top-k 100 run less its statistics stage as modelled below (305 MiB).
BASELINE_BYTES = 350 * 2**20
# Edges held and sorted globally by score: the 32 M-edge sorted run peaked at 1,665 MiB, 1,315 MiB
# above the baseline, 43 bytes per edge (EdgeBlock 12 B, sort order 8 B, the sorted copy 12 B,
# the Arrow batch written from it 12 B).
SORTED_EDGE_BYTES = 43
# Whole-matrix path: float32 values and the transient copies of reading (1.3x measured at
# 50,000 x 20,000, atlas.md).
DENSE_READ_FACTOR = 1.3


@dataclass(frozen=True)
class PlanInputs:
    """The sizes a run's cost depends on.

    Attributes:
        cells, genes: the expression's shape (cells before any are left out).
        stored_entries: values stored in the file (non-zeros of a sparse matrix).
        sparse: the stored matrix is sparse.
        streamed: the cells are read a chunk at a time (else the matrix is read whole).
        chunk_cells: cells per chunk (streamed runs).
        entities: genes whose features are computed (TFs and targets, each once).
        features: the model's feature genes.
        tfs, targets: TFs and targets taking part.
        pairs: pairs the model scores.
        edges: edges written at most (after top k).
        sort_globally: the edges are sorted in memory before writing.
        densify_density: chunks at or above this fraction of non-zeros go through BLAS.
        pair_columns: values per pair of the model's pair features (kinds x modalities; 0 for a
            model without them): a TFs x targets table of them is computed and held.
        members: networks averaged in the model's pair head (metadata ``config.members``).
        model_bytes: the model file's size.
        reader: how the expression is read, for its fixed cost: a key of :data:`READ_FIXED`.
        pairs_file: the pairs come from a file (``--pairs``).
        pair_seconds: the model's pair step timed on this machine, seconds per pair
            (:meth:`deeptgi_rt.model.ScoringModel.pair_seconds`); 0: not timed, the scoring
            cost is then :data:`SCORE_PER_PAIR` per member.
    """

    cells: int
    genes: int
    stored_entries: int
    sparse: bool
    streamed: bool
    chunk_cells: int
    entities: int
    features: int
    tfs: int
    targets: int
    pairs: int
    edges: int
    sort_globally: bool
    densify_density: float = 0.18
    pair_columns: int = 0
    members: int = 1
    model_bytes: int = 0
    reader: str = "memory"
    pairs_file: bool = False
    pair_seconds: float = 0.0


@dataclass(frozen=True)
class RunPlan:
    """A run's estimated cost: ``inputs``, wall ``seconds`` per stage (as CPU seconds of one
    thread), ``peak_bytes`` of resident memory and ``stage_bytes`` above the baseline per stage."""

    inputs: PlanInputs
    seconds: dict[str, float]
    peak_bytes: int
    stage_bytes: dict[str, int]

    @property
    def total_seconds(self) -> float:
        """Sum of the stage estimates."""
        return float(sum(self.seconds.values()))


def estimate(inputs: PlanInputs) -> RunPlan:
    """Estimated seconds per stage and peak memory of a run of these sizes (a pure function).

    Returns:
        A :class:`RunPlan` with ``seconds`` for ``load``, ``read``, ``pcc``, ``encode``, ``score``,
        ``write``: each stage's fixed cost plus its per-unit costs.
    """
    p = inputs
    density = p.stored_entries / max(p.cells * p.genes, 1)
    entity_share = p.entities / max(p.genes, 1)
    ef = p.entities * p.features
    if p.streamed:
        read = READ_PER_STORED * p.stored_entries
        if p.sparse and density < p.densify_density:
            products = STATS_SPARSE_PER_ENTRY_FEATURE * p.stored_entries * entity_share * p.features
        else:
            products = STATS_BLAS_PER_CELL_PAIR * p.cells * ef
        pcc = products + FINISH_PER_PAIR * ef
    else:
        read = READ_DENSE_PER_VALUE * p.cells * p.genes
        pcc = PCC_DENSE_PER_CELL_PAIR * p.cells * ef
    pair_table = p.tfs * p.targets * p.pair_columns
    # The pair PCC is one more correlation block, TFs x targets per modality, at the dense rate.
    pcc += PCC_DENSE_PER_CELL_PAIR * p.cells * pair_table
    if p.pair_seconds > 0:
        per_pair = p.pair_seconds + SELECT_PER_PAIR
    else:
        per_pair = default_pair_cost(p.members)
    seconds = {
        "load": STARTUP_SECONDS + LOAD_PER_MODEL_BYTE * p.model_bytes,
        "read": READ_FIXED.get(p.reader, READ_FIXED["parquet"]) + (PAIRS_FIXED if p.pairs_file else 0.0) + read,
        "pcc": PCC_FIXED + pcc,
        "encode": ENCODE_FIXED + ENCODE_PER_ENTITY_FEATURE * (p.tfs + p.targets) * p.features,
        "score": SCORE_FIXED + per_pair * p.pairs,
        "write": WRITE_FIXED + (WRITE_PER_EDGE_SORTED if p.sort_globally else WRITE_PER_EDGE_STREAMED) * p.edges,
    }
    stage_bytes = {
        "pcc": _pcc_bytes(p, density),
        "encode": 4 * ef * 2 + 4 * pair_table,
        "write": SORTED_EDGE_BYTES * p.edges if p.sort_globally else 12 * min(p.edges, 8 * 2**20),
    }
    return RunPlan(p, seconds, BASELINE_BYTES + max(stage_bytes.values()), stage_bytes)


def default_pair_cost(members: int) -> float:
    """Seconds per pair of scoring when the model's pair step is not timed: :data:`SCORE_PER_PAIR`
    (the benchmark's one lite network) for each of ``members`` networks."""
    return SCORE_PER_PAIR * (1 + MEMBER_HEAD_COST * (max(int(members), 1) - 1))


def worth_timing_pairs(pairs: int, members: int) -> bool:
    """Whether a run of ``pairs`` pairs should time the model's pair step for its plan: when its
    scoring, at :func:`default_pair_cost`, exceeds :data:`TIME_PAIRS_ABOVE_SECONDS`."""
    return default_pair_cost(members) * pairs > TIME_PAIRS_ABOVE_SECONDS


def plan_run(
    expressions,
    streamed: list[bool] | None,
    request,
    *,
    features: int,
    tfs: int,
    targets: int,
    entities: int,
    pairs: int,
    edges: int,
    pair_columns: int = 0,
    members: int = 1,
    model_bytes: int = 0,
    pair_seconds: float = 0.0,
):
    """The :class:`RunPlan` of a run from its opened modalities (the first, single-cell one, sets
    the reading and statistics costs) and its counts; ``streamed``: whether each modality is
    streamed (``None``: as opened, a cells source streams); ``members``, ``model_bytes`` and
    ``pair_seconds`` as in :class:`PlanInputs`."""
    from .expression import Expression
    from .pcc.streaming import DENSIFY_DENSITY

    data = expressions[0]
    is_streamed = streamed[0] if streamed is not None else not isinstance(data, Expression)
    if isinstance(data, Expression):
        cells, stored, sparse, chunk = data.n_cells, data.n_cells * len(data.genes), False, data.n_cells
    else:
        cells = data.n_cells if data.n_cells is not None else data.array.shape[0]
        cells = int(cells) if cells == cells else 0  # a dask array of unknown length: no estimate of its cells
        stored = int(getattr(data, "stored_entries", 0) or cells * len(data.genes))
        sparse, chunk = bool(getattr(data, "sparse", False)), int(getattr(data, "chunk_cells", 0) or cells)
    return estimate(
        PlanInputs(
            cells=cells,
            genes=len(data.genes),
            stored_entries=stored,
            sparse=sparse,
            streamed=is_streamed,
            chunk_cells=chunk,
            entities=entities,
            features=features,
            tfs=tfs,
            targets=targets,
            pairs=int(pairs),
            edges=int(edges),
            sort_globally=edges <= request.max_sort_edges,
            densify_density=DENSIFY_DENSITY,
            pair_columns=int(pair_columns),
            members=int(members),
            model_bytes=int(model_bytes),
            reader=reader_kind(request.modalities[0]),
            pairs_file=isinstance(request.pairs, (str, os.PathLike)),
            pair_seconds=float(pair_seconds),
        )
    )


def reader_kind(data) -> str:
    """The :data:`READ_FIXED` key of an expression input: a file's kind by its name, or
    ``"memory"`` for a table or array already in memory."""
    if not isinstance(data, (str, os.PathLike)):
        return "memory"
    name = str(data).lower().rstrip("/\\")
    if name.endswith((".h5ad", ".zarr")):
        return "anndata"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    return "delimited"


def _pcc_bytes(p: PlanInputs, density: float) -> int:
    """Memory of the features stage above the baseline."""
    ef = p.entities * p.features
    # The features array, the PCC block and (streamed) the float64 products live together.
    held = 4 * ef + 4 * ef
    if not p.streamed:
        return held + int(DENSE_READ_FACTOR * 4 * p.cells * p.genes)
    k = min(p.chunk_cells, p.cells)
    if p.sparse and density < p.densify_density:
        # The chunk as read and normalized (value + index, twice), the shifted feature columns.
        chunk = 2 * 8 * int(density * k * p.genes) + 4 * k * p.features
    else:
        # The densified chunk, the shifted copies of both operands, the GEMM output.
        chunk = 4 * k * p.genes + 4 * k * (p.entities + p.features) + 4 * ef
    return held + 8 * ef + chunk


def describe(plan: RunPlan) -> list[tuple[str, str]]:
    """The plan as ``(what, value)`` rows for a table."""
    p = plan.inputs
    how = (
        f"streamed, {p.chunk_cells:,} cells per chunk ({-(-p.cells // max(p.chunk_cells, 1)):,} chunks)"
        if p.streamed
        else "whole matrix in memory"
    )
    rows = [
        (
            "cells x genes",
            f"{p.cells:,} x {p.genes:,} ({p.stored_entries / max(p.cells * p.genes, 1):.1%} stored"
            f"{', sparse' if p.sparse else ''})",
        ),
        ("reading", how),
        ("TFs, targets, entities", f"{p.tfs:,}, {p.targets:,}, {p.entities:,} x {p.features:,} feature genes"),
        (
            "pairs through the model, edges written at most",
            f"{p.pairs:,}, {p.edges:,} ({'sorted in memory' if p.sort_globally else 'per TF'})",
        ),
    ]
    return rows
