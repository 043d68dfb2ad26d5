"""Build a folder beside its final place and rename it there: a failure never leaves half a dataset."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from emcom.io import folder_mode

log = logging.getLogger(__name__)


def staging_prefixes(final: Path) -> tuple[str, str]:
    """Name prefixes of the temporary folders :func:`staged_folder` creates beside ``final``."""
    return f".{final.name}.building.", f".{final.name}.old."


def remove_stale_staging(final: str | Path) -> list[Path]:
    """Delete what a killed build of ``final`` left beside it (``.<name>.building.*``, ``.<name>.old.*``).

    Safe because only one build of a folder runs at a time: the workflow's rules are its only
    builders, and Snakemake locks the working directory against a second run producing the same
    outputs. Returns the folders removed.
    """
    final = Path(final)
    if not final.parent.is_dir():
        return []
    prefixes = staging_prefixes(final)
    stale = sorted(p for p in final.parent.iterdir() if p.name.startswith(prefixes) and p.is_dir())
    for folder in stale:
        log.info("removing %s, left by an earlier build that did not finish", folder)
        shutil.rmtree(folder, ignore_errors=True)
    return stale


@contextmanager
def staged_folder(final: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``final``; on success it replaces ``final``.

    Leftovers of a killed earlier build are removed first. An existing ``final`` (an older build,
    or the empty folder Snakemake creates for a declared output inside it) is moved aside and
    deleted only once the new folder is in place. On an exception the temporary folder is deleted
    and ``final`` is left as it was. The new folder gets the umask's mode (mkdtemp makes 0700);
    the files inside are the builder's and follow the umask already.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(final)
    building, old_prefix = staging_prefixes(final)
    tmp = Path(tempfile.mkdtemp(prefix=building, dir=final.parent))
    try:
        os.chmod(tmp, folder_mode())
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists() or final.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=old_prefix, dir=final.parent)) / final.name
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old.parent, ignore_errors=True)
