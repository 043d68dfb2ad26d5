"""Shared fixtures: tiny run configs and a generated image set (no Debian packages needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))  # tests import their helpers (synthetic.py) directly

from emcom.config import ExperimentConfig  # noqa: E402
from synthetic import make_image_set  # noqa: E402

torch.set_num_threads(2)

# The data tests' fixtures (Debian package cache, WordNet, fake stamps) live in tests/data_fixtures.py.
pytest_plugins = ("data_fixtures",)


@pytest.fixture(scope="session")
def image_set(tmp_path_factory) -> Path:
    """8 classes × 16 images of 32 px in train/ (and val/)."""
    return make_image_set(tmp_path_factory.mktemp("images"), classes=8, per_class=16, splits=("train", "val"))


def tiny_config(root: Path, **sections) -> ExperimentConfig:
    """A run config small enough for a CPU test: small ResNet, 32 px, batch 16, 2 epochs."""
    raw = {
        "model": {"backbone": "small_resnet", "low_resolution_stem": True, "vocab_size": 64, "hidden_size": 32},
        "data": {"root": str(root), "image_size": 32, "num_workers": 0},
        "optim": {"epochs": 2, "batch_size": 16},
        "run": {"progress_bar": False, "seed": 7},
    }
    for name, values in sections.items():
        raw[name].update(values)
    return ExperimentConfig.from_dict(raw)


@pytest.fixture
def make_config():
    return tiny_config
