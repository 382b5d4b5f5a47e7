"""Pictures of an inferred network: the top TFs and their top targets.

matplotlib and networkx are imported inside the functions (the ``plot`` extra), so the
scoring path never pays for them; :func:`require_plot_extra` checks for them up front.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .errors import InputError, preview

# What `pip install -e ".[plot]"` brings; the install line is quoted in the error when one is missing.
_PLOT_MODULES = ("matplotlib", "networkx")
PLOT_INSTALL = 'pip install -e ".[plot]"'

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


def require_plot_extra() -> None:
    """Raise :class:`InputError` naming the ``plot`` extra when matplotlib or networkx is missing."""
    import importlib

    for module in _PLOT_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            raise InputError(f"drawing needs {module}, which is not installed: {PLOT_INSTALL}") from None


def ranking_threshold(metadata, threshold: str | float | None) -> float | None:
    """The score cut ``plot`` ranks TFs with: the one the score summary counts with for the same
    ``threshold`` (:attr:`~deeptgi_rt.summary.ScoreSummary.counted_threshold`).

    Args:
        metadata: the model's :class:`~deeptgi_rt.contract.ModelMetadata`, or ``None`` (no model).
        threshold: ``None`` (a model's default, ``"youden"``: the genome-wide cut the summary
            uses when no threshold is given), ``"youden"``, ``"balanced-youden"`` or a float in [0, 1].

    Returns:
        The cut as a float, or ``None`` (no model and no threshold: every edge in the file counts).

    Raises:
        InputError: a threshold name without a model, a float with one (two cuts), or
            ``"density"``, a quantile of the scoring run's own scores that the model alone cannot give.
    """
    from .request import _threshold
    from .thresholds import model_threshold

    try:
        threshold = _threshold(threshold)
    except InputError as error:
        raise InputError(str(error).replace("threshold must be", "--threshold must be", 1)) from None
    if threshold == "density":
        raise InputError(
            "--threshold density is a quantile of the scoring run's own scores, which the edge list "
            "alone cannot give: pass the cut the score summary printed (--threshold FLOAT)"
        )
    if metadata is None:
        if isinstance(threshold, str):
            raise InputError(f"--threshold {threshold} is a model's threshold: give the model with --model MODEL.onnx")
        return threshold
    if isinstance(threshold, float):
        raise InputError(
            f"--threshold {threshold:g} is a score of its own and --model asks for the model's threshold; "
            "give one of them"
        )
    return model_threshold(metadata, threshold or "youden").value


def select_subnetwork(
    edges,
    *,
    tfs: Sequence[str] | None = None,
    top_tfs: int = 5,
    top_targets: int = 10,
    threshold: float | None = None,
    source: str = "<edges>",
):
    """The edges to draw: for each chosen TF, its ``top_targets`` best-scoring targets.

    Args:
        edges: polars DataFrame with TF, target, score.
        tfs: TFs to show; ``None`` picks the ``top_tfs`` strongest TFs the way the score summary
            ranks them (:func:`deeptgi_rt.ranking.strongest_tfs`: most edges with score >=
            ``threshold`` in ``edges``).
        top_tfs: how many TFs to pick when ``tfs`` is None.
        top_targets: targets kept per TF.
        threshold: score that counts as an edge when ranking TFs (the model's threshold, as in
            the summary); ``None`` counts every edge in ``edges`` (a file already thresholded).
        source: file name for error messages.

    Returns:
        polars DataFrame with TF, target, score: at most ``len(tfs) * top_targets`` rows.
    """
    import polars as pl

    from .ranking import strongest_tfs

    if top_targets <= 0 or top_tfs <= 0:
        raise InputError(f"{source}: --top-tfs and --top-targets must be positive")
    best = edges.sort("score", descending=True).group_by("TF", maintain_order=True).head(top_targets)
    if tfs is not None:
        known = set(best["TF"].unique().to_list())
        missing = [tf for tf in tfs if tf not in known]
        if missing:
            raise InputError(
                f"{source}: {len(missing)} of {len(tfs)} TFs have no edges in the file: {preview(missing)}"
            )
        chosen = list(tfs)
    else:
        over = pl.col("score") >= threshold if threshold is not None else pl.lit(True)
        counts = edges.group_by("TF").agg(over.sum().alias("over"))
        chosen = [tf for tf, _ in strongest_tfs(counts["TF"].to_list(), counts["over"].to_numpy(), limit=top_tfs)]
        if not chosen:
            raise InputError(f"{source}: no edge has a score >= {threshold:.4g}; no TF to draw")
    return best.filter(pl.col("TF").is_in(chosen))


def network_layout(subnetwork) -> dict[str, tuple[float, float]]:
    """Node positions: TFs evenly on an inner circle, targets evenly on an outer one.

    Each target sits at the angle nearest the (circular) mean angle of its TFs, so the edges stay
    short and a target shared by several TFs lies between them; every node has its own slot on
    its circle, so no two nodes coincide (a force-directed layout stacks TFs whose target sets
    are the same, as GATA1 and KLF1 on mhsc-e).

    Args:
        subnetwork: polars DataFrame with TF, target (and score).

    Returns:
        ``{node name: (x, y)}`` for every TF and target, coordinates within [-1, 1].
    """
    import numpy as np

    tfs = list(dict.fromkeys(subnetwork["TF"].to_list()))
    tf_angle = {tf: 2 * np.pi * k / len(tfs) + np.pi / 2 for k, tf in enumerate(tfs)}
    # A TF with fewer than three partners would sit at the centre of a one-node ring; put it off-centre.
    inner = 0.0 if len(tfs) == 1 else 0.45
    positions = {tf: (inner * np.cos(a), inner * np.sin(a)) for tf, a in tf_angle.items()}
    regulators: dict[str, list[str]] = {}
    for tf, target in subnetwork.select("TF", "target").iter_rows():
        if target not in tf_angle:
            regulators.setdefault(target, []).append(tf)
    wanted = {}
    for target, its_tfs in regulators.items():
        x = sum(np.cos(tf_angle[tf]) for tf in its_tfs)
        y = sum(np.sin(tf_angle[tf]) for tf in its_tfs)
        # TFs straight across each other cancel out; the first one's angle is as good as any then.
        wanted[target] = float(np.arctan2(y, x)) if np.hypot(x, y) > 1e-9 else tf_angle[its_tfs[0]]
    order = sorted(wanted, key=lambda target: (wanted[target] % (2 * np.pi), target))
    if order:
        slot = 2 * np.pi / len(order)
        # Rotate the evenly spaced slots so that on average targets land where they want to be.
        shift = float(np.angle(np.mean([np.exp(1j * (wanted[t] - k * slot)) for k, t in enumerate(order)])))
        for k, target in enumerate(order):
            angle = shift + k * slot
            positions[target] = (float(np.cos(angle)), float(np.sin(angle)))
    return {node: (float(x), float(y)) for node, (x, y) in positions.items()}


def draw_network(subnetwork, out: str | Path, *, image_format: str = "png", title: str | None = None) -> None:
    """Draw TFs (large, labelled) and their targets, edges coloured by score rank, into a PNG/SVG/PDF.

    Edge colours follow the rank of each edge's score among the drawn edges, so neighbouring
    scores are told apart however narrow their range (model scores often span 0.98-0.99); the
    colour bar's ticks give the scores at those ranks.

    Args:
        subnetwork: polars DataFrame with TF, target, score (see :func:`select_subnetwork`).
        out: output image path.
        image_format: ``"png"``, ``"svg"`` or ``"pdf"``.
        title: figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = network_figure(subnetwork, title=title)
    figure.savefig(out, format=image_format)
    plt.close(figure)


def network_figure(subnetwork, *, title: str | None = None):
    """The figure :func:`draw_network` saves, as a matplotlib ``Figure`` (for a notebook to show;
    the caller closes it). Uses the active matplotlib backend."""
    import matplotlib.pyplot as plt
    import networkx as nx
    import numpy as np

    graph = nx.DiGraph()
    for tf, target, score in subnetwork.iter_rows():
        graph.add_edge(tf, target, score=float(score))
    tfs = set(subnetwork["TF"].to_list())
    layout = network_layout(subnetwork)
    figure, axes = plt.subplots(figsize=(10, 8), dpi=120)
    edges = list(graph.edges)
    scores = np.array([graph.edges[e]["score"] for e in edges], dtype=np.float64)
    rank = edge_score_rank(scores)
    nx.draw_networkx_edges(
        graph,
        layout,
        edgelist=edges,
        ax=axes,
        edge_color=rank,
        edge_cmap=plt.cm.viridis,
        edge_vmin=0.0,
        edge_vmax=1.0,
        arrows=True,
        arrowsize=8,
        width=1.2,
        node_size=300,
    )
    targets_only = [n for n in graph if n not in tfs]
    nx.draw_networkx_nodes(graph, layout, nodelist=targets_only, node_size=120, node_color="#c7d3e3", ax=axes)
    nx.draw_networkx_nodes(graph, layout, nodelist=sorted(tfs), node_size=700, node_color="#d1495b", ax=axes)
    nx.draw_networkx_labels(graph, layout, labels={n: n for n in tfs}, font_size=9, font_weight="bold", ax=axes)
    nx.draw_networkx_labels(graph, layout, labels={n: n for n in targets_only}, font_size=6, ax=axes)
    if len(scores):
        mappable = plt.cm.ScalarMappable(cmap=plt.cm.viridis, norm=plt.Normalize(0.0, 1.0))
        bar = figure.colorbar(
            mappable, ax=axes, shrink=0.6, label=f"DeepTGI score (colour: rank among the {len(scores)} drawn edges)"
        )
        distinct = np.unique(scores)
        ticks = np.linspace(0.0, 1.0, min(5, len(distinct)))
        bar.set_ticks(ticks.tolist())
        bar.set_ticklabels([f"{distinct[i]:.4g}" for i in np.round(ticks * (len(distinct) - 1)).astype(int)])
    axes.set_title(title or f"{len(tfs)} TFs and their top targets")
    axes.set_aspect("equal")
    axes.axis("off")
    figure.tight_layout()
    return figure


def edge_score_rank(scores):
    """Colour positions in [0, 1] from the rank of each score (float64 ``[edges]`` -> ``[edges]``):
    0 the lowest score, 1 the highest, equal scores equal positions."""
    import numpy as np

    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) < 2:
        return np.ones(len(scores))
    distinct, position = np.unique(scores, return_inverse=True)
    return position / max(len(distinct) - 1, 1)
