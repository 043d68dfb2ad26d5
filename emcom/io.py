"""Atomic file writes: a reader never sees a half-written result, a crash never leaves one.

Files and folders are created with the modes the user's umask allows (``0o666 & ~umask`` and
``0o777 & ~umask``, as ``open``/``mkdir`` would), not the private 0600/0700 of ``tempfile``: on a
shared cluster a group can then read the results. A write that fails for a reason the user can fix
(no space left, permission denied, read-only file system) raises :class:`OutputError`, one line
naming the final file and the cause.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

# errno -> what the user reads; anything else falls back to os.strerror.
_CAUSES = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
}


class OutputError(OSError):
    """An output could not be written; the message names the file and the cause (one line)."""

    @classmethod
    def from_os_error(cls, error: OSError, path: str | Path) -> "OutputError":
        wrapped = cls(describe_os_error(error, path))
        wrapped.errno = error.errno  # kept for callers; str() stays the one-line message
        return wrapped


def current_umask() -> int:
    """The process umask (POSIX only offers it by setting it: set and restore at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    return 0o666 & ~current_umask()


def folder_mode() -> int:
    return 0o777 & ~current_umask()


def os_error_cause(error: OSError) -> str:
    """The cause of an OSError in words ("no space left on device"), from its errno."""
    return _CAUSES.get(error.errno) or error.strerror or str(error)  # type: ignore[arg-type]


def describe_os_error(error: OSError, path: str | Path) -> str:
    """``cannot write <path>: <cause>``."""
    return f"cannot write {path}: {os_error_cause(error)}"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The file ends up with the umask's mode. An OSError inside the block (a full disk, a read-only
    folder) is re-raised as :class:`OutputError` naming ``path``, with the original chained.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise OutputError.from_os_error(error, path) from error
    os.close(handle)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, file_mode())  # mkstemp makes 0600
        os.replace(tmp_path, path)
    except OutputError:
        raise
    except OSError as error:
        raise OutputError.from_os_error(error, path) from error
    finally:
        tmp_path.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_json(path: str | Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")
