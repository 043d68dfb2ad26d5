"""Checkpoints: the rolling resume file and the final model file, both rebuildable alone.

``checkpoint.pt`` (rolling, rewritten every N epochs) holds the config, weights, optimiser,
scheduler, grad-scaler state and the per-epoch history; training resumes from it by itself.
``model.pt`` (final) holds the resolved config, the weights and the history: :func:`load_model`
rebuilds the network from that file with nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from emcom.config import ExperimentConfig
from emcom.io import atomic_path
from emcom.models import build_model

CHECKPOINT_NAME = "checkpoint.pt"
MODEL_NAME = "model.pt"
CHECKPOINT_FORMAT = "emcom-checkpoint/1"
MODEL_FORMAT = "emcom-model/1"


def save(payload: dict[str, Any], path: str | Path) -> None:
    """torch.save through a temporary file and a rename: a crash never leaves half a checkpoint."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def _read(path: str | Path, expected_format: str | tuple[str, ...]) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a truncated or foreign file
        raise ValueError(f"cannot read checkpoint {path}: {error}") from error
    formats = (expected_format,) if isinstance(expected_format, str) else expected_format
    if not isinstance(payload, dict) or payload.get("format") not in formats:
        raise ValueError(f"{path} is not an emcom file of format {formats}")
    return payload


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    return _read(path, CHECKPOINT_FORMAT)


def read_model_file(path: str | Path) -> dict[str, Any]:
    return _read(path, (MODEL_FORMAT, CHECKPOINT_FORMAT))


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, ExperimentConfig]:
    """Rebuild the trained network from a ``model.pt`` (or a ``checkpoint.pt``), in eval mode."""
    payload = read_model_file(path)
    config = ExperimentConfig.from_dict(payload["config"], source=f"{path}:config")
    model = build_model(config.model)
    model.load_state_dict(payload["model"])
    return model.to(device).eval(), config
