"""What ``deeptgi-train cv`` says about its own duration: the cross-fitting default's cost and
the faster choice, before training, and the time left after each fold."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("torch")

from deeptgi_rt.errors import InputError  # noqa: E402
from deeptgi_train import cv  # noqa: E402
from deeptgi_train.cli import main  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    ("seconds", "text"), [(5, "5 s"), (89.4, "89 s"), (95, "2 min"), (40 * 60, "40 min"), (3 * 3600, "3.0 h")]
)
def test_durations_read_as_a_person_would_say_them(seconds, text):
    assert cv.format_duration(seconds) == text


def test_time_left_is_the_mean_fold_time_times_the_folds_to_come():
    done = [SimpleNamespace(seconds=100.0), SimpleNamespace(seconds=140.0)]
    assert cv.time_left(done, 5) == "; about 6 min left for 3 more folds"  # 3 x 120 s
    assert cv.time_left([SimpleNamespace(seconds=60.0)], 2) == "; about 60 s left for 1 more fold"
    assert cv.time_left(done, 2) == ""


def _cv_messages(monkeypatch, capsys, extra: list[str]) -> str:
    """stderr of ``cv --split tf`` on the example, stopped where training would start."""

    def stop(*args, **kwargs):
        raise InputError("stopped before training (test)")

    monkeypatch.setattr(cv, "run_cv", stop)
    argv = ["cv", "--expr", str(EXAMPLES / "mhsc-e.parquet"), "--labels", str(EXAMPLES / "mhsc-e-pairs.csv")]
    assert main([*argv, "--split", "tf", "--threads", "1", "--baselines", "none", *extra]) == 2
    return capsys.readouterr().err


def test_the_cross_fitting_default_says_its_cost_and_the_faster_choice(monkeypatch, capsys):
    err = _cv_messages(monkeypatch, capsys, [])
    line = next(line for line in err.splitlines() if "cross-fitted networks per fold by default" in line)
    assert line.startswith("--split tf: 5 cross-fitted") and "(25 in all)" in line
    assert "--crossfit 1 trains one network per fold, about 5x faster" in line


def test_no_such_line_when_the_user_chose(monkeypatch, capsys):
    for choice in (["--crossfit", "1"], ["--crossfit", "3"]):
        assert "by default" not in _cv_messages(monkeypatch, capsys, choice)
