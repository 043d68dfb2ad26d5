"""Extract a frozen trunk's features of one split once and cache them (DINO's --dump_features).

Cache of one split, three files side by side: ``<stem>.features.npy`` float32 (N, D) with
D = C·g·g (channel-major: the flattened (C, g, g) map), ``<stem>.labels.npy`` (N,) int64 or
(N, 20) int8 for VOC07, and ``<stem>.json`` (model, dataset, split, N, D, channels, grid, pool,
seconds, images/s). The arrays are written through a memory map, so ILSVRC-size caches never sit
in memory, and renamed into place only when complete.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from numpy.lib.format import open_memmap
from tqdm import tqdm

from emcom.io import atomic_path, atomic_write_json
from emcom.linear_eval.datasets import SplitDataset, eval_transform, load_split
from emcom.linear_eval.trunk import FrozenTrunk, TrunkInfo, load_trunk

log = logging.getLogger(__name__)


def cache_paths(stem: str | Path) -> dict[str, Path]:
    """The three files of one cached split: features, labels, meta."""
    stem = str(stem)
    return {"features": Path(f"{stem}.features.npy"), "labels": Path(f"{stem}.labels.npy"), "meta": Path(f"{stem}.json")}


def extract(trunk: FrozenTrunk, loader: torch.utils.data.DataLoader, features_out: Path,
            labels_out: Path, total: int, progress: bool = True) -> dict[str, Any]:
    """Run ``loader``'s (images, labels) batches through ``trunk``; write (N, D) and labels in order.

    Returns {"items", "dim", "grid", "seconds", "images_per_second"}.
    """
    start, row = time.perf_counter(), 0
    features = labels = None
    with atomic_path(features_out) as tmp_features, atomic_path(labels_out) as tmp_labels:
        for images, targets in tqdm(loader, desc=f"features {features_out.name}", disable=not progress,
                                    mininterval=10):
            pooled = trunk(images)  # (B, C, g, g)
            flat = pooled.flatten(1).numpy()
            if features is None:  # shapes known only after the first batch
                grid = pooled.shape[-1]
                features = open_memmap(tmp_features, mode="w+", dtype=np.float32, shape=(total, flat.shape[1]))
                labels = open_memmap(tmp_labels, mode="w+", dtype=targets.numpy().dtype,
                                     shape=(total, *targets.shape[1:]))
            features[row:row + len(flat)] = flat
            labels[row:row + len(flat)] = targets.numpy()
            row += len(flat)
        if features is None or row != total:
            raise RuntimeError(f"extracted {row} of {total} items for {features_out}")
        features.flush(), labels.flush()
        del features, labels  # close the memory maps before the rename
    seconds = time.perf_counter() - start
    return {"items": total, "dim": int(flat.shape[1]), "grid": int(grid), "seconds": round(seconds, 2),
            "images_per_second": round(total / seconds, 1)}


def extract_split_features(model_path: str | Path, spec: Mapping[str, Any], dataset: str, split: str,
                           stem: str | Path, pool: str = "res5", random_init_seed: int | None = None,
                           model_name: str | None = None, center_crop: bool = False, batch_size: int = 256,
                           num_workers: int = 0, progress: bool = True) -> dict[str, Any]:
    """Cache the features of ``dataset``'s ``split`` (no augmentation) for one trunk; return the meta."""
    trunk, info = load_trunk(model_path, pool, random_init_seed, model_name)
    data = load_split(spec, split, dataset)
    loader = torch.utils.data.DataLoader(SplitDataset(data, eval_transform(info.image_size, center_crop)),
                                         batch_size=batch_size, shuffle=False, num_workers=num_workers)
    paths = cache_paths(stem)
    log.info("%s: extracting %s/%s (%d images, %d px, pool %s)", info.model, dataset, split, len(data.paths),
             info.image_size, pool)
    stats = extract(trunk, loader, paths["features"], paths["labels"], len(data.paths), progress)
    meta = {**_trunk_meta(info), "dataset": dataset, "split": split, "pool": pool, "center_crop": center_crop,
            "classes": len(data.classes), **stats}
    atomic_write_json(paths["meta"], meta)
    log.info("%s %s/%s: %d × %d features, %.1f images/s", info.model, dataset, split, stats["items"],
             stats["dim"], stats["images_per_second"])
    return meta


def load_cached(stem: str | Path, mmap: bool = True) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(features (N, D), labels, meta) of one cached split."""
    import json

    paths = cache_paths(stem)
    for path in paths.values():
        if not path.is_file():
            raise FileNotFoundError(f"feature cache incomplete, missing {path}")
    mode = "r" if mmap else None
    return np.load(paths["features"], mmap_mode=mode), np.load(paths["labels"]), json.loads(paths["meta"].read_text())


def _trunk_meta(info: TrunkInfo) -> dict[str, Any]:
    return {"model": info.model, "kind": info.kind, "source": info.source, "backbone": info.backbone,
            "image_size": info.image_size, "channels": info.channels}
