"""Build a folder beside its final place and rename it there: a failure never leaves half a dataset."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def staged_folder(final: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``final``; on success it replaces ``final``.

    An existing ``final`` (an older build, or the empty folder Snakemake creates for a declared
    output inside it) is moved aside and deleted only once the new folder is in place. On an
    exception the temporary folder is deleted and ``final`` is left as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.building.", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists() or final.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.", dir=final.parent)) / final.name
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old.parent, ignore_errors=True)
