"""A built dataset's ``classes.tsv`` and ``manifest.json`` (the file that marks it as complete).

``manifest.json``::

    {"dataset": "stamps",
     "splits": {"train": {"classes": 120, "images": 4800}, "val": {...}, "ood": {...}},
     "config": {...the config section it was built from...},
     ...extra keys given by the builder}

It is written last, inside the staged folder, so its presence means every split is complete.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from emcom.data.folder import CLASSES_COLUMNS, CLASSES_FILE, IMAGE_SUFFIXES
from emcom.io import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"


def write_classes(root: str | Path, rows: Iterable[Mapping[str, str]]) -> Path:
    """Write ``root/classes.tsv``: one row per class (columns wnid, name, source), sorted by wnid."""
    table = pd.DataFrame(list(rows), columns=list(CLASSES_COLUMNS)).sort_values("wnid")
    if table["wnid"].duplicated().any():
        raise ValueError(f"duplicate wnids in classes table: {sorted(table['wnid'][table['wnid'].duplicated()])[:5]}")
    path = Path(root) / CLASSES_FILE
    atomic_write_text(path, table.to_csv(sep="\t", index=False))
    return path


def count_split(split_dir: str | Path) -> dict[str, int]:
    """``{"classes": n, "images": m}`` of ``split_dir/<wnid>/<images>`` (symlinked folders followed)."""
    classes = images = 0
    for entry in sorted(os.scandir(split_dir), key=lambda e: e.name):
        if entry.is_dir():
            classes += 1
            images += sum(1 for f in os.scandir(entry.path) if f.name.lower().endswith(IMAGE_SUFFIXES))
    return {"classes": classes, "images": images}


def write_manifest(
    root: str | Path, dataset: str, splits: Iterable[str], config: Mapping[str, Any], **extra: Any
) -> dict:
    """Count every split of ``root``, log the counts, and write ``root/manifest.json``; return it."""
    root = Path(root)
    manifest = {"dataset": dataset, "splits": {}, "config": dict(config), **extra}
    for split in splits:
        counts = count_split(root / split)
        manifest["splits"][split] = counts
        log.info("%s/%s: %d classes, %d images", dataset, split, counts["classes"], counts["images"])
    atomic_write_json(root / MANIFEST_FILE, manifest)
    return manifest


def read_manifest(root: str | Path) -> dict:
    """The manifest of a built dataset; a missing one means the dataset was never completed."""
    path = Path(root) / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the dataset at {root} was never completely built")
    return json.loads(path.read_text())


def format_counts(manifest: Mapping[str, Any]) -> str:
    """One line per split, e.g. ``stamps/train: 143 classes, 6680 images`` (what the rules print)."""
    return "\n".join(
        f"{manifest['dataset']}/{split}: {counts['classes']} classes, {counts['images']} images"
        for split, counts in manifest["splits"].items()
    )
