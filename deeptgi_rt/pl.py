"""scanpy-style plots of what :mod:`deeptgi_rt.tl` stored in an ``AnnData``.

>>> deeptgi_rt.pl.network(adata, top_tfs=4)              # doctest: +SKIP

The drawing is the ``deeptgi-rt plot`` command's (:mod:`deeptgi_rt.plot`): the strongest TFs and
their best targets, TFs on an inner circle. Needs the ``plot`` extra (matplotlib, networkx).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import anndata
    from matplotlib.figure import Figure

    from ._types import PathLike


def network(
    adata: anndata.AnnData,
    *,
    key: str = "deeptgi",
    tfs: Sequence[str] | None = None,
    top_tfs: int = 5,
    top_targets: int = 10,
    threshold: float | str | None = "model",
    title: str | None = None,
    save: PathLike | None = None,
) -> Figure:
    """Draw the network ``deeptgi_rt.tl.score`` stored in ``adata.uns[key]``.

    Args:
        adata: scored by :func:`deeptgi_rt.tl.score` with this ``key``.
        key: the ``adata.uns`` key.
        tfs: the TFs to draw; default the ``top_tfs`` with the most edges scoring at least
            ``threshold`` (the TFs the score summary lists first).
        top_tfs: how many TFs to pick when ``tfs`` is ``None``.
        top_targets: best targets drawn per TF.
        threshold: the score that counts as an edge when picking TFs: ``"model"`` (the model's
            threshold as the run counted it, stored in ``params["model_threshold"]``, or the cut
            the run applied), a float, or ``None`` to count every stored edge.
        title: figure title.
        save: also write the figure to this path (PNG, SVG or PDF by its suffix), atomically.

    Returns:
        The matplotlib ``Figure``.

    Raises:
        InputError: no stored network, no TF to draw, a missing ``plot`` extra.
    """
    from pathlib import Path

    import polars as pl

    from .plot import network_figure, require_plot_extra, select_subnetwork
    from .tl import _stored, check_adata

    check_adata(adata, "pl.network")
    require_plot_extra()
    stored = _stored(adata, key)
    params = stored["params"]
    if threshold == "model":
        threshold = float(params.get("threshold", params["model_threshold"]))
    elif isinstance(threshold, str):
        raise InputError(f"threshold must be 'model', a float or None, got {threshold!r}", parameter="threshold")
    table = stored["edges"]
    edges = pl.DataFrame(
        {
            "TF": table["TF"].astype(str).to_numpy(),
            "target": table["target"].astype(str).to_numpy(),
            "score": table["score"].to_numpy(dtype="float32"),
        }
    )
    subnetwork = select_subnetwork(
        edges, tfs=tfs, top_tfs=top_tfs, top_targets=top_targets, threshold=threshold, source=f"adata.uns[{key!r}]"
    )
    figure = network_figure(subnetwork, title=title)
    if save is not None:
        from .atomic import atomic_output

        out = Path(save)
        with atomic_output(out) as tmp:
            figure.savefig(tmp, format=out.suffix.lower().lstrip(".") or "png")
    return figure


__all__ = ["network"]
