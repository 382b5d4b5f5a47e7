"""Output places that cannot take the file: refused before any work, or one line and nothing
left when the disk fills (or turns read-only) during the write.

A read-only directory is simulated by making file creation in it fail with EROFS, since the
suite may run as root, for whom permission bits do not stop writes; the permission-bit case
runs as well where the suite is not root. A full disk is a writer that writes part of the
file and then raises ENOSPC the way pyarrow does (errno set, no file name).
"""

from __future__ import annotations

import errno
import os
import tempfile

import pytest
from onnx_models import build_model, save_model, synthetic_expression, write_genes_by_cells_csv

from deeptgi_rt.atomic import atomic_output, check_output_path, write_failure
from deeptgi_rt.cli import main, run_command
from deeptgi_rt.errors import InputError

GENES, VALUES = synthetic_expression(30, 40)


@pytest.fixture()
def files(tmp_path):
    expr = write_genes_by_cells_csv(tmp_path / "expr.csv", GENES, VALUES)
    model = save_model(build_model(GENES[:12], head="mlp", tfs=GENES[:4]), tmp_path / "model.onnx")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    return tmp_path, expr, model, out_dir


@pytest.fixture()
def read_only(monkeypatch):
    """Directories (added to the returned set) in which creating a file fails with EROFS."""
    refused: set[str] = set()
    original = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and os.path.realpath(dir) in refused:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.path.join(str(dir), "x"))
        return original(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    return refused


def _one_error_line(err: str, prog: str = "deeptgi-rt") -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), err
    return lines[0]


def _commands(tmp, expr, model, out_dir):
    missing = str(tmp / "not-read.csv")  # an input error would name this file: the output check must come first
    return {
        "score": ["score", missing, "--model", str(model), "--out", str(out_dir / "grn.parquet")],
        "pcc": ["pcc", missing, "--out", str(out_dir / "pcc.parquet")],
        "convert": ["convert", missing, str(out_dir / "expr.parquet")],
    }


@pytest.mark.parametrize("command", ["score", "pcc", "convert"])
def test_read_only_output_directory_is_refused_before_any_work(files, read_only, capsys, command):
    tmp, expr, model, out_dir = files
    read_only.add(os.path.realpath(out_dir))
    assert main(_commands(tmp, expr, model, out_dir)[command] + ["--quiet"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"cannot write to {out_dir}: Read-only file system" in line
    assert "not-read.csv" not in line
    assert list(out_dir.iterdir()) == []


def test_train_fit_checks_its_out_directory_before_any_work(files, read_only, capsys):
    pytest.importorskip("torch")
    from deeptgi_train.cli import main as train_main

    tmp, expr, model, out_dir = files
    read_only.add(os.path.realpath(out_dir))
    code = train_main(
        [
            "fit",
            "--expr",
            str(tmp / "not-read.csv"),
            "--labels",
            str(tmp / "none.csv"),
            "--out",
            str(out_dir / "model.onnx"),
            "--quiet",
        ]
    )
    assert code == 2
    line = _one_error_line(capsys.readouterr().err, "deeptgi-train")
    assert f"{out_dir / 'model.onnx'}: cannot write to {out_dir}" in line


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root writes through permission bits; the EROFS simulation above covers the check",
)
def test_directory_without_write_permission_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(InputError, match="cannot write to"):
            check_output_path(locked / "grn.parquet")
    finally:
        locked.chmod(0o755)


def _disk_fills_after(monkeypatch, owner, name: str, path_arg: int = 1):
    """Replace ``owner.name`` by a writer that puts a few bytes at its output path and then
    fails like pyarrow on a full disk."""
    calls = []

    def full_disk(*args, **kwargs):
        calls.append(args)
        with open(args[path_arg], "wb") as handle:
            handle.write(b"PAR1 partial")
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(owner, name, full_disk)
    return calls


@pytest.mark.parametrize("case", ["score parquet", "score tsv", "convert", "pcc"])
def test_disk_full_during_the_write_is_one_line_and_leaves_the_old_file(files, monkeypatch, capsys, case):
    import pyarrow.parquet as pq

    import deeptgi_rt.edges as edges

    tmp, expr, model, out_dir = files
    if case == "score parquet":
        out = out_dir / "grn.parquet"
        calls = _disk_fills_after(monkeypatch, edges, "write_edges", path_arg=2)
        argv = ["score", str(expr), "--model", str(model), "--out", str(out)]
    elif case == "score tsv":
        # Streaming path: edges spool to a scratch file beside the output, then become TSV.
        out = out_dir / "grn.tsv"
        calls = _disk_fills_after(monkeypatch, edges, "write_tsv", path_arg=1)
        argv = ["score", str(expr), "--model", str(model), "--out", str(out), "--max-sort-edges", "0"]
    elif case == "convert":
        out = out_dir / "expr.parquet"
        calls = _disk_fills_after(monkeypatch, pq, "write_table", path_arg=1)
        argv = ["convert", str(expr), str(out)]
    else:
        out = out_dir / "pcc.parquet"
        calls = []

        class FullDiskWriter(pq.ParquetWriter):
            def write_table(self, table, *args, **kwargs):
                calls.append(table)
                raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")

        monkeypatch.setattr(pq, "ParquetWriter", FullDiskWriter)
        argv = ["pcc", str(expr), "--out", str(out)]
    out.write_bytes(b"previous result")
    assert main(argv + ["--quiet"]) == 2
    assert calls, "the simulated full disk was never reached"
    line = _one_error_line(capsys.readouterr().err)
    assert line == f"deeptgi-rt: error: {out}: writing failed: No space left on device; nothing was written"
    assert out.read_bytes() == b"previous result"
    assert [p.name for p in out_dir.iterdir()] == [out.name]


def test_a_failure_elsewhere_is_not_blamed_on_the_output(tmp_path):
    target = tmp_path / "out" / "grn.parquet"
    elsewhere = OSError(errno.EACCES, "Permission denied", str(tmp_path / "input.csv"))
    assert write_failure(elsewhere, target) is None
    assert write_failure(OSError(errno.EIO, "Input/output error"), target) is None
    beside = OSError(errno.EDQUOT, "Disk quota exceeded", str(target.parent / ".grn.parquet.x.partial"))
    assert "grn.parquet: writing failed: Disk quota exceeded" in str(write_failure(beside, target))
    (tmp_path / "out").mkdir()
    with pytest.raises(PermissionError):
        with atomic_output(target):
            raise elsewhere
    assert list((tmp_path / "out").iterdir()) == []


def test_unwritable_or_unreadable_files_met_elsewhere_are_one_line(capsys):
    import argparse

    def run(args):
        raise PermissionError(errno.EACCES, "Permission denied", "/data/counts.h5ad")

    assert run_command("deeptgi-rt", argparse.Namespace(run=run)) == 2
    assert capsys.readouterr().err == "deeptgi-rt: error: /data/counts.h5ad: Permission denied\n"

    def crash(args):
        raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(OSError):
        run_command("deeptgi-rt", argparse.Namespace(run=crash))


def test_check_output_path_leaves_no_probe_behind(tmp_path):
    check_output_path(tmp_path / "grn.parquet")
    assert list(tmp_path.iterdir()) == []
