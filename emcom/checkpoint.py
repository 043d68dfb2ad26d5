"""Checkpoints: the rolling resume file and the final model file, both rebuildable alone.

``checkpoint.pt`` (rolling, rewritten every N epochs) holds the config, weights, optimiser,
scheduler, grad-scaler state and the per-epoch history; training resumes from it by itself.
``model.pt`` (final) holds the resolved config, the weights and the history: :func:`load_model`
rebuilds the network from that file with nothing else.

Both are bound to the run that wrote them. :func:`run_identity` is what determines a run's result:
every config key except :data:`emcom.config.OPERATIONAL_KEYS`, plus the number of processes and the
resolved precision. A file whose identity differs from the current run's is never resumed nor kept
as the result: :func:`adopt` moves it aside (``checkpoint.stale-<UTC time>.pt``) and says what differed.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from emcom.config import OPERATIONAL_KEYS, ConfigError, ExperimentConfig
from emcom.io import atomic_path
from emcom.models import build_model

CHECKPOINT_NAME = "checkpoint.pt"
MODEL_NAME = "model.pt"
CHECKPOINT_FORMAT = "emcom-checkpoint/1"
MODEL_FORMAT = "emcom-model/1"
NOT_RECORDED = "<not recorded>"

log = logging.getLogger(__name__)


def save(payload: dict[str, Any], path: str | Path) -> None:
    """torch.save through a temporary file and a rename: a crash never leaves half a checkpoint.

    torch.save writes through a Python file object, so a full disk is an OSError with its errno
    (torch's own file writer would raise a RuntimeError that never says why); ``atomic_path`` turns
    it into one line naming ``path`` ("no space left on device").
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(payload, handle)


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def run_identity(config: ExperimentConfig | Mapping[str, Any], execution: Mapping[str, Any]) -> dict[str, Any]:
    """What determines a run's result, as ``{"optim.base_lr": 3.0, ..., "world_size": 1, ...}``.

    Every config key except the operational ones, plus ``execution`` (the process count and the
    resolved precision: ``precision: auto`` is fp16 on CUDA but fp32 on a CPU). A config stored in
    an older file is re-read with today's defaults, so a key added since compares at its default.
    """
    if not isinstance(config, ExperimentConfig):
        config = ExperimentConfig.from_dict(config, source="stored config")
    flat = {key: value for key, value in _flatten(config.to_dict()).items() if key not in OPERATIONAL_KEYS}
    return {**flat, **execution}


def identity_differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """``["optim.base_lr: 3.0 -> 1.0", ...]`` for every key whose value differs (sorted)."""
    return [f"{key}: {saved.get(key, NOT_RECORDED)!r} -> {current.get(key, NOT_RECORDED)!r}"
            for key in sorted(set(saved) | set(current))
            if saved.get(key, NOT_RECORDED) != current.get(key, NOT_RECORDED)]


def file_differences(payload: Mapping[str, Any], identity: Mapping[str, Any]) -> list[str]:
    """What differs between the run that wrote ``payload`` and the run of ``identity`` ([] = same run)."""
    try:
        saved = run_identity(payload["config"], payload.get("execution", {}))
    except (ConfigError, KeyError) as error:  # written by another version of emcom
        return [f"its config is not one this version reads ({error})"]
    # ``execution`` keys the file does not record compare as NOT_RECORDED: differ, to be safe.
    saved.update({key: NOT_RECORDED for key in identity if key not in saved})
    return identity_differences(saved, identity)


def set_aside(path: str | Path) -> Path:
    """Rename ``path`` to ``<stem>.stale-<UTC time>[-n]<suffix>`` beside it (never deleted); return the new path."""
    path = Path(path)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.stem}.stale-{stamp}{path.suffix}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.stem}.stale-{stamp}-{n}{path.suffix}")
    path.rename(target)
    return target


def adopt(path: str | Path, identity: Mapping[str, Any], expected_format: str | tuple[str, ...],
          move: bool = True) -> dict[str, Any] | None:
    """The payload of ``path`` if the same run wrote it; else None, the file moved aside if ``move``.

    A missing file is None. An unreadable one (truncated, foreign) or one written by a run whose
    identity differs is logged with the reason (the keys that differ, old -> new) and renamed by
    :func:`set_aside` when ``move`` (only one process of a distributed run moves files).
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        payload = _read(path, expected_format)
        differences = file_differences(payload, identity)
    except ValueError as error:
        differences = [str(error)]
    if not differences:
        return payload
    if move:
        log.warning("%s was written by a different run (%s): moved to %s", path, "; ".join(differences),
                    set_aside(path).name)
    return None


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
