"""Fashion-MNIST from Debian's ``dataset-fashion-mnist`` (MIT), for linear evaluation.

Output (the layout of :mod:`emcom.data.folder`)::

    <root>/train/<wnid>/<index>.png   the 60,000 training images (index in the IDX file, 5 digits)
    <root>/val/<wnid>/<index>.png     the 10,000 test images (t10k)
    <root>/classes.tsv                wnid, name (Fashion-MNIST's label), source
    <root>/manifest.json              per-split counts and config (written last)

Images are greyscale ("L") PNGs resized from 28 px to ``fashion_mnist.image_size``;
:func:`emcom.data.folder.load_rgb` turns them into RGB. Labels are mapped to the WordNet 3.0
noun synset closest to each Fashion-MNIST class name (:data:`LABEL_WNIDS`).
"""

from __future__ import annotations

import gzip
import logging
import multiprocessing
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
from PIL import Image

from emcom.data.debian import deb_version, fetch_deb, read_deb_files
from emcom.data.manifest import write_classes, write_manifest
from emcom.data.staging import staged_folder

log = logging.getLogger(__name__)

PACKAGE = "dataset-fashion-mnist"
DATA_DIR = "usr/share/datasets/fashion-mnist/"
SPLIT_FILES = {"train": "train", "val": "t10k"}  # our split -> the IDX file prefix
# Fashion-MNIST label -> (its name, the WordNet 3.0 synset that names the same garment).
LABEL_WNIDS = (
    ("T-shirt/top", "n03595614"),  # jersey, T-shirt, tee shirt
    ("Trouser", "n04489008"),  # trouser, pant
    ("Pullover", "n04370048"),  # sweater, jumper
    ("Dress", "n03236735"),  # dress, frock
    ("Coat", "n03057021"),  # coat
    ("Sandal", "n04133789"),  # sandal
    ("Shirt", "n04197391"),  # shirt
    ("Sneaker", "n03472535"),  # gym shoe, sneaker, tennis shoe
    ("Bag", "n02774152"),  # bag (a flexible container)
    ("Ankle boot", "n02872752"),  # boot
)


def parse_idx(content: bytes, name: str = "IDX file") -> np.ndarray:
    """Decode an IDX file (the MNIST format; gzip-compressed or not) to a uint8 array.

    Images: shape (n, 28, 28); labels: shape (n,). The header is a 4-byte magic (0, 0, dtype
    0x08 = uint8, number of dimensions) then one big-endian uint32 per dimension.
    """
    if content[:2] == b"\x1f\x8b":
        content = gzip.decompress(content)
    if len(content) < 4 or content[:3] != b"\x00\x00\x08":
        raise ValueError(f"{name}: not an unsigned-byte IDX file (magic {content[:4].hex()})")
    ndim = content[3]
    shape = tuple(int(d) for d in np.frombuffer(content, dtype=">u4", count=ndim, offset=4))
    data = np.frombuffer(content, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{name}: header says shape {shape} but holds {data.size} bytes of data")
    return data.reshape(shape)


def _write_images(task: tuple[np.ndarray, np.ndarray, np.ndarray, Path, int]) -> int:
    """Write one chunk: images (n, 28, 28), their labels (n,) and IDX indices (n,)."""
    images, labels, indices, split_dir, size = task
    for image, label, index in zip(images, labels, indices):
        picture = Image.fromarray(image, "L")
        if size != picture.width:
            picture = picture.resize((size, size), Image.Resampling.BILINEAR)
        picture.save(split_dir / LABEL_WNIDS[label][1] / f"{index:05d}.png", compress_level=1)
    return len(images)


def build_fashion_mnist_dataset(
    out_root: str | Path,
    config: Mapping[str, Any],
    deb_cache: str | Path,
    processes: int = 2,
    package_deb: Optional[str | Path] = None,
) -> dict:
    """Build Fashion-MNIST at ``out_root`` (staged, renamed into place); return its manifest.

    ``config`` is the ``fashion_mnist:`` section (``image_size``). ``package_deb`` overrides the
    cached Debian archive (tests pass a tiny one).
    """
    unknown = sorted(set(config) - {"image_size"})
    if unknown:
        raise ValueError(f"unknown config key(s) {['fashion_mnist.' + k for k in unknown]}")
    size = int(config.get("image_size", 32))
    if size < 1:
        raise ValueError(f"config key fashion_mnist.image_size must be >= 1, got {size}")
    deb = Path(package_deb) if package_deb is not None else fetch_deb(PACKAGE, deb_cache)
    names = {
        (split, kind): f"{DATA_DIR}{prefix}-{kind}-ubyte.gz"
        for split, prefix in SPLIT_FILES.items()
        for kind in ("images-idx3", "labels-idx1")
    }
    files = read_deb_files(deb, list(names.values()))

    with staged_folder(out_root) as root:
        context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
        with context.Pool(max(1, processes)) as pool:
            for split in SPLIT_FILES:
                images = parse_idx(files[names[split, "images-idx3"]], names[split, "images-idx3"])
                labels = parse_idx(files[names[split, "labels-idx1"]], names[split, "labels-idx1"])
                if len(images) != len(labels) or labels.max() >= len(LABEL_WNIDS):
                    raise ValueError(f"{deb.name}: {split} has {len(images)} images, {len(labels)} labels "
                                     f"(max label {labels.max()})")
                for _, wnid in LABEL_WNIDS:
                    (root / split / wnid).mkdir(parents=True)
                chunks = np.array_split(np.arange(len(images)), max(1, len(images) // 2000))
                tasks = ((images[c], labels[c], c, root / split, size) for c in chunks)
                written = 0
                for count in pool.imap_unordered(_write_images, tasks):
                    written += count
                    if written % 20000 < count or written == len(images):
                        log.info("fashion_mnist/%s: %d/%d images written", split, written, len(images))
        write_classes(
            root,
            (
                {"wnid": wnid, "name": name, "source": f"{PACKAGE}:label={label}"}
                for label, (name, wnid) in enumerate(LABEL_WNIDS)
            ),
        )
        manifest = write_manifest(
            root, "fashion_mnist", SPLIT_FILES, {"image_size": size},
            source={"package": PACKAGE, "version": deb_version(deb)},
        )
    return manifest
