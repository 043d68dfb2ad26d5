"""Adapters from the linear-evaluation datasets' own layouts to one list of (image path, label).

Each dataset is one mapping in config (``linear_eval.datasets.<name>``) with a ``kind``:

- ``built``: a dataset this workflow built, ``<resources>/datasets/<name>/<split>/<wnid>/*``
  (stamps, fashion_mnist); keys ``root``, ``train_split``, ``test_split``.
- ``folder``: ILSVRC-2012 in its usual layout, ``train`` and ``test`` each a folder of ``<wnid>/``
  image folders (the val images sorted into wnid folders, docs/data.md).
- ``places205``: ``images`` (the image root) and the file lists ``train_list``/``test_list`` of
  Places205's ``trainvalsplit_places205/{train,val}_places205.csv`` (lines ``relative/path label``).
- ``inaturalist2018``: ``images`` and ``train_json``/``test_json`` (train2018.json/val2018.json,
  COCO-style: images, annotations with category_id 0..8141).
- ``voc2007``: ``trainval`` and ``test`` folders, each a ``VOC2007`` folder (Annotations/,
  ImageSets/Main/{trainval,test}.txt, JPEGImages/); labels are a (20,) vector, 1 = an object of the
  class that is not "difficult", 0 = only difficult ones, -1 = none.

Optional for every kind: ``train_subsample``/``test_subsample`` (a seeded subset of a split, for time).
A missing key, file or folder, or a malformed entry, raises one error naming it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import numpy as np
import torch
from torchvision.transforms import v2

from emcom.config import ConfigError
from emcom.data.folder import DatasetError, list_samples, load_rgb
from emcom.data.transforms import IMAGENET_MEAN, IMAGENET_STD

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)
SPLITS = ("train", "test")


@dataclass
class Split:
    """One split's images: ``paths`` (N), ``labels`` int64 (N,) or int8 (N, 20) for VOC, class names."""

    paths: list[Path]
    labels: np.ndarray
    classes: list[str]


def _key(spec: Mapping[str, Any], key: str, name: str) -> Any:
    value = spec.get(key)
    if value is None:
        raise ConfigError(f"linear_eval.datasets.{name}.{key} is not set (kind {spec.get('kind')!r} needs it)")
    return value


def _existing(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{what} not found: {path}")
    return path


def load_split(spec: Mapping[str, Any], split: str, name: str = "dataset") -> Split:
    """Read one split (``train`` or ``test``) of the dataset ``spec`` describes."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    kind = spec.get("kind")
    readers: dict[str, Callable[[Mapping[str, Any], str, str], Split]] = {
        "built": _built, "folder": _folder, "places205": _places205,
        "inaturalist2018": _inaturalist, "voc2007": _voc2007,
    }
    if kind not in readers:
        raise ConfigError(f"linear_eval.datasets.{name}.kind must be one of {sorted(readers)}, got {kind!r}")
    data = readers[kind](spec, split, name)
    subsample = spec.get(f"{split}_subsample")
    if subsample is not None and subsample < len(data.paths):
        # Seeded, then sorted back into file order, so the same subset comes back every run.
        keep = np.sort(np.random.default_rng(int(spec.get("seed", 0))).permutation(len(data.paths))[:subsample])
        data = Split([data.paths[i] for i in keep], data.labels[keep], data.classes)
    return data


def _from_wnid_folders(folder: Path) -> Split:
    wnids, samples = list_samples(folder)
    return Split([s.path for s in samples], np.array([s.label for s in samples], dtype=np.int64), wnids)


def _built(spec, split, name):
    root = _existing(_key(spec, "root", name), f"linear_eval.datasets.{name}.root")
    return _from_wnid_folders(root / _key(spec, f"{split}_split", name))


def _folder(spec, split, name):
    return _from_wnid_folders(_existing(_key(spec, split, name), f"linear_eval.datasets.{name}.{split}"))


def _places205(spec, split, name):
    images = _existing(_key(spec, "images", name), f"linear_eval.datasets.{name}.images")
    listing = _existing(_key(spec, f"{split}_list", name), f"linear_eval.datasets.{name}.{split}_list")
    paths, labels = [], []
    for number, line in enumerate(listing.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.replace(",", " ").split()
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise DatasetError(f"{listing}:{number}: expected 'relative/path label', got {line!r}")
        paths.append(images / parts[0].lstrip("/"))
        labels.append(int(parts[1]))
    if not paths:
        raise DatasetError(f"{listing}: no images listed")
    classes = [str(c) for c in range(max(labels) + 1)]
    return Split(paths, np.array(labels, dtype=np.int64), classes)


def _inaturalist(spec, split, name):
    images = _existing(_key(spec, "images", name), f"linear_eval.datasets.{name}.images")
    path = _existing(_key(spec, f"{split}_json", name), f"linear_eval.datasets.{name}.{split}_json")
    try:
        raw = json.loads(path.read_text())
        files = {image["id"]: image["file_name"] for image in raw["images"]}
        pairs = [(files[a["image_id"]], int(a["category_id"])) for a in raw["annotations"]]
        categories = sorted(int(c["id"]) for c in raw.get("categories", [])) or sorted({c for _, c in pairs})
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise DatasetError(f"{path}: not an iNaturalist 2018 annotation file ({type(error).__name__}: {error})") from None
    classes = [str(c) for c in range(max(categories) + 1)]
    return Split([images / f for f, _ in pairs], np.array([c for _, c in pairs], dtype=np.int64), classes)


def _voc2007(spec, split, name):
    key = "trainval" if split == "train" else "test"
    root = _existing(_key(spec, key, name), f"linear_eval.datasets.{name}.{key}")
    listing = _existing(root / "ImageSets" / "Main" / f"{key}.txt", "VOC image list")
    ids = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    labels = np.full((len(ids), len(VOC_CLASSES)), -1, dtype=np.int8)
    for row, image_id in enumerate(ids):
        for cls, difficult in _voc_objects(root / "Annotations" / f"{image_id}.xml"):
            # A non-difficult object makes the image a positive; difficult ones alone mark it 0.
            labels[row, cls] = max(labels[row, cls], 0 if difficult else 1)
    return Split([root / "JPEGImages" / f"{i}.jpg" for i in ids], labels, list(VOC_CLASSES))


def _voc_objects(path: Path) -> list[tuple[int, bool]]:
    """(class index, difficult) of every object in one VOC annotation file."""
    _existing(path, "VOC annotation")
    try:
        objects = ElementTree.parse(path).getroot().findall("object")
        parsed = [(VOC_CLASSES.index(o.findtext("name").strip()), o.findtext("difficult", "0").strip() == "1")
                  for o in objects]
    except (ElementTree.ParseError, AttributeError, ValueError) as error:
        raise DatasetError(f"{path}: malformed VOC annotation ({error})") from None
    return parsed


def eval_transform(image_size: int, center_crop: bool) -> v2.Compose:
    """Test view: VISSL's Resize(256) + CenterCrop(224), scaled to ``image_size`` (center_crop), or
    the plain squash Resize((size, size)) the models were trained with (VOC07's Resize then squash)."""
    resize = [v2.Resize(round(image_size * 256 / 224), antialias=True), v2.CenterCrop(image_size)] if center_crop \
        else [v2.Resize((image_size, image_size), antialias=True)]
    return v2.Compose([v2.ToImage(), *resize, v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def train_transform(image_size: int) -> v2.Compose:
    """VISSL's linear-training augmentation: RandomResizedCrop + horizontal flip."""
    return v2.Compose([v2.ToImage(), v2.RandomResizedCrop(image_size, antialias=True), v2.RandomHorizontalFlip(),
                       v2.ToDtype(torch.float32, scale=True), v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


class SplitDataset(torch.utils.data.Dataset):
    """Item i: (transform(image i) (3, S, S), label i) with label a 0-d int64 or (20,) int8 tensor."""

    def __init__(self, split: Split, transform: Optional[Callable] = None):
        self.split = split
        self.transform = transform

    def __len__(self) -> int:
        return len(self.split.paths)

    def __getitem__(self, index: int):
        image = load_rgb(self.split.paths[index])
        return (self.transform(image) if self.transform else image), torch.as_tensor(self.split.labels[index])
