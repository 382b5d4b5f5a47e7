"""scanpy-style tools: functions that read from an ``AnnData`` and write into it.

>>> import deeptgi_rt
>>> deeptgi_rt.tl.score(adata, "mhsc-e-lite", top_k=50)                   # doctest: +SKIP
>>> adata.uns["deeptgi"]["edges"].head()                                  # doctest: +SKIP
>>> net = deeptgi_rt.tl.to_decoupler(adata)                               # doctest: +SKIP
>>> dc.mt.ulm(adata, net)                                                 # doctest: +SKIP

For notebooks, as ``sc.tl`` and ``dc.mt`` are used; pipelines keep the class API
(:func:`deeptgi_rt.load_model`, :meth:`~deeptgi_rt.api.DeepTGIModel.write`), which streams to
files and reports a :class:`~deeptgi_rt.summary.ScoreSummary`. Both score through the same engine:
``tl.score(adata, ...)`` stores exactly the edges ``load_model(model).score(adata, ...)`` returns.

What :func:`score` stores in ``adata.uns[key_added]`` (a dict that survives ``adata.write_h5ad``
and ``anndata.read_h5ad``):

* ``"edges"``: a pandas DataFrame ``TF`` (categorical), ``target`` (categorical), ``score``
  (float32), one row per edge, by descending score;
* ``"params"``: the run: ``tool`` (``"deeptgi-rt"``, how a later call knows the key is ours),
  ``model``, ``model_sha256``, ``model_threshold`` and ``threshold_how`` (the model's cut and how
  it was chosen), ``threshold`` (the cut applied, when one was), ``top_k``, ``normalize``,
  ``layer``, ``use_raw``, ``var_names_column`` (each only when given), ``target_prior``,
  ``feature_coverage``, ``tfs_scored``, ``targets_scored``, ``pairs_scored``, ``edges``, and the
  versions of deeptgi-rt, onnxruntime, anndata and numpy. A parameter not given is absent (h5ad
  writers before anndata 0.11 cannot store ``None``);
* ``"evaluation"`` (after :func:`evaluate`): a DataFrame of the figures per method.

Importing this module costs nothing; anndata, pandas and the scoring stack load when called.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

from .errors import InputError

if TYPE_CHECKING:
    import anndata
    import pandas
    import polars

    from ._types import GeneList, PathLike, Threshold, Transform
    from .api import DeepTGIModel
    from .evaluation import EdgeTable, Evaluation

TOOL = "deeptgi-rt"
DEFAULT_KEY = "deeptgi"
Normalize = Literal["total", "log1p"]
# tl.score's normalize= -> the request's transform.
_TRANSFORM_OF_NORMALIZE: dict[str | None, Transform] = {
    None: "none",
    "total": "normalize_total_log1p",
    "log1p": "log1p",
}


def score(
    adata: anndata.AnnData,
    model: DeepTGIModel | PathLike,
    *,
    tfs: GeneList | None = None,
    genes: GeneList | None = None,
    layer: str | None = None,
    use_raw: bool = False,
    var_names_column: str | None = None,
    normalize: Normalize | None = None,
    top_k: int | None = None,
    threshold: Threshold | None = None,
    target_prior: bool = True,
    key_added: str = DEFAULT_KEY,
    overwrite: bool = False,
) -> None:
    """Score TF -> target pairs of ``adata`` and store the edge table in ``adata.uns[key_added]``.

    Args:
        adata: cells x genes, in memory (dense or sparse X) or backed; sparse and backed matrices
            are read a chunk of cells at a time, never densified whole.
        model: a loaded :class:`~deeptgi_rt.api.DeepTGIModel` or a model file (loaded on one
            thread per core as :func:`~deeptgi_rt.load_model` does).
        tfs: TF names (a list or a gene-list file); default the model's TFs found in ``adata``.
        genes: target genes; default every gene of ``adata``.
        layer: read ``adata.layers[layer]`` instead of X (e.g. ``"counts"``).
        use_raw: read ``adata.raw.X`` (with ``adata.raw.var_names``).
        var_names_column: the ``var`` column holding gene names (e.g. symbols when var_names are
            Ensembl ids); default ``var_names``.
        normalize: ``None`` (the matrix is already log-normalized, as after ``sc.pp.normalize_total``
            + ``sc.pp.log1p``), ``"total"`` (raw counts: each cell to 10,000 then log1p, per chunk
            of cells, as scanpy) or ``"log1p"``; ``adata`` itself is never changed.
        top_k: keep each TF's ``top_k`` best targets.
        threshold: keep edges with score >= this (a float in [0, 1], ``"youden"``,
            ``"balanced-youden"``, ``"density"``; see :meth:`~deeptgi_rt.api.DeepTGIModel.score`).
        target_prior: add the model's per-target prior (``False``: the network alone).
        key_added: the ``adata.uns`` key written.
        overwrite: replace ``adata.uns[key_added]`` even when it holds something this function did
            not write (a previous result of ours is always replaced).

    Raises:
        InputError: a bad option or bad data (NaN, negative values with ``normalize``, no such
            layer, ``use_raw`` without raw, duplicate gene names, no cells, a ``key_added`` holding
            something else), naming the parameter; ``adata`` is then left as it was.
    """
    from .api import ScoreRequest
    from .catalog import model_sha256

    check_adata(adata, "tl.score")
    check_key(adata, key_added, overwrite=overwrite)
    transform = _transform(normalize)
    request = ScoreRequest(
        adata,
        tfs=tfs,
        genes=genes,
        top_k=top_k,
        threshold=threshold,
        layer=layer,
        use_raw=use_raw,
        var_names_column=var_names_column,
        transform=transform,
        target_prior=target_prior,
    )
    loaded = _model(model)
    frame = loaded.prepare(request).frame()
    summary = loaded.last_summary
    assert summary is not None  # frame() finished the run
    cut = None if request.threshold is None else request.score_filter(summary.threshold)
    params = {
        "tool": TOOL,
        "model": str(loaded.path),
        "model_sha256": model_sha256(loaded.path),
        "model_threshold": float(summary.threshold),
        "threshold_how": summary.threshold_how,
        "threshold": None if cut is None else float(cut),
        "threshold_asked": None if request.threshold is None else str(request.threshold),
        "top_k": top_k,
        "normalize": normalize,
        "layer": layer,
        "use_raw": bool(use_raw),
        "var_names_column": var_names_column,
        "target_prior": bool(target_prior),
        "feature_coverage": float(summary.feature_coverage),
        "tfs_scored": int(summary.tfs),
        "targets_scored": int(summary.targets),
        "pairs_scored": int(summary.pairs_scored),
        "edges": int(len(frame)),
        **versions(),
    }
    # Only now is adata touched: any failure above leaves it as it was.
    adata.uns[key_added] = {
        "edges": edges_frame(frame),
        "params": {name: value for name, value in params.items() if value is not None},
    }


def edges(adata: anndata.AnnData, key: str = DEFAULT_KEY) -> pandas.DataFrame:
    """The edge table :func:`score` stored: pandas ``TF``, ``target`` (categorical), ``score`` (float32).

    Raises:
        InputError: ``adata.uns[key]`` missing or not written by :func:`score`.
    """
    check_adata(adata, "tl.edges")
    return _stored(adata, key)["edges"]


def to_decoupler(
    data: anndata.AnnData | pandas.DataFrame | polars.DataFrame, key: str = DEFAULT_KEY
) -> pandas.DataFrame:
    """An edge table in decoupler's network format: pandas ``source``, ``target`` (str) and
    ``weight`` (float64), one row per edge, as ``dc.mt.ulm(adata, net)`` reads it.

    Args:
        data: an AnnData scored by :func:`score` (its ``adata.uns[key]``), or an edge table with
            ``TF``, ``target`` and ``score`` columns (polars or pandas, e.g. ``model.score(...)``).
        key: the ``adata.uns`` key.
    """
    import pandas as pd

    from .inmemory import is_anndata

    frame = _stored(data, key)["edges"] if is_anndata(data) else data
    if type(frame).__module__.split(".")[0] == "polars":
        frame = frame.to_pandas()
    if not isinstance(frame, pd.DataFrame) or not {"TF", "target", "score"} <= set(frame.columns):
        raise InputError(
            "to_decoupler takes an AnnData scored by tl.score or an edge table with TF, target and score columns",
            parameter="data",
        )
    return pd.DataFrame(
        {
            "source": frame["TF"].astype(str).to_numpy(),
            "target": frame["target"].astype(str).to_numpy(),
            "weight": frame["score"].to_numpy(dtype="float64"),
        }
    )


def evaluate(
    adata: anndata.AnnData,
    truth: PathLike | pandas.DataFrame | polars.DataFrame,
    *,
    key: str = DEFAULT_KEY,
    tfs: GeneList | None = None,
    genes: GeneList | None = None,
    prior_from: PathLike | None = None,
    bootstrap: int = 0,
    seed: int = 0,
) -> Evaluation:
    """Evaluate the stored network against a truth network; figures also go to
    ``adata.uns[key]["evaluation"]`` (a DataFrame, one row per method).

    Args:
        adata: scored by :func:`score` with this ``key``.
        truth: a network file (``Gene1,Gene2``, ``TF,target``, ``source,target``; a ``Label``
            column keeps label-1 rows) or such a polars/pandas table.
        key: the ``adata.uns`` key of the network.
        tfs: candidate TFs (default: the truth's TFs the network lists).
        genes: candidate targets (default: the genes the network was scored on, i.e. ``adata``'s
            gene names as read by :func:`score`).
        prior_from: labelled pairs: adds the label-only prior (target in-degree) as a row.
        bootstrap, seed: resamples of TFs for 95 % intervals.

    Returns:
        The :class:`~deeptgi_rt.evaluation.Evaluation` (``print_table`` of
        :mod:`deeptgi_rt.evaluation_report` prints it as ``deeptgi-rt eval`` does).
    """
    import pandas as pd

    from .evaluation import edge_table
    from .evaluation import evaluate as evaluate_tables
    from .inmemory import gene_names

    check_adata(adata, "tl.evaluate")
    stored = _stored(adata, key)
    params = stored["params"]
    network = edge_table(stored["edges"], f"adata.uns[{key!r}]", score=True)
    truth_table: PathLike | EdgeTable
    if isinstance(truth, (str, os.PathLike)):
        truth_table = truth
    else:
        truth_table = edge_table(truth, "<truth table>", score=False)
    if genes is None:
        genes = gene_names(
            adata, use_raw=bool(params.get("use_raw", False)), var_names_column=params.get("var_names_column")
        )
    result = evaluate_tables(
        [network], truth_table, tfs=tfs, genes=genes, prior_from=prior_from, bootstrap=bootstrap, seed=seed
    )
    rows = {
        m.name: {
            **{name: float(value) for name, value in m.summary.items()},
            "target_wise_auroc": float(m.target_wise.mean),
            "pair_specific_auroc": float(m.pair_specific.mean),
            "listed": int(m.listed),
        }
        for m in result.methods
    }
    stored["evaluation"] = pd.DataFrame.from_dict(rows, orient="index")
    return result


# --------------------------------------------------------------------- shared with pl


def check_adata(adata: anndata.AnnData, what: str) -> None:
    """``adata`` is an AnnData (anndata installed), or an :class:`InputError` naming the extra."""
    from .inmemory import is_anndata, require_anndata

    require_anndata(f"deeptgi_rt.{what}")
    if not is_anndata(adata):
        raise InputError(f"{what} takes an anndata.AnnData, got {type(adata).__name__}", parameter="adata")


def check_key(adata: anndata.AnnData, key: str, *, overwrite: bool) -> None:
    """Refuse to replace ``adata.uns[key]`` holding something :func:`score` did not write."""
    if not isinstance(key, str) or not key:
        raise InputError(f"key_added must be a non-empty string, got {key!r}", parameter="key_added")
    if key in adata.uns and not overwrite and not _is_ours(adata.uns[key]):
        raise InputError(
            f"key_added={key!r}: adata.uns[{key!r}] already holds something deeptgi-rt did not write "
            f"({type(adata.uns[key]).__name__}); choose another key_added or pass overwrite=True",
            parameter="key_added",
        )


def versions() -> dict[str, str]:
    """The versions a stored result depends on: deeptgi-rt, onnxruntime, anndata, numpy."""
    import importlib
    import warnings

    from . import __version__

    found = {"deeptgi_rt_version": __version__}
    for module in ("onnxruntime", "anndata", "numpy"):
        try:
            imported = importlib.import_module(module)
        except ImportError:
            continue
        with warnings.catch_warnings():
            # anndata 0.12 deprecates its __version__ (onnxruntime-gpu's distribution name differs from the module's).
            warnings.simplefilter("ignore", FutureWarning)
            found[f"{module}_version"] = str(imported.__version__)
    return found


def edges_frame(frame: polars.DataFrame) -> pandas.DataFrame:
    """A polars edge frame (TF, target, score) as the pandas table stored in ``adata.uns``:
    categorical names, float32 scores, a string index (h5ad stores DataFrame indices as strings)."""
    import polars as pl

    # Through Arrow's dictionaries: no Python string per edge (a genome-wide table has millions).
    table = frame.select(
        pl.col("TF").cast(pl.Categorical), pl.col("target").cast(pl.Categorical), pl.col("score").cast(pl.Float32)
    ).to_pandas()
    table.index = table.index.astype(str)
    return table


def _stored(adata: anndata.AnnData, key: str) -> dict:
    if key not in adata.uns:
        raise InputError(f"key={key!r}: adata.uns has no {key!r}; run deeptgi_rt.tl.score first", parameter="key")
    stored = adata.uns[key]
    if not _is_ours(stored):
        raise InputError(f"key={key!r}: adata.uns[{key!r}] was not written by deeptgi_rt.tl.score", parameter="key")
    return stored


def _is_ours(value: Any) -> bool:
    try:
        return value["params"]["tool"] == TOOL and "edges" in value
    except (KeyError, TypeError, IndexError):
        return False


def _transform(normalize: object) -> Transform:
    if normalize not in _TRANSFORM_OF_NORMALIZE:
        raise InputError(
            f"normalize must be None, 'total' or 'log1p', got {normalize!r}",
            parameter="normalize",
        )
    return _TRANSFORM_OF_NORMALIZE[normalize]


def _model(model: DeepTGIModel | PathLike) -> DeepTGIModel:
    from .api import DeepTGIModel, load_model

    return model if isinstance(model, DeepTGIModel) else load_model(model)


__all__ = ["score", "edges", "evaluate", "to_decoupler"]
