"""Table 1: a trained ``model.pt`` plays the game on one test set; per-item file + summary JSON.

Test sets (INTERFACES.md): a split of the dataset (``val``, ``ood``) shown with the evaluation
squash transform (SPEC.md: Resize((S, S)), no crop, Normalize; no augmentation), ``noise``
(randn then ImageNet Normalize, the authors' code) and ``noise_raw`` (raw N(0, 1) pixels, the
paper's text), generated at the model's input size from (noise.seed, index). ``val_aug`` and
``ood_aug`` (the paper's Appendix A.4) are those splits with each agent given its own augmented view
(:mod:`emcom.evaluation.augmented`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

import pandas as pd
import torch
from torch import nn

from emcom.checkpoint import load_model
from emcom.config import DataConfig, ExperimentConfig
from emcom.data.folder import DatasetError, ImageFolderDataset, read_classes
from emcom.data.noise import NOISE_LABEL, GaussianNoiseDataset
from emcom.data.transforms import squash_transform
from emcom.evaluation.augmented import SeededViews, training_views
from emcom.evaluation.errors import ModelFileError
from emcom.evaluation.game_accuracy import play_game
from emcom.evaluation.items import write_items
from emcom.evaluation.test_sets import augmented_split
from emcom.io import atomic_write_json

log = logging.getLogger(__name__)

NOISE_DEFINITIONS = {"noise": "normalized", "noise_raw": "raw"}  # test set -> how its pixels are made
TEST_SETS = ("val", "ood", *NOISE_DEFINITIONS)


def read_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, ExperimentConfig]:
    """:func:`emcom.checkpoint.load_model`, with every way a foreign file fails as one line naming it."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        return load_model(path, device)
    except (ValueError, KeyError, RuntimeError, TypeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelFileError(f"{path} is not an emcom model file: {first_line}") from None


@dataclass
class TestSet:
    """A test set and, per dataset index, where each item comes from (for the per-item file)."""

    name: str
    # items: (image (3, S, S), split label); augmented: ((Sender view, Receiver view), split label)
    dataset: torch.utils.data.Dataset
    sources: list[str]  # image path relative to the dataset root, or "noise:<index>"
    wnids: list[str]  # "" for noise
    labels: list[int]  # class index in classes.tsv order; -1 for noise
    noise_definition: Optional[str]  # None, "normalized" or "raw"
    augmented: bool = False  # each agent sees its own augmented view (<split>_aug)


def build_test_set(name: str, image_size: int, dataset_root: str | Path | None = None,
                   noise: Optional[Mapping[str, Any]] = None, augmentation: Optional[DataConfig] = None,
                   seed: int = 0) -> TestSet:
    """``val``/``ood`` (any split of ``dataset_root``), ``noise``/``noise_raw`` (from the ``noise``
    config), or ``<split>_aug``: the split with two views per item drawn with ``augmentation``'s
    settings (the model's training run config) from ``(seed, index)``."""
    split = augmented_split(name)
    if split is not None:
        if split in NOISE_DEFINITIONS:
            raise DatasetError(f"test set {name}: augmented views are made of a dataset split, not of noise")
        if augmentation is None:
            raise DatasetError(f"test set {name} needs the model's augmentation settings (its data config)")
        plain = build_test_set(split, image_size, dataset_root)
        dataset = plain.dataset
        dataset.transform = None  # PIL images in, the two views made by SeededViews
        views = SeededViews(dataset, training_views(augmentation, image_size), seed)
        return TestSet(name, views, plain.sources, plain.wnids, plain.labels, None, augmented=True)
    if name in NOISE_DEFINITIONS:
        if noise is None:
            raise DatasetError(f"test set {name} needs the noise config section (batches, batch_size, seed)")
        dataset = GaussianNoiseDataset.from_config(noise, image_size, normalize=name == "noise")
        n = len(dataset)
        return TestSet(name, dataset, [f"noise:{i}" for i in range(n)], [""] * n, [NOISE_LABEL] * n,
                       NOISE_DEFINITIONS[name])
    if dataset_root is None:
        raise DatasetError(f"test set {name} is a dataset split: it needs the dataset root")
    root = Path(dataset_root)
    dataset = ImageFolderDataset(root, name, squash_transform(image_size))
    class_index = {wnid: i for i, wnid in enumerate(read_classes(root)["wnid"])}
    unknown = [w for w in dataset.wnids if w not in class_index]
    if unknown:
        raise DatasetError(f"{root / 'classes.tsv'}: lacks the class(es) {unknown[:5]} of split {name}")
    sources = [sample.path.relative_to(root).as_posix() for sample in dataset.samples]
    wnids = [dataset.wnids[sample.label] for sample in dataset.samples]
    return TestSet(name, dataset, sources, wnids, [class_index[w] for w in wnids], None)


def evaluate_model(model_path: str | Path, test_set: str, out_dir: str | Path, dataset_root: str | Path | None = None,
                   batch_size: Optional[int] = None, seed: int = 0, noise: Optional[Mapping[str, Any]] = None,
                   num_workers: int = 0, device: str | None = None, variant: Optional[str] = None) -> dict[str, Any]:
    """Write ``out_dir/<test_set>.items.tsv.gz`` and ``out_dir/<test_set>.json``; return the summary.

    ``batch_size`` None plays with the model's training batch (its candidates during training);
    ``dataset_root`` None uses the dataset the model was trained on.
    """
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, config = read_model(model_path, device)
    variant = variant or Path(model_path).parent.name
    batch_size = batch_size or config.optim.batch_size
    dataset_root = Path(dataset_root or config.data.root)
    tests = build_test_set(test_set, config.data.image_size, dataset_root, noise, augmentation=config.data, seed=seed)
    log.info("%s on %s: %d items, batches of %d, seed %d", variant, test_set, len(tests.dataset), batch_size, seed)
    played = play_game(model, tests.dataset, batch_size, seed, num_workers, device, progress=True)

    index = played.indices
    table = pd.DataFrame({
        "item": range(len(index)),
        "index": index,
        "source": [tests.sources[i] for i in index],
        "wnid": [tests.wnids[i] for i in index],
        "label": [tests.labels[i] for i in index],
        "symbol": played.symbols,
        "correct": played.correct.astype(int),
    })
    if played.symbols_h is not None:
        table["symbol_h"] = played.symbols_h
    out_dir = Path(out_dir)
    write_items(table, out_dir / f"{test_set}.items.tsv.gz")
    summary = {
        "variant": variant,
        "kind": config.model.kind,
        "protocol": played.protocol,
        "test_set": test_set,
        "accuracy": played.accuracy,
        "chance": 1.0 / batch_size,
        "batch_size": batch_size,
        "batches": played.batches,
        "items": len(index),
        "seed": seed,
        "image_size": config.data.image_size,
        "backbone": config.model.backbone,
        "epochs": config.optim.epochs,
        "dataset": dataset_root.name,
        "noise_definition": tests.noise_definition,
        "vocab_size": config.model.vocab_size,
        "symbols_used": int(len(set(played.symbols.tolist()))),
        "model": str(model_path),
    }
    if tests.augmented:  # Appendix A.4; the plain test sets' summaries keep their keys
        summary["augmentation"] = {"min_crop_scale": config.data.min_crop_scale,
                                   "blur_sigma": list(config.data.blur_sigma),
                                   "color_jitter_strength": config.data.color_jitter_strength, "seed": seed}
    atomic_write_json(out_dir / f"{test_set}.json", summary)
    log.info("%s on %s: accuracy %.4f (chance %.4f) over %d items", variant, test_set, played.accuracy,
             summary["chance"], len(index))
    return summary
