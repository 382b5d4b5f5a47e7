"""Pictures of an inferred network: the top TFs and their top targets.

matplotlib and networkx are imported inside the functions (the ``plot`` extra), so the
scoring path never pays for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .errors import InputError, preview

# Column spellings of the edge lists this project writes (Parquet: score; TSV: importance).
_SCORE_COLUMNS = ("score", "importance")


def read_edges(path: str | Path):
    """Read an edge list written by ``deeptgi-rt score`` (Parquet or TSV).

    Returns a polars DataFrame with columns ``TF`` (str), ``target`` (str), ``score`` (float32).
    Raises :class:`InputError` naming the file when it is missing or lacks those columns.
    """
    import polars as pl

    from .tables import read_frame

    path = Path(path)
    frame = read_frame(path, what="edge list")
    score = next((c for c in _SCORE_COLUMNS if c in frame.columns), None)
    if "TF" not in frame.columns or "target" not in frame.columns or score is None:
        raise InputError(
            f"{path}: an edge list needs columns TF, target and score (or importance); found {preview(frame.columns)}"
        )
    return frame.select(
        pl.col("TF").cast(pl.String),
        pl.col("target").cast(pl.String),
        pl.col(score).cast(pl.Float32).alias("score"),
    )


def select_subnetwork(edges, *, tfs: Sequence[str] | None = None, top_tfs: int = 5, top_targets: int = 10,
                      source: str = "<edges>"):
    """The edges to draw: for each chosen TF, its ``top_targets`` best-scoring targets.

    Args:
        edges: polars DataFrame with TF, target, score.
        tfs: TFs to show; ``None`` picks the ``top_tfs`` TFs with the highest total score over
            their ``top_targets`` best targets.
        top_tfs: how many TFs to pick when ``tfs`` is None.
        top_targets: targets kept per TF.
        source: file name for error messages.

    Returns:
        polars DataFrame with TF, target, score: at most ``len(tfs) * top_targets`` rows.
    """
    import polars as pl

    if top_targets <= 0 or top_tfs <= 0:
        raise InputError(f"{source}: --top-tfs and --top-targets must be positive")
    best = (
        edges.sort("score", descending=True)
        .group_by("TF", maintain_order=True)
        .head(top_targets)
    )
    if tfs is not None:
        known = set(best["TF"].unique().to_list())
        missing = [tf for tf in tfs if tf not in known]
        if missing:
            raise InputError(f"{source}: {len(missing)} of {len(tfs)} TFs have no edges in the file: {preview(missing)}")
        chosen = list(tfs)
    else:
        ranking = best.group_by("TF").agg(pl.col("score").sum()).sort(["score", "TF"], descending=[True, False])
        chosen = ranking["TF"].head(top_tfs).to_list()
    return best.filter(pl.col("TF").is_in(chosen))


def draw_network(subnetwork, out: str | Path, *, image_format: str = "png", title: str | None = None, seed: int = 0) -> None:
    """Draw TFs (large, labelled) and their targets, edges shaded by score, into a PNG/SVG/PDF.

    Args:
        subnetwork: polars DataFrame with TF, target, score (see :func:`select_subnetwork`).
        out: output image path.
        image_format: ``"png"``, ``"svg"`` or ``"pdf"``.
        title: figure title.
        seed: layout seed, so the same network always looks the same.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    graph = nx.DiGraph()
    for tf, target, score in subnetwork.iter_rows():
        graph.add_edge(tf, target, score=float(score))
    tfs = set(subnetwork["TF"].to_list())
    layout = nx.spring_layout(graph, seed=seed, k=1.5 / max(len(graph) ** 0.5, 1.0))
    figure, axes = plt.subplots(figsize=(10, 8), dpi=120)
    scores = [graph.edges[e]["score"] for e in graph.edges]
    nx.draw_networkx_edges(
        graph, layout, ax=axes, edge_color=scores, edge_cmap=plt.cm.viridis, edge_vmin=min(scores, default=0),
        edge_vmax=max(scores, default=1), arrows=True, arrowsize=8, width=1.2, node_size=300,
    )
    targets_only = [n for n in graph if n not in tfs]
    nx.draw_networkx_nodes(graph, layout, nodelist=targets_only, node_size=120, node_color="#c7d3e3", ax=axes)
    nx.draw_networkx_nodes(graph, layout, nodelist=sorted(tfs), node_size=700, node_color="#d1495b", ax=axes)
    nx.draw_networkx_labels(graph, layout, labels={n: n for n in tfs}, font_size=9, font_weight="bold", ax=axes)
    nx.draw_networkx_labels(graph, layout, labels={n: n for n in targets_only}, font_size=6, ax=axes)
    if scores:
        mappable = plt.cm.ScalarMappable(cmap=plt.cm.viridis, norm=plt.Normalize(min(scores), max(scores)))
        figure.colorbar(mappable, ax=axes, shrink=0.6, label="DeepTGI score")
    axes.set_title(title or f"{len(tfs)} TFs and their top targets")
    axes.axis("off")
    figure.tight_layout()
    figure.savefig(out, format=image_format)
    plt.close(figure)
