"""Write an output file so that the target path holds either nothing or a complete file."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError

# errno values that mean "this place cannot take the file": a full or read-only disk, a quota,
# missing permission. The user fixes them (another --out, free space), so they are user errors
# (one line, exit 2), not crashes.
WRITE_ERRNOS = frozenset(
    code
    for code in (getattr(errno, name, None) for name in ("ENOSPC", "EDQUOT", "EROFS", "EACCES", "EPERM", "EFBIG"))
    if code is not None
)


def check_output_path(path: str | os.PathLike) -> Path:
    """Fail early, before any work, if ``path`` cannot be written.

    Raises :class:`InputError` when the parent directory is missing, the path is a directory,
    or no file can be created in the directory (read-only file system, no permission).
    """
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{target}: output directory {parent} does not exist")
    if target.is_dir():
        raise InputError(f"{target}: output path is a directory")
    # Creating a file is the only test that holds for every cause (permission bits, ACLs, a
    # read-only mount, root on NFS); os.access misses the last ones and lies for root.
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=parent)
    except OSError as exc:
        raise InputError(f"{target}: cannot write to {parent}: {_reason(exc)}") from None
    os.close(fd)
    os.unlink(probe)
    return target


def write_failure(exc: OSError, target: Path) -> InputError | None:
    """The one-line error for ``exc`` raised while writing ``target`` (or a scratch file beside
    it), or ``None`` when ``exc`` is not a write failure of that place (then it stays a crash)."""
    if exc.errno not in WRITE_ERRNOS:
        return None
    if exc.filename is not None and Path(os.fsdecode(exc.filename)).parent.resolve() != target.parent.resolve():
        return None
    return InputError(f"{target}: writing failed: {_reason(exc)}; nothing was written")


def _reason(exc: OSError) -> str:
    # pyarrow's messages wrap the system's ("Error writing bytes to file. Detail: [errno 28] ...");
    # the system's own words are the useful part.
    return os.strerror(exc.errno) if exc.errno else str(exc)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only on success.

    If the body raises (including KeyboardInterrupt), the temporary file is removed and
    whatever was at ``path`` before is left untouched. A write failure of that place (disk
    full, read-only, no permission) becomes an :class:`InputError` naming ``path``.
    """
    target = check_output_path(path)
    # Same directory as the target so the final rename is atomic on POSIX file systems.
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    except OSError as exc:
        raise (write_failure(exc, target) or exc) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600; give the result the permissions any new file would get.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        failure = write_failure(exc, target) if isinstance(exc, OSError) else None
        if failure is not None:
            raise failure from exc
        raise
