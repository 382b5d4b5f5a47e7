"""The Python API: every input form gives the same scores, and the CLI gives the API's scores."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from onnx_models import build_model, save_model, synthetic_expression, write_genes_by_cells_csv

import deeptgi_rt
from deeptgi_rt.cli import main
from deeptgi_rt.expression import read_expression

GENES, VALUES = synthetic_expression(30, 50, seed=2)
FEATURES = GENES[:12]
TFS = GENES[:4]


@pytest.fixture()
def setup(tmp_path):
    expr = write_genes_by_cells_csv(tmp_path / "expr.csv", GENES, VALUES)
    model = save_model(build_model(FEATURES, head="mlp", tfs=TFS), tmp_path / "model.onnx")
    return tmp_path, expr, model


def test_load_model_exposes_metadata_and_providers(setup):
    _, _, path = setup
    model = deeptgi_rt.load_model(path, device="cpu")
    assert isinstance(model, deeptgi_rt.DeepTGIModel)
    assert model.metadata.feature_genes == FEATURES
    assert model.providers == ["CPUExecutionProvider"]
    assert model.factorized


def test_cli_and_api_give_identical_scores(setup, capsys):
    tmp, expr, path = setup
    out = tmp / "cli.parquet"
    assert main(["score", str(expr), "--model", str(path), "--out", str(out), "--quiet"]) == 0
    cli = pl.read_parquet(out).with_columns(pl.col("TF", "target").cast(pl.String))
    api = deeptgi_rt.load_model(path).score(str(expr)).with_columns(pl.col("TF", "target").cast(pl.String))
    assert cli.equals(api)


def test_every_expression_form_gives_the_same_scores(setup):
    tmp, expr_path, path = setup
    model = deeptgi_rt.load_model(path)
    expression = read_expression(expr_path)
    reference = model.score(expression)
    cells_by_genes = expression.values.T
    forms = {
        "path": str(expr_path),
        "polars": pl.DataFrame(cells_by_genes, schema=expression.genes),
        "pandas": pl.DataFrame(cells_by_genes, schema=expression.genes).to_pandas(),
        "numpy": (cells_by_genes, expression.genes),
    }
    for name, form in forms.items():
        frame = model.score(form)
        assert frame["score"].to_list() == reference["score"].to_list(), name


def test_iter_batches_streams_the_same_edges_as_score(setup):
    _, expr, path = setup
    model = deeptgi_rt.load_model(path)
    batches = list(model.iter_batches(str(expr), batch_size=20))
    assert all(isinstance(batch, pa.RecordBatch) for batch in batches)
    assert batches[0].schema.field("TF").type == pa.dictionary(pa.int32(), pa.string())
    streamed = pl.from_arrow(pa.Table.from_batches(batches)).with_columns(pl.col("TF", "target").cast(pl.String))
    scored = model.score(str(expr)).with_columns(pl.col("TF", "target").cast(pl.String))
    assert streamed.sort("TF", "target").equals(scored.sort("TF", "target"))
    assert model.last_summary.edges_written == len(streamed)


def test_tfs_and_genes_as_lists(setup):
    _, expr, path = setup
    frame = deeptgi_rt.load_model(path).score(str(expr), tfs=["G005", "G006"], genes=["G001", "G005"])
    assert sorted(frame.select(pl.col("TF", "target").cast(pl.String)).iter_rows()) == [
        ("G005", "G001"),
        ("G006", "G001"),
        ("G006", "G005"),
    ]


def test_case_insensitive_matches_gene_names_ignoring_case(setup):
    _, expr, path = setup
    model = deeptgi_rt.load_model(path)
    with pytest.raises(deeptgi_rt.InputError, match="none is in the expression data"):
        model.score(str(expr), tfs=["g005"])
    frame = model.score(str(expr), tfs=["g005"], case_insensitive=True)
    assert set(frame["TF"].cast(pl.String)) == {"G005"}


def test_pairs_cannot_be_combined_with_tfs(setup):
    tmp, expr, path = setup
    pairs = pl.DataFrame({"TF": ["G001"], "Target": ["G002"]})
    with pytest.raises(deeptgi_rt.InputError, match="cannot be combined"):
        deeptgi_rt.load_model(path).score(str(expr), pairs=pairs, tfs=["G001"])


def test_numpy_array_without_gene_names_is_an_input_error(setup):
    _, _, path = setup
    with pytest.raises(deeptgi_rt.InputError, match="gene_names"):
        deeptgi_rt.load_model(path).score(np.zeros((5, 5)))


def test_pairs_with_tfs_is_refused_before_the_expression_is_read(setup):
    tmp, _, path = setup
    model = deeptgi_rt.load_model(path)
    # The expression file does not exist: reading it first would report that instead.
    with pytest.raises(
        deeptgi_rt.InputError, match="^pairs= lists the pairs to score; it cannot be combined with tfs= or genes=$"
    ):
        model.score(str(tmp / "missing.csv"), pairs="pairs.csv", genes=["G001"])
    with pytest.raises(deeptgi_rt.InputError, match="^top_k must be a positive integer, got 0$"):
        list(model.iter_batches(str(tmp / "missing.csv"), top_k=0))
    assert not (tmp / "out.parquet").exists()
    with pytest.raises(deeptgi_rt.InputError, match="^format must be one of parquet, tsv, decoupler, got 'csv'$"):
        model.write(tmp / "out.parquet", str(tmp / "missing.csv"), format="csv")
    assert not (tmp / "out.parquet").exists()
