"""The scoring engine: factorized scores equal the whole graph; streaming, top-k, thresholds and
self pairs behave as specified."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from onnx_models import build_model, reference_scores, save_model, synthetic_expression

from deeptgi_rt.api import load_model
from deeptgi_rt.edges import EdgeBlock
from deeptgi_rt.expression import Expression
from deeptgi_rt.features import entity_features
from deeptgi_rt.progress import Reporter
from deeptgi_rt.scoring import score_tf_rows
from deeptgi_rt.selection import TopKPerTF, rows_to_edges

GENES, VALUES = synthetic_expression(40, 60)
FEATURES = GENES[:15]
TFS = GENES[:6]


class Collecting(Reporter):
    def __init__(self):
        self.lines = []

    def info(self, message):
        self.lines.append(message)

    warn = info


def expression(values=VALUES, genes=GENES, source="<test>"):
    return Expression(genes=list(genes), values=np.ascontiguousarray(values), source=source)


def model_file(tmp_path, name="m.onnx", **kwargs):
    kwargs.setdefault("tfs", TFS)
    return save_model(build_model(FEATURES, **kwargs), tmp_path / name)


def all_pair_reference(model_proto, expressions, tfs, genes):
    """Scores of every TF x gene pair (self pairs excluded) from the whole graph, dict (tf, gene) -> score."""
    tf_feats = entity_features(expressions, tfs, FEATURES)
    gene_feats = entity_features(expressions, genes, FEATURES)
    ti, gi = np.meshgrid(np.arange(len(tfs)), np.arange(len(genes)), indexing="ij")
    scores = reference_scores(model_proto, tf_feats[ti.ravel()], gene_feats[gi.ravel()])
    return {(tfs[t], genes[g]): s for t, g, s in zip(ti.ravel(), gi.ravel(), scores) if tfs[t] != genes[g]}


def as_dict(frame: pl.DataFrame):
    return {
        (tf, target): score
        for tf, target, score in frame.select(
            pl.col("TF").cast(pl.String), pl.col("target").cast(pl.String), "score"
        ).iter_rows()
    }


@pytest.mark.parametrize("head", ["additive", "mlp"])
def test_factorized_scores_equal_the_whole_graph(tmp_path, head):
    proto = build_model(FEATURES, head=head, tfs=TFS)
    model = load_model(save_model(proto, tmp_path / "m.onnx"))
    assert model.factorized
    frame = model.score(expression(), batch_size=50)  # 50 < 40 genes x 2 TFs forces several blocks
    expected = all_pair_reference(proto, [expression()], TFS, GENES)
    got = as_dict(frame)
    assert got.keys() == expected.keys()
    diff = max(abs(got[key] - expected[key]) for key in expected)
    assert diff <= 1e-5


def test_scores_do_not_depend_on_batch_size(tmp_path):
    model = load_model(model_file(tmp_path, head="mlp"))
    small = model.score(expression(), batch_size=7)
    large = model.score(expression(), batch_size=100_000)
    assert small["score"].to_list() == large["score"].to_list()


def test_model_without_state_tensors_is_scored_end_to_end_with_one_info_line(tmp_path):
    reporter = Collecting()
    plain = load_model(model_file(tmp_path, "plain.onnx", head="mlp", with_state_tensors=False), reporter=reporter)
    factorized = load_model(model_file(tmp_path, "fact.onnx", head="mlp"))
    assert not plain.factorized
    assert sum("end to end" in line for line in reporter.lines) == 1
    a, b = as_dict(plain.score(expression(), batch_size=33)), as_dict(factorized.score(expression()))
    assert a.keys() == b.keys()
    assert max(abs(a[k] - b[k]) for k in a) <= 1e-5


def test_self_pairs_are_excluded_and_every_other_pair_scored(tmp_path):
    model = load_model(model_file(tmp_path))
    frame = model.score(expression())
    pairs = as_dict(frame)
    assert len(pairs) == len(frame) == len(TFS) * (len(GENES) - 1)
    assert not any(tf == gene for tf, gene in pairs)
    assert model.last_summary.pairs_scored == len(frame)


def test_output_is_sorted_by_descending_score(tmp_path):
    frame = load_model(model_file(tmp_path)).score(expression())
    scores = frame["score"].to_numpy()
    assert frame["score"].dtype == pl.Float32
    assert np.all(np.diff(scores) <= 0)


def test_listed_pairs_equal_all_pairs_restricted_to_them(tmp_path):
    model = load_model(model_file(tmp_path, head="mlp"))
    everything = as_dict(model.score(expression()))
    rng = np.random.default_rng(3)
    chosen = [key for key in everything if rng.random() < 0.3]
    pairs = pl.DataFrame({"Gene1": [k[0] for k in chosen], "Gene2": [k[1] for k in chosen]})
    path = tmp_path / "pairs.parquet"
    pairs.write_parquet(path)
    streamed = as_dict(model.score(expression(), pairs=path, batch_size=16))
    assert streamed.keys() == set(chosen)
    assert all(abs(streamed[k] - everything[k]) <= 1e-6 for k in chosen)
    # The same pairs from an in-memory table.
    assert as_dict(model.score(expression(), pairs=pairs)) == streamed


def test_top_k_equals_a_full_sort(tmp_path):
    model = load_model(model_file(tmp_path, head="mlp"))
    full = model.score(expression())
    top = model.score(expression(), top_k=5)
    assert len(top) == len(TFS) * 5
    for tf in TFS:
        expected = full.filter(pl.col("TF") == tf).sort("score", descending=True)["score"].to_list()[:5]
        got = top.filter(pl.col("TF") == tf)["score"].to_list()
        assert sorted(got, reverse=True) == expected


def test_top_k_of_listed_pairs_equals_a_full_sort(tmp_path):
    model = load_model(model_file(tmp_path))
    full = model.score(expression())
    pairs = full.select(pl.col("TF").cast(pl.String).alias("tf"), pl.col("target").cast(pl.String))
    top = model.score(expression(), pairs=pairs.sample(fraction=1.0, shuffle=True, seed=1), top_k=3)
    for tf in TFS:
        expected = full.filter(pl.col("TF") == tf)["score"].to_list()[:3]
        assert sorted(top.filter(pl.col("TF") == tf)["score"].to_list(), reverse=True) == expected


def test_threshold_keeps_edges_at_or_above_it_and_youden_is_the_model_threshold(tmp_path):
    model = load_model(model_file(tmp_path, threshold=0.6))
    full = model.score(expression())
    kept = model.score(expression(), threshold=0.7)
    assert len(kept) == int((full["score"] >= 0.7).sum()) > 0
    assert kept["score"].min() >= 0.7
    youden = model.score(expression(), threshold="youden")
    assert len(youden) == int((full["score"] >= 0.6).sum())
    assert model.last_summary.edges_over_threshold == len(youden)


def test_summary_counts_edges_over_the_model_threshold_per_tf(tmp_path):
    model = load_model(model_file(tmp_path, threshold=0.5))
    full = model.score(expression(), top_k=2)  # the count covers every scored pair, not only the kept ones
    summary = model.last_summary
    assert len(full) == len(TFS) * 2
    everything = model.score(expression())
    over = everything.filter(pl.col("score") >= 0.5)
    assert summary.edges_over_threshold == len(over)
    counts = dict(over.group_by(pl.col("TF").cast(pl.String)).len().iter_rows())
    assert all(counts[name] == count for name, count in summary.top_tfs)


def test_two_modality_model_uses_the_bulk_data(tmp_path):
    bulk_genes, bulk_values = synthetic_expression(40, 30, seed=5)
    bulk = expression(bulk_values, bulk_genes, "<bulk>")
    proto = build_model(FEATURES, modalities=("single_cell", "bulk"), head="mlp", tfs=TFS)
    model = load_model(save_model(proto, tmp_path / "two.onnx"))
    got = as_dict(model.score(expression(), bulk=bulk))
    expected = all_pair_reference(proto, [expression(), bulk], TFS, GENES)
    assert max(abs(got[k] - expected[k]) for k in expected) <= 1e-5


def test_log1p_preprocessing_is_applied_to_the_expression(tmp_path):
    logged = load_model(model_file(tmp_path, "log.onnx", preprocessing=["log1p"]))
    plain = load_model(model_file(tmp_path, "plain.onnx"))
    a = as_dict(logged.score(expression()))
    b = as_dict(plain.score(expression(np.log1p(VALUES))))
    assert max(abs(a[k] - b[k]) for k in a) <= 1e-6
    assert max(abs(a[k] - c) for k, c in as_dict(plain.score(expression())).items()) > 1e-3


def test_score_tf_rows_matches_pairwise_function_for_every_blocking():
    rng = np.random.default_rng(0)
    tf_table = rng.standard_normal((5, 3)).astype(np.float32)
    gene_table = rng.standard_normal((7, 3)).astype(np.float32)

    def pair_scores(a, b):
        return (a * b).sum(axis=1) + a[:, 0]

    expected = tf_table @ gene_table.T + tf_table[:, :1]
    for batch in (1, 3, 7, 8, 20, 1000):
        rows = np.concatenate([r for _, r in score_tf_rows(pair_scores, tf_table, gene_table, batch_size=batch)])
        np.testing.assert_allclose(rows, expected, rtol=1e-6, atol=1e-6)


def test_score_tf_rows_and_listed_pairs_hand_each_pair_its_own_pair_features():
    from deeptgi_rt.scoring import PairBuffers, score_listed_pairs

    rng = np.random.default_rng(2)
    tf_table = rng.standard_normal((5, 3)).astype(np.float32)
    gene_table = rng.standard_normal((7, 3)).astype(np.float32)
    pair_table = rng.standard_normal((5, 7, 2, 1)).astype(np.float32)

    def pair_scores(a, b, pair):
        return (a * b).sum(axis=1) + 3 * pair[:, 0, 0] - pair[:, 1, 0]

    expected = tf_table @ gene_table.T + 3 * pair_table[:, :, 0, 0] - pair_table[:, :, 1, 0]
    for batch in (1, 3, 7, 8, 20, 1000):
        blocks = score_tf_rows(pair_scores, tf_table, gene_table, pair_table=pair_table, batch_size=batch)
        np.testing.assert_allclose(np.concatenate([r for _, r in blocks]), expected, rtol=1e-6, atol=1e-6)
        tf_index, gene_index = rng.integers(0, 5, 40), rng.integers(0, 7, 40)
        buffers = PairBuffers((3,), (3,), batch, (2, 1))
        listed = score_listed_pairs(pair_scores, tf_table, gene_table, tf_index, gene_index, buffers, pair_table)
        np.testing.assert_allclose(listed, expected[tf_index, gene_index], rtol=1e-6, atol=1e-6)


def test_rows_to_edges_drops_self_pairs_and_ranks_targets():
    rows = np.array([[0.1, 0.9, 0.5], [0.3, 0.2, 0.8]], dtype=np.float32)
    self_target = np.array([1, -1])
    edges = rows_to_edges(0, rows, self_target, rank=True)
    assert list(zip(edges.tf.tolist(), edges.target.tolist())) == [(0, 2), (0, 0), (1, 2), (1, 0), (1, 1)]
    top = rows_to_edges(0, rows, self_target, top_k=1)
    assert list(zip(top.tf.tolist(), top.target.tolist())) == [(0, 2), (1, 2)]
    kept = rows_to_edges(0, rows, self_target, threshold=0.3, rank=False)
    assert kept.score.tolist() == pytest.approx([0.5, 0.3, 0.8])


def test_top_k_accumulator_equals_brute_force_over_many_blocks():
    rng = np.random.default_rng(1)
    tf = rng.integers(0, 9, 5000).astype(np.int32)
    target = rng.integers(0, 100, 5000).astype(np.int32)
    score = rng.random(5000).astype(np.float32)
    top = TopKPerTF(4, reduce_every=300)
    for start in range(0, 5000, 256):
        top.add(EdgeBlock(tf[start : start + 256], target[start : start + 256], score[start : start + 256]))
    result = top.result()
    for t in range(9):
        expected = np.sort(score[tf == t])[::-1][:4]
        np.testing.assert_array_equal(result.score[result.tf == t], expected)


def test_pairs_file_is_read_in_batches_not_whole(tmp_path):
    from deeptgi_rt.pairs import PairSource

    frame = pl.DataFrame(
        {"TF": [f"T{i}" for i in range(1000)], "target": [f"G{i}" for i in range(1000)], "extra": list(range(1000))}
    )
    frame.write_parquet(tmp_path / "p.parquet", row_group_size=250)
    batches = list(PairSource(tmp_path / "p.parquet").batches(batch_rows=100))
    assert len(batches) == 10 and all(len(tf) == 100 for tf, _ in batches)
    assert batches[3][0][0].as_py() == "T300" and batches[3][1][0].as_py() == "G300"


def test_descending_order_equals_a_stable_argsort():
    from deeptgi_rt.edges import descending_order

    rng = np.random.default_rng(4)
    scores = rng.random(10_000).astype(np.float32)
    scores[::3] = 0.5  # many ties
    scores[::101] = 0.0
    scores[5] = -0.25  # negative floats sort below zero too
    np.testing.assert_array_equal(descending_order(scores), np.argsort(-scores, kind="stable"))
    assert descending_order(np.empty(0, np.float32)).shape == (0,)


def test_summary_says_which_pairs_were_scored(tmp_path):
    model = load_model(model_file(tmp_path))
    model.score(expression())
    summary = model.last_summary
    assert summary.pairs_scored == 6 * 39 and summary.self_pairs == 6
    assert summary.scored_shape() == "6 TFs x 39 targets each (40 genes less the TF itself)"
    model.score(expression(), genes=GENES[6:])
    assert model.last_summary.scored_shape() == "6 TFs x 34 targets"
    assert model.last_summary.pairs_scored == 6 * 34
    model.score(expression(), genes=GENES[3:])  # three of the TFs are among the targets
    assert model.last_summary.scored_shape() == "6 TFs x 37 targets, less 3 TF -> itself pairs"
    assert model.last_summary.pairs_scored == 6 * 37 - 3
    model.score(expression(), pairs=pl.DataFrame({"TF": [TFS[0], TFS[0], TFS[1]], "target": GENES[10:13]}))
    assert model.last_summary.scored_shape() == "2 TFs, 3 targets in the listed pairs"
    assert model.last_summary.pairs_scored == 3


def test_total_time_includes_loading_the_model_in_the_first_run(tmp_path):
    import time

    path = model_file(tmp_path)
    started = time.perf_counter()
    model = load_model(path)
    loading = time.perf_counter() - started
    first = model.write(tmp_path / "first.parquet", expression())
    assert 0 < first.stage_seconds["load"] <= loading
    assert first.total_seconds == pytest.approx(sum(first.stage_seconds.values()))
    assert first.total_seconds > sum(seconds for stage, seconds in first.stage_seconds.items() if stage != "load")
    model.score(expression())  # the same model again: nothing was loaded for this run
    assert model.last_summary.stage_seconds["load"] == 0.0
