"""Every command and snippet in README.md runs: the setup lines match CI, the quick commands and
the ```python blocks are executed.

Commands are the lines of ```bash blocks; a Python block runs as written, in the directory where
the README's commands wrote the files it reads. Setup lines (venv and pip) are not re-run here (the
suite already runs inside that setup), but the test command must be exactly what `.ci/run`
runs. `deeptgi-train` commands run with a tiny model, one epoch, one network per fold and no
baseline beside it, and every scoring or training command on one thread, so that each finishes in
seconds even on a loaded machine: what is exercised is the command line, not the training budget
(the accuracy figures come from benchmarks/).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

README = REPO / "README.md"
SETUP = re.compile(r"^python3 -m venv \.venv && \. \.venv/bin/activate && (pip install [^&]+)&& (.+)$")


def bash_commands() -> list[str]:
    """The lines of README's ```bash blocks, in order."""
    commands, inside = [], False
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```bash"
            continue
        if inside and line.strip() and not line.lstrip().startswith("#"):
            commands.append(line.strip())
    return commands


def test_readme_opens_with_exactly_two_setup_commands():
    setups = [c for c in bash_commands() if SETUP.match(c)]
    assert len(setups) == 2
    first_blocks = bash_commands()[:2]
    assert first_blocks == setups, "the two setup commands must be the first commands of README"
    main_job = SETUP.match(setups[0]).group(2)
    assert main_job.startswith("deeptgi-rt score examples/")


def test_ci_runs_the_readme_test_command():
    install, test_command = SETUP.match(bash_commands()[1]).groups()
    ci = (REPO / ".ci" / "run").read_text()
    assert install.strip() in ci.replace(" -q", "")
    assert test_command.strip() in ci


def _quick(command: str, tmp: Path) -> list[str]:
    """``command`` as argv, run from a copy of the repo's inputs; training commands shrunk."""
    argv = shlex.split(command)
    if argv[0] == "deeptgi-train" and argv[1] in ("cv", "fit"):
        # Cross-fitting (cv --split tf|gene and fit by default) trains five networks: one will do.
        argv += ["--config", "tiny", "--epochs", "1", "--crossfit", "1", "--threads", "1"]
        if argv[1] == "cv":
            argv[argv.index("--folds") + 1] = "2"
            argv += ["--baselines", "none"]
    elif argv[:2] == ["deeptgi-rt", "score"]:
        argv += ["--threads", "1"]
    return argv


def runnable_commands() -> list[str]:
    """README commands other than the setup lines (their second half is covered separately)."""
    return [c for c in bash_commands() if not SETUP.match(c)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A scratch directory laid out like the repo (examples, runtime) next to ../shared; models by name."""
    root = tmp_path_factory.mktemp("readme") / "repo"
    root.mkdir()
    for name in ("examples", "runtime"):
        if (REPO / name).exists():
            shutil.copytree(REPO / name, root / name)
    shared = REPO.parent / "shared"
    if shared.exists():
        (root.parent / "shared").symlink_to(shared)
    return root


def test_main_job_of_the_first_command_runs(workdir):
    main_job = SETUP.match(bash_commands()[0]).group(2)
    _run(shlex.split(main_job), workdir)


@pytest.mark.parametrize("command", runnable_commands(), ids=lambda c: " ".join(c.split()[:3]))
def test_readme_command_runs(command, workdir):
    # Commands may use files made by earlier ones (the first command's network, for the plot).
    main_job = SETUP.match(bash_commands()[0]).group(2)
    if "mhsc-e-grn.parquet" in command and not (workdir / "mhsc-e-grn.parquet").exists():
        _run(shlex.split(main_job), workdir)
    _run(_quick(command, workdir), workdir)


def _run(argv: list[str], cwd: Path) -> None:
    executable = Path(sys.executable).parent / argv[0]
    if argv[0] == "python":
        argv = [sys.executable, *argv[1:]]
    elif executable.exists():
        argv = [str(executable), *argv[1:]]
    # Both packages from this checkout (deeptgi_train lives under train/).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "train")]))
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(argv)} failed:\n{result.stderr[-2000:]}"


def python_blocks() -> list[str]:
    """The ```python blocks of README, each as one program."""
    blocks, current = [], None
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            if current is not None:
                blocks.append("\n".join(current) + "\n")
            current = [] if line.strip() == "```python" else None
            continue
        if current is not None:
            current.append(line)
    return blocks


def _files_read(block: str) -> list[str]:
    return re.findall(r"[\"']([\w./-]+\.(?:parquet|tsv|csv|onnx))[\"']", block)


def _written_by(argv: list[str]) -> str | None:
    """The file a README command writes (its ``--out``, or ``convert``'s second argument)."""
    if "--out" in argv:
        return argv[argv.index("--out") + 1]
    if argv[:2] == ["deeptgi-rt", "convert"]:
        return argv[3]
    return None


def test_readme_has_python_blocks():
    assert len(python_blocks()) >= 2


@pytest.mark.parametrize("block", python_blocks(), ids=lambda b: b.split("\n")[2][:40])
def test_readme_python_block_runs(block, workdir):
    # The files a snippet reads are the repo's or are written by a README command, run first if
    # an earlier test has not.
    for name in _files_read(block):
        if (workdir / name).exists():
            continue
        writers = [
            c
            for c in runnable_commands() + [SETUP.match(bash_commands()[0]).group(2)]
            if _written_by(shlex.split(c)) == name
        ]
        assert writers, f"README's Python reads {name}, which no README command writes"
        _run(_quick(writers[0], workdir), workdir)
        assert (workdir / name).exists(), f"{writers[0]} did not write {name}"
    _run(["python", "-c", block], workdir)
