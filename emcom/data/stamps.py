"""The embedded default dataset: photo cut-outs of Debian's ``tuxpaint-stamps-default`` (GPL-2),
composited onto procedural backgrounds.

Input: a curated table (``stamps.table``, TSV) with one row per usable stamp::

    path      stamp file relative to usr/share/tuxpaint/stamps/ (animals/birds/crow.png)
    synset    WordNet 3.0 synset name (crow.n.01), checked against the wnid
    wnid      the class ('n' + 8-digit offset); several stamps may share a class
    label     short human label (free text)

Output (the layout of :mod:`emcom.data.folder`)::

    <root>/train/<wnid>/<stamp>_<i>.png   train_per_stamp composites of each training stamp
    <root>/val/<wnid>/<stamp>_<i>.png     val_per_stamp new composites of the same stamps
    <root>/ood/<wnid>/<stamp>_<i>.png     ood_per_stamp composites of each OOD stamp
    <root>/classes.tsv                    wnid, name (WordNet lemma), source (package:path;...)
    <root>/manifest.json                  per-split counts, config, OOD wnids (written last)

OOD classes are drawn with :func:`emcom.data.splits.choose_ood_classes`. Composite ``i`` of a stamp
in a split is generated from ``(seed, split, stamp path, i)`` alone, so the bytes do not depend on
the number of processes or the order of work.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

import numpy as np
import pandas as pd

from emcom.data.compositing import background_pool, composite, prepare_stamp
from emcom.data.debian import deb_version, fetch_deb, iter_deb_files
from emcom.data.folder import read_tsv
from emcom.data.manifest import write_classes, write_manifest
from emcom.data.splits import check_ood_split, choose_ood_classes
from emcom.data.staging import staged_folder
from emcom.wordnet import WordNet, WordNetError

log = logging.getLogger(__name__)

PACKAGE = "tuxpaint-stamps-default"
STAMP_DIR = "usr/share/tuxpaint/stamps/"
TABLE_COLUMNS = ("path", "synset", "wnid", "label")
SPLITS = ("train", "val", "ood")


class StampTableError(ValueError):
    """The curated stamp table is unusable; the message names the file, line and value."""


@dataclass(frozen=True)
class StampsConfig:
    """The ``stamps:`` section of config.yaml (see rules/schema.yaml for each key)."""

    table: str = "data/stamps.tsv"
    image_size: int = 32
    train_per_stamp: int = 40
    val_per_stamp: int = 8
    ood_per_stamp: int = 16
    ood_fraction: float = 0.2
    seed: int = 0
    # 0: every composite gets a background of its own. N > 0: N backgrounds drawn once and shared by
    # all composites of all splits, so that a background cannot tell one image from the others in a
    # batch (docs/calibration.md: with a background each, the symbols named the backgrounds).
    background_pool: int = 0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> "StampsConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config key(s) {['stamps.' + k for k in unknown]}; known: {sorted(known)}")
        config = cls(**values)
        for key in ("image_size", "train_per_stamp", "val_per_stamp", "ood_per_stamp"):
            if int(getattr(config, key)) < 1:
                raise ValueError(f"config key stamps.{key} must be >= 1, got {getattr(config, key)!r}")
        if int(config.background_pool) < 0:
            raise ValueError(f"config key stamps.background_pool must be >= 0, got {config.background_pool!r}")
        if not 0 < config.ood_fraction < 1:
            raise ValueError(f"config key stamps.ood_fraction must be in (0, 1), got {config.ood_fraction!r}")
        return config

    @property
    def working_size(self) -> int:
        """Longest side of the pre-scaled stamps: twice the output, so downscaling stays sharp."""
        return max(64, 2 * self.image_size)


def read_stamp_table(path: str | Path, wordnet: WordNet) -> pd.DataFrame:
    """Read and check the curated table: columns, unique paths, wnids known and matching the synset."""
    path = Path(path)
    if not path.is_file():
        raise StampTableError(f"stamp table not found: {path} (config key stamps.table)")
    table = read_tsv(path, TABLE_COLUMNS, StampTableError)
    if table.empty:
        raise StampTableError(f"{path}: no rows")
    duplicated = table["path"][table["path"].duplicated()].tolist()
    if duplicated:
        raise StampTableError(f"{path}: stamp(s) listed twice: {duplicated[:5]}")
    for line, row in enumerate(table.itertuples(index=False), start=2):  # line 1 is the header
        if not row.path.endswith(".png") or row.path.startswith("/") or ".." in row.path.split("/"):
            raise StampTableError(f"{path}:{line}: path {row.path!r} is not a .png relative to {STAMP_DIR}")
        try:
            synset = wordnet.synset(row.wnid)
        except WordNetError as error:
            raise StampTableError(f"{path}:{line}: {error}") from error
        if row.synset and row.synset != synset.name():
            raise StampTableError(
                f"{path}:{line}: synset {row.synset!r} does not match wnid {row.wnid} ({synset.name()})"
            )
    return table


@dataclass(frozen=True)
class _StampJob:
    """All composites of one stamp: ``outputs`` is ((split, count, class folder), ...)."""

    path: str
    png: bytes
    outputs: tuple[tuple[str, int, Path], ...]
    image_size: int
    working_size: int
    seed: int
    background_pool: int = 0


def _key(text: str) -> int:
    """A stable 32-bit key of a string (Python's hash() is salted per process)."""
    return zlib.crc32(text.encode())


def composite_rng(seed: int, split: str, stamp_path: str, index: int) -> np.random.Generator:
    """The generator of composite ``index`` of a stamp in a split: a function of these four alone."""
    return np.random.default_rng([seed, _key(split), _key(stamp_path), index])


def _render(job: _StampJob) -> tuple[str, int]:
    stamp = prepare_stamp(job.png, job.working_size, name=job.path)
    stem = job.path[: -len(".png")].replace("/", "-")
    # the same pool in every job: drawn from the dataset seed alone (cheap: N small arrays)
    backgrounds = background_pool(job.seed, job.background_pool, job.image_size) if job.background_pool else None
    written = 0
    for split, count, folder in job.outputs:
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            image = composite(stamp, composite_rng(job.seed, split, job.path, index), job.image_size,
                              backgrounds=backgrounds)
            image.save(folder / f"{stem}_{index:04d}.png")
            written += 1
    return job.path, written


def _pool(processes: int):
    if processes <= 1:
        return None
    # fork: workers inherit the imported modules (no re-import cost); they use no threads of ours.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None).Pool(processes)


def build_stamps_dataset(
    out_root: str | Path,
    config: StampsConfig | Mapping[str, Any],
    deb_cache: str | Path,
    nltk_data: str | Path,
    processes: int = 2,
    package_deb: Optional[str | Path] = None,
) -> dict:
    """Build the stamps dataset at ``out_root`` (staged, renamed into place); return its manifest.

    ``package_deb`` overrides the cached ``tuxpaint-stamps-default`` archive (tests pass a tiny one).
    """
    if not isinstance(config, StampsConfig):
        config = StampsConfig.from_mapping(config)
    wordnet = WordNet(nltk_data)
    table = read_stamp_table(config.table, wordnet)
    wnids = sorted(set(table["wnid"]))
    ood = set(choose_ood_classes(wnids, wordnet, config.ood_fraction, config.seed))
    train = [w for w in wnids if w not in ood]
    check_ood_split(train, sorted(ood), wordnet)  # the invariant the paper's OOD set has
    deb = Path(package_deb) if package_deb is not None else fetch_deb(PACKAGE, deb_cache)
    wnid_of = dict(zip(table["path"], table["wnid"]))
    log.info("%d stamps, %d classes: %d train/val, %d OOD", len(table), len(wnids), len(train), len(ood))

    with staged_folder(out_root) as root:

        def jobs() -> Iterator[_StampJob]:
            wanted = lambda n: n.startswith(STAMP_DIR) and n[len(STAMP_DIR):] in wnid_of  # noqa: E731
            for name, png in iter_deb_files(deb, wanted):
                path = name[len(STAMP_DIR):]
                wnid = wnid_of[path]
                if wnid in ood:
                    outputs = (("ood", config.ood_per_stamp, root / "ood" / wnid),)
                else:
                    outputs = (
                        ("train", config.train_per_stamp, root / "train" / wnid),
                        ("val", config.val_per_stamp, root / "val" / wnid),
                    )
                yield _StampJob(path, png, outputs, config.image_size, config.working_size, config.seed,
                                config.background_pool)

        done, images = set(), 0
        pool = _pool(processes)
        try:
            results = pool.imap_unordered(_render, jobs()) if pool else map(_render, jobs())
            for path, written in results:
                done.add(path)
                images += written
                if len(done) % 50 == 0 or len(done) == len(table):
                    log.info("composited %d/%d stamps, %d images", len(done), len(table), images)
        except BaseException:
            if pool:
                pool.terminate()  # do not finish the queued stamps of a build that failed
            raise
        finally:
            if pool:
                pool.close()
                pool.join()
        absent = sorted(set(wnid_of) - done)
        if absent:
            raise StampTableError(
                f"{config.table}: {len(absent)} stamp(s) not in {deb.name} under {STAMP_DIR}: {absent[:5]}"
            )

        sources = table.groupby("wnid")["path"].apply(lambda paths: ";".join(f"{PACKAGE}:{p}" for p in sorted(paths)))
        write_classes(root, ({"wnid": w, "name": wordnet.name(w), "source": sources[w]} for w in wnids))
        manifest = write_manifest(
            root,
            "stamps",
            SPLITS,
            dataclasses.asdict(config),
            source={"package": PACKAGE, "version": deb_version(deb), "stamps": len(table)},
            ood_wnids=sorted(ood),
        )
    return manifest
