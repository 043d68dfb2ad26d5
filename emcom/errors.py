"""An error a user can act on, as the one line the command line prints (emcom.cli)."""

from __future__ import annotations

import errno

from emcom.io import OutputError, os_error_cause

# OSErrors about the machine rather than the code: full disk, quota, permissions, read-only mount.
MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS})


def is_machine_error(error: BaseException) -> bool:
    """A full disk, an exceeded quota, a folder without write permission, a read-only file system."""
    return isinstance(error, OSError) and error.errno in MACHINE_ERRNOS


def _unwrap_worker_message(error: BaseException, text: str) -> str:
    """The original message of an exception re-raised by a DataLoader worker.

    torch re-raises a worker's exception in the main process as the same type whose message is the
    worker's whole traceback ("Caught BadImageError in DataLoader worker process 0. Original
    Traceback ... emcom.data.folder.BadImageError: cannot decode <file>"): keep what follows the
    last ``<type>: `` line.
    """
    kind = type(error)
    heads = (f"{kind.__module__}.{kind.__qualname__}: ", f"{kind.__qualname__}: ")
    lines = text.rstrip().splitlines()
    for index in range(len(lines) - 1, -1, -1):
        for head in heads:
            if lines[index].startswith(head):
                return "\n".join([lines[index][len(head):], *lines[index + 1:]])
    return lines[-1]


def user_message(error: BaseException) -> str:
    """The message of a user error, without a DataLoader worker's traceback around it.

    A machine OSError gets its file and its cause in words ("results/x: permission denied"); an
    :class:`~emcom.io.OutputError` already reads "cannot write <file>: <cause>".
    """
    if is_machine_error(error) and not isinstance(error, OutputError):
        where = " -> ".join(str(f) for f in (error.filename, error.filename2) if f)  # type: ignore[union-attr]
        return f"{where or 'error'}: {os_error_cause(error)}"  # type: ignore[arg-type]
    text = str(error)
    if "DataLoader worker process" in text and "Original Traceback" in text:
        return _unwrap_worker_message(error, text)
    return text
