"""Label files: header spellings, checks, unknown genes, negatives."""

from __future__ import annotations

import numpy as np
import pytest

from deeptgi_rt.errors import InputError
from deeptgi_train.labels import add_negatives, check_trainable, drop_unknown_genes, read_labels


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "name, text, had_labels",
    [
        ("a.csv", "TF,Target,Label\nA,B,1\nA,C,0\n", True),
        ("b.csv", "Gene1,Gene2,Type\nA,B,+\nA,C,-\n", False),
        ("c.csv", "Gene1,Gene2,Score\nA,B,3\nA,C,7\n", False),
        ("d.tsv", "tf\tgene\tlabel\nA\tB\t1\nA\tC\t0\n", True),
        ("e.csv", "Source,TARGET\nA,B\nA,C\n", False),
        ("f.csv", "Gene1,Gene2,Label\nA,B,1.0\nA,C,0.0\n", True),
    ],
)
def test_header_spellings_are_understood(tmp_path, name, text, had_labels):
    pairs = read_labels(_write(tmp_path, name, text))
    assert pairs.tfs == ["A", "A"]
    assert pairs.targets == ["B", "C"]
    assert pairs.had_labels is had_labels
    expected = [1, 0] if had_labels else [1, 1]
    assert pairs.labels.tolist() == expected


def test_parquet_labels(tmp_path):
    import polars as pl

    path = tmp_path / "l.parquet"
    pl.DataFrame({"TF": ["A", "B"], "Target": ["C", "D"], "Label": [1, 0]}).write_parquet(path)
    pairs = read_labels(path)
    assert pairs.tfs == ["A", "B"] and pairs.labels.tolist() == [1, 0]


def test_missing_columns_name_file_and_columns_found(tmp_path):
    path = _write(tmp_path, "bad.csv", "regulated,weight\nA,1\n")
    with pytest.raises(InputError, match=r"bad\.csv.*columns found: regulated, weight"):
        read_labels(path)


def test_label_not_zero_or_one_names_row_and_value(tmp_path):
    path = _write(tmp_path, "bad.csv", "TF,Target,Label\nA,B,1\nA,C,2\n")
    with pytest.raises(InputError, match=r"bad\.csv: row 3: label '2' is not 0 or 1"):
        read_labels(path)


def test_duplicates_merged_and_conflicts_rejected(tmp_path):
    pairs = read_labels(_write(tmp_path, "dup.csv", "TF,Target,Label\nA,B,1\nA,B,1\nA,C,0\n"))
    assert len(pairs) == 2
    assert any("1 duplicate" in note for note in pairs.notes)
    with pytest.raises(InputError, match=r"row 3: pair A -> B is labelled both 1 and 0"):
        read_labels(_write(tmp_path, "conflict.csv", "TF,Target,Label\nA,B,1\nA,B,0\n"))


def test_unknown_genes_dropped_with_one_warning(tmp_path):
    class Collect:
        def __init__(self):
            self.warnings = []

        def warn(self, message):
            self.warnings.append(message)

    pairs = read_labels(_write(tmp_path, "l.csv", "TF,Target,Label\nA,B,1\nA,X,0\nY,B,1\nA,C,0\n"))
    reporter = Collect()
    kept = drop_unknown_genes(pairs, ["A", "B", "C"], data_source="expr.csv", reporter=reporter)
    assert list(zip(kept.tfs, kept.targets)) == [("A", "B"), ("A", "C")]
    assert len(reporter.warnings) == 1
    assert "2 of 4 pairs dropped" in reporter.warnings[0] and "X, Y" in reporter.warnings[0]
    with pytest.raises(InputError, match=r"no pair has both genes in expr\.csv"):
        drop_unknown_genes(pairs, ["Q"], data_source="expr.csv")


def _positives(tmp_path):
    text = "Gene1,Gene2\nT1,G1\nT1,G2\nT1,T2\nT2,G3\n"
    return read_labels(_write(tmp_path, "pos.csv", text))


GENES = ["T1", "T2"] + [f"G{i}" for i in range(1, 11)]


def test_balanced_negatives_match_edges_per_tf_and_avoid_positives(tmp_path):
    pairs = _positives(tmp_path)
    with_negatives = add_negatives(pairs, GENES, "balanced", seed=3)
    edges = {(tf, g) for tf, g in zip(pairs.tfs, pairs.targets)}
    negatives = [
        (tf, g) for tf, g, y in zip(with_negatives.tfs, with_negatives.targets, with_negatives.labels) if y == 0
    ]
    assert sum(1 for tf, _ in negatives if tf == "T1") == 3
    assert sum(1 for tf, _ in negatives if tf == "T2") == 1
    assert not edges & set(negatives)
    assert all(tf != g for tf, g in negatives)
    assert len(set(negatives)) == len(negatives)
    again = add_negatives(pairs, GENES, "balanced", seed=3)
    assert again.targets == with_negatives.targets
    other = [add_negatives(pairs, GENES, "balanced", seed=s).targets for s in range(4, 10)]
    assert any(targets != with_negatives.targets for targets in other)


def test_all_negatives_are_every_non_edge(tmp_path):
    pairs = _positives(tmp_path)
    with_negatives = add_negatives(pairs, GENES, "all")
    n_negative = int(np.count_nonzero(with_negatives.labels == 0))
    # T1: 12 genes - itself - 3 targets = 8; T2: 12 - 1 - 1 = 10.
    assert n_negative == 18
    negatives = {
        (tf, g) for tf, g, y in zip(with_negatives.tfs, with_negatives.targets, with_negatives.labels) if y == 0
    }
    assert ("T1", "G1") not in negatives and ("T2", "G3") not in negatives and ("T1", "T1") not in negatives


def test_positives_only_without_negatives_is_an_error(tmp_path):
    with pytest.raises(InputError, match="--negatives balanced"):
        check_trainable(_positives(tmp_path))


def test_gzipped_tsv_labels_are_tab_separated(tmp_path):
    import gzip

    path = tmp_path / "labels.tsv.gz"
    path.write_bytes(gzip.compress(b"TF\tTarget\tLabel\nA\tB\t1\nA\tC\t0\n"))
    pairs = read_labels(path)
    assert (pairs.tfs, pairs.targets, pairs.labels.tolist()) == (["A", "A"], ["B", "C"], [1, 0])


@pytest.mark.parametrize("header", ["regulator,target", "TF,Target", "Gene1,Gene2", "source,target", "tf,gene"])
def test_training_and_scoring_accept_the_same_pair_columns(tmp_path, header):
    from deeptgi_rt.pairs import PairSource

    path = _write(tmp_path, "pairs.csv", f"{header}\nA,B\nA,C\n")
    pairs = read_labels(path)
    [(tfs, targets)] = list(PairSource(path).batches())
    assert (pairs.tfs, pairs.targets) == (tfs.to_pylist(), targets.to_pylist()) == (["A", "A"], ["B", "C"])
