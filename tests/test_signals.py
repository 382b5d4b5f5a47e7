"""SIGTERM and SIGHUP (a workflow manager's or scheduler's cancel, a closed terminal) clean up
like Ctrl-C: no ``.NAME.XXXX.partial`` beside the output, the old file kept, exit 128 + signal.

The child is a small command run the way every console script runs (``run_command``) that
writes through ``atomic_output`` and blocks mid-write until signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO

CHILD = textwrap.dedent("""
    import argparse, signal, sys, time
    from deeptgi_rt.atomic import atomic_output
    from deeptgi_rt.cli import run_command

    # As a shell starts a foreground job; a parent (or a background test run) may have set these to ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_IGN if sys.argv[2] == "nohup" else signal.SIG_DFL)

    def run(args):
        with atomic_output(args.out) as tmp:
            tmp.write_bytes(b"half a result")
            print("writing", flush=True)
            time.sleep(60)
        return 0

    sys.exit(run_command("child", argparse.Namespace(run=run, out=sys.argv[1])))
""")


def _start(tmp_path, mode: str = "normal"):
    out = tmp_path / "grn.parquet"
    out.write_bytes(b"previous result")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(out), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout.readline().strip() == "writing"
    assert len([p for p in tmp_path.iterdir() if p.name.endswith(".partial")]) == 1
    return child, out


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
@pytest.mark.parametrize(
    "signum, message",
    [
        (signal.SIGTERM, "child: terminated by SIGTERM"),
        (getattr(signal, "SIGHUP", 1), "child: terminated by SIGHUP"),
        (signal.SIGINT, "child: interrupted"),
    ],
)
def test_signal_removes_the_partial_file_and_keeps_the_old_one(tmp_path, signum, message):
    child, out = _start(tmp_path)
    child.send_signal(signum)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 128 + signum
    assert err.strip() == message
    assert [p.name for p in tmp_path.iterdir()] == ["grn.parquet"]
    assert out.read_bytes() == b"previous result"


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
def test_an_ignored_sighup_stays_ignored(tmp_path):
    # Under nohup the run must survive the terminal closing; SIGTERM still stops it cleanly.
    child, out = _start(tmp_path, "nohup")
    child.send_signal(signal.SIGHUP)
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(timeout=1)
    child.send_signal(signal.SIGTERM)
    child.communicate(timeout=30)
    assert child.returncode == 128 + signal.SIGTERM
    assert [p.name for p in tmp_path.iterdir()] == ["grn.parquet"]
