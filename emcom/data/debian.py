"""Debian packages as data sources: fetched with ``apt-get download``, read, never installed.

The embedded default builds its data from Debian archives (``tuxpaint-stamps-default``,
``dataset-fashion-mnist``, ``wordnet-base``, ``wordnet-sense-index``). A package is downloaded once
into a cache folder as ``<cache>/<package>.deb`` (a stable name, so rules and tests can share it; a
copy dropped there by hand is used as is, which is how an offline machine gets its data). Its files
are then read straight from ``dpkg-deb --fsys-tarfile`` streamed into :mod:`tarfile`: nothing is
installed and nothing outside the caller's output folder is written.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Callable, Iterator

log = logging.getLogger(__name__)


class DebianPackageError(RuntimeError):
    """A Debian package could not be downloaded or read; the message names it and says what to do."""


def cached_deb(package: str, cache_dir: str | Path) -> Path:
    """Path of the cached archive of ``package`` (it may not exist yet)."""
    return Path(cache_dir) / f"{package}.deb"


def fetch_deb(package: str, cache_dir: str | Path) -> Path:
    """Return ``<cache_dir>/<package>.deb``, downloading it with ``apt-get download`` if absent.

    The download happens in a temporary folder inside the cache and is renamed into place, so an
    interrupted download never leaves a truncated archive under the final name.
    """
    target = cached_deb(package, cache_dir)
    if target.is_file():
        return target
    if shutil.which("apt-get") is None:
        raise DebianPackageError(
            f"cannot download Debian package {package!r}: apt-get not found. On a non-Debian machine "
            f"download {package}_*.deb by hand and save it as {target}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{package}.", dir=target.parent) as tmp:
        log.info("downloading Debian package %s (apt-get download)", package)
        result = subprocess.run(
            ["apt-get", "download", "-q", package], cwd=tmp, capture_output=True, text=True
        )
        debs = sorted(Path(tmp).glob("*.deb"))
        if result.returncode != 0 or len(debs) != 1:
            message = (result.stderr or result.stdout).strip().splitlines()
            raise DebianPackageError(
                f"cannot download Debian package {package!r} (apt-get download exit code "
                f"{result.returncode}: {message[-1] if message else 'no message'}). Run `apt-get update` "
                f"(install.sh does) so apt knows the package, or save {package}_*.deb as {target}"
            )
        os.replace(debs[0], target)
    log.info("cached %s (%.1f MB)", target, target.stat().st_size / 1e6)
    return target


def _member_name(member: tarfile.TarInfo) -> str:
    """Archive names look like ``./usr/share/...``; callers use ``usr/share/...``."""
    name = member.name
    return name[2:] if name.startswith("./") else name.lstrip("/")


def iter_deb_files(deb: str | Path, wanted: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
    """Yield ``(path, content)`` of the regular files of ``deb`` whose path satisfies ``wanted``.

    Paths are relative to the filesystem root (``usr/share/...``), in archive order. The archive is
    streamed once (``dpkg-deb --fsys-tarfile``), so reading a few files of a large package costs one
    pass of decompression and no disk space.
    """
    deb = Path(deb)
    if not deb.is_file():
        raise DebianPackageError(f"Debian archive not found: {deb}")
    if shutil.which("dpkg-deb") is None:
        raise DebianPackageError(f"cannot read {deb}: dpkg-deb not found (it ships with every Debian system)")
    process = subprocess.Popen(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        with tarfile.open(fileobj=process.stdout, mode="r|") as archive:
            for member in archive:
                name = _member_name(member)
                if member.isfile() and wanted(name):
                    yield name, archive.extractfile(member).read()
    except tarfile.TarError as error:
        raise DebianPackageError(f"{deb} is not a readable Debian archive: {error}") from error
    finally:
        # Drain so dpkg-deb does not block on a full pipe when the caller stops early.
        process.stdout.close()
        stderr = process.stderr.read().decode(errors="replace").strip()
        process.stderr.close()
        code = process.wait()
    if code != 0:
        raise DebianPackageError(f"dpkg-deb --fsys-tarfile {deb} failed (exit code {code}): {stderr}")


def read_deb_files(deb: str | Path, paths: list[str]) -> dict[str, bytes]:
    """Contents of the named files of ``deb`` (paths like ``usr/share/...``); a missing one raises."""
    wanted = set(paths)
    found = dict(iter_deb_files(deb, wanted.__contains__))
    missing = sorted(wanted - set(found))
    if missing:
        raise DebianPackageError(f"{deb} lacks {len(missing)} expected file(s): {missing[:5]}")
    return found


def deb_version(deb: str | Path) -> str:
    """The ``Version`` field of a ``.deb`` (recorded in manifests: which data a dataset came from)."""
    result = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True)
    if result.returncode != 0:
        raise DebianPackageError(f"cannot read the version of {deb}: {result.stderr.strip()}")
    return result.stdout.strip()
