"""The one dataset layout every stage reads: ``root/<split>/<wnid>/<image>`` plus ``root/classes.tsv``.

``classes.tsv`` (columns wnid, name, source) describes every class of every split. A split's class
index is the position of its wnid in the sorted list of the split's wnid folders: for ILSVRC-2012
that is the standard order, and train and val share it.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pandas as pd
import torch
from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
WNID_PATTERN = re.compile(r"^n\d{8}$")
CLASSES_FILE = "classes.tsv"
CLASSES_COLUMNS = ("wnid", "name", "source")


class DatasetError(ValueError):
    """The dataset on disk is not usable; the message names the file or folder."""


class BadImageError(DatasetError):
    """An image file could not be decoded."""


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int


def read_tsv(path: Path, columns: tuple[str, ...], error: type[Exception] = DatasetError) -> pd.DataFrame:
    """Read a tab-separated table as strings (empty cells stay ""), raising ``error`` naming the file
    and the missing columns if any of ``columns`` is absent."""
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise error(f"{path}: missing column(s) {missing}; expected {list(columns)}")
    return table


def read_classes(root: str | Path) -> pd.DataFrame:
    """Read ``root/classes.tsv`` (wnid, name, source), checking columns and wnids."""
    path = Path(root) / CLASSES_FILE
    if not path.is_file():
        raise DatasetError(f"missing {path}: every dataset root needs a classes.tsv (wnid, name, source)")
    table = read_tsv(path, CLASSES_COLUMNS)
    bad = [w for w in table["wnid"] if not WNID_PATTERN.match(w)]
    if bad:
        raise DatasetError(f"{path}: malformed wnid(s) {bad[:5]} (expected 'n' + 8 digits)")
    return table


def list_samples(split_dir: Path) -> tuple[list[str], list[Sample]]:
    """Scan ``split_dir/<wnid>/*``: (sorted wnids, samples). Empty classes and odd folders raise."""
    if not split_dir.is_dir():
        raise DatasetError(f"dataset split folder not found: {split_dir}")
    wnids = sorted(entry.name for entry in os.scandir(split_dir) if entry.is_dir())
    if not wnids:
        raise DatasetError(f"{split_dir}: no class folders (expected {split_dir}/<wnid>/<images>)")
    malformed = [w for w in wnids if not WNID_PATTERN.match(w)]
    if malformed:
        raise DatasetError(f"{split_dir}: class folder(s) {malformed[:5]} are not wnids (n + 8 digits)")
    samples = []
    for label, wnid in enumerate(wnids):
        files = sorted(
            entry.name
            for entry in os.scandir(split_dir / wnid)
            if entry.is_file() and entry.name.lower().endswith(IMAGE_SUFFIXES)
        )
        if not files:
            raise DatasetError(f"empty class folder: {split_dir / wnid} holds no {'/'.join(IMAGE_SUFFIXES)} image")
        samples.extend(Sample(split_dir / wnid / name, label) for name in files)
    return wnids, samples


def load_rgb(path: Path) -> Image.Image:
    """Decode an image file to RGB, raising :class:`BadImageError` that names the file."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise BadImageError(f"cannot decode image {path}: {error}") from error


def load_rgb_or_skip(path: Path, on_bad_image: str) -> Optional[Image.Image]:
    """:func:`load_rgb`, or ``None`` (logged) for an undecodable file when ``on_bad_image == "skip"``."""
    try:
        return load_rgb(path)
    except BadImageError:
        if on_bad_image == "error":
            raise
        log.warning("skipping undecodable image %s", path)
        return None


class ImageFolderDataset(torch.utils.data.Dataset):
    """Images of one split with integer labels.

    Item: ``(transform(image), label)``; with ``on_bad_image="skip"`` an undecodable file yields
    ``None`` (dropped by :func:`collate_skipping_none`, which counts it) instead of raising.
    """

    def __init__(
        self,
        root: str | Path,
        split: str,
        transform: Optional[Callable] = None,
        on_bad_image: str = "error",
    ):
        if on_bad_image not in ("error", "skip"):
            raise ValueError(f"on_bad_image must be 'error' or 'skip', got {on_bad_image!r}")
        self.root = Path(root)
        self.split = split
        self.transform = transform
        self.on_bad_image = on_bad_image
        self.wnids, self.samples = list_samples(self.root / split)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def targets(self) -> list[int]:
        return [sample.label for sample in self.samples]

    def __getitem__(self, index: int):
        sample = self.samples[index]
        image = load_rgb_or_skip(sample.path, self.on_bad_image)
        if image is None:
            return None
        if self.transform is not None:
            image = self.transform(image)
        return image, sample.label


def collate_skipping_none(batch: list):
    """Default collate after dropping items that are ``None`` (bad images under the skip policy)."""
    kept = [item for item in batch if item is not None]
    if not kept:
        return None
    return torch.utils.data.default_collate(kept)
