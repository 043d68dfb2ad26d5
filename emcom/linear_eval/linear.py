"""A linear classifier on frozen features, VISSL's linear-evaluation protocol (SPEC.md).

Head (VISSL's ``eval_mlp``): BatchNorm2d(C) on the pooled (C, g, g) res5 map -> flatten -> Linear
(C·g·g -> K), weights N(0, 0.01²), bias 0. SGD, momentum 0.9, Nesterov, weight decay 5e-4 on the
Linear weight and bias and none on the BatchNorm; lr = base_lr (0.01) × batch / 256, ×0.1 at each
milestone epoch, no warm-up. Top-1/top-5 on the test split after every epoch; the result is the
last epoch's (as VISSL reports it).

Two sources of training batches: cached features (no augmentation: the embedded default, CPU), or
images through the frozen trunk every step with RandomResizedCrop + flip (full scale). The test
split is always the cached features: the trunk is frozen, so they never change.
A rolling checkpoint beside the output (``<out>.ckpt.pt``) is written after every epoch and
resumed from when its settings match.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from emcom.io import atomic_path, atomic_write_json

log = logging.getLogger(__name__)


@dataclass
class LinearSettings:
    """The protocol's hyperparameters (VISSL's ILSVRC-1k values by default)."""

    epochs: int = 28
    milestones: list[int] = field(default_factory=lambda: [8, 16, 24])
    batch_size: int = 256
    base_lr: float = 0.01  # at batch 256
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0

    def lr(self) -> float:
        return self.base_lr * self.batch_size / 256

    def validate(self) -> "LinearSettings":
        if self.epochs < 1 or self.batch_size < 1 or self.base_lr <= 0:
            raise ValueError(f"linear settings need epochs, batch_size >= 1 and base_lr > 0: {self}")
        if any(m < 1 for m in self.milestones) or list(self.milestones) != sorted(self.milestones):
            raise ValueError(f"milestones must be increasing epochs >= 1, got {self.milestones}")
        return self


class LinearHead(nn.Module):
    """features (B, C·g·g), channel-major -> logits (B, K) through BatchNorm2d(C) and Linear."""

    def __init__(self, channels: int, grid: int, num_classes: int):
        super().__init__()
        self.channels, self.grid = channels, grid
        self.norm = nn.BatchNorm2d(channels)
        self.linear = nn.Linear(channels * grid * grid, num_classes)
        nn.init.normal_(self.linear.weight, std=0.01)
        nn.init.zeros_(self.linear.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        maps = features.view(-1, self.channels, self.grid, self.grid)
        return self.linear(self.norm(maps).flatten(1))


def build_optimizer(head: LinearHead, settings: LinearSettings) -> torch.optim.SGD:
    """SGD Nesterov; weight decay on the Linear only (VISSL: regularize_bn false, regularize_bias true)."""
    groups = [{"params": list(head.norm.parameters()), "weight_decay": 0.0},
              {"params": list(head.linear.parameters()), "weight_decay": settings.weight_decay}]
    return torch.optim.SGD(groups, lr=settings.lr(), momentum=settings.momentum, nesterov=True)


def feature_batches(features: np.ndarray, labels: np.ndarray, batch_size: int, shuffle: bool,
                    generator: np.random.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Mini-batches (B, D) float32, (B,) int64 from in-memory or memory-mapped arrays."""
    order = generator.permutation(len(features)) if shuffle else np.arange(len(features))
    for start in range(0, len(order), batch_size):
        rows = np.sort(order[start:start + batch_size])  # sorted rows read a memory map faster
        yield torch.from_numpy(np.ascontiguousarray(features[rows], dtype=np.float32)), torch.from_numpy(labels[rows]).long()


@torch.no_grad()
def evaluate(head: LinearHead, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], device: torch.device) -> dict[str, float]:
    """Top-1 and top-5 accuracy (%) of ``head`` (top-k with k = min(5, K))."""
    head.eval()
    correct1 = correct5 = total = 0
    for x, y in batches:
        logits = head(x.to(device))
        y = y.to(device)
        top = logits.topk(min(5, logits.shape[1]), dim=1).indices
        correct1 += (top[:, 0] == y).sum().item()
        correct5 += (top == y[:, None]).any(dim=1).sum().item()
        total += len(y)
    return {"top1": 100.0 * correct1 / total, "top5": 100.0 * correct5 / total}


def train_linear(train_batches: Callable[[int], Iterable[tuple[torch.Tensor, torch.Tensor]]],
                 test_features: np.ndarray, test_labels: np.ndarray, channels: int, grid: int, num_classes: int,
                 settings: LinearSettings, out_json: str | Path, meta: dict[str, Any] | None = None,
                 device: str | torch.device = "cpu") -> dict[str, Any]:
    """Train the head for ``settings.epochs`` and write the result JSON (atomically); return it.

    ``train_batches(epoch)`` yields (features (B, C·g·g), labels (B,)) for one epoch.
    """
    settings.validate()
    device = torch.device(device)
    out_json = Path(out_json)
    checkpoint_path = out_json.with_name(out_json.name + ".ckpt.pt")
    fingerprint = _fingerprint(settings, channels, grid, num_classes, meta)
    torch.manual_seed(settings.seed)
    head = LinearHead(channels, grid, num_classes).to(device)
    optimizer = build_optimizer(head, settings)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, settings.milestones, gamma=0.1)
    history, start_epoch = _resume(checkpoint_path, fingerprint, head, optimizer, scheduler)
    begun = time.perf_counter()
    for epoch in range(start_epoch, settings.epochs):
        tick, loss_sum, seen = time.perf_counter(), 0.0, 0
        lr = optimizer.param_groups[0]["lr"]
        head.train()
        for x, y in train_batches(epoch):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            loss = F.cross_entropy(head(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum, seen = loss_sum + loss.item() * len(y), seen + len(y)
        scheduler.step()
        scores = evaluate(head, feature_batches(test_features, test_labels, 1024, shuffle=False), device)
        history.append({"epoch": epoch + 1, "lr": lr, "loss": loss_sum / max(seen, 1), **scores,
                        "seconds": round(time.perf_counter() - tick, 3),
                        "items_per_second": round(seen / max(time.perf_counter() - tick, 1e-9), 1)})
        log.info("epoch %d/%d lr %.5f loss %.4f top1 %.2f top5 %.2f", epoch + 1, settings.epochs, lr,
                 history[-1]["loss"], scores["top1"], scores["top5"])
        with atomic_path(checkpoint_path) as tmp:
            torch.save({"fingerprint": fingerprint, "head": head.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "history": history}, tmp)
    result = {**(meta or {}), "protocol": "linear", "metric": "top1", "value": history[-1]["top1"],
              "top1": history[-1]["top1"], "top5": history[-1]["top5"], "classes": num_classes,
              "feature_dim": channels * grid * grid, "channels": channels, "grid": grid,
              "test_items": int(len(test_labels)), "settings": {**asdict(settings), "lr": settings.lr()},
              "head_seconds": round(time.perf_counter() - begun, 2), "history": history}
    atomic_write_json(out_json, result)
    checkpoint_path.unlink(missing_ok=True)  # done: the JSON holds everything the checkpoint did
    return result


def train_linear_on_cache(train_stem: str | Path, test_stem: str | Path, settings: LinearSettings,
                          out_json: str | Path, device: str = "cpu") -> dict[str, Any]:
    """The no-augmentation protocol: train and test on cached features (emcom.linear_eval.features)."""
    from emcom.linear_eval.features import load_cached

    train_x, train_y, train_meta = load_cached(train_stem)
    test_x, test_y, test_meta = load_cached(test_stem)
    num_classes = max(train_meta["classes"], test_meta["classes"])

    def batches(epoch: int):
        # One generator per (seed, epoch): a resumed run sees the same order as an uninterrupted one.
        generator = np.random.default_rng([settings.seed, epoch])
        return feature_batches(train_x, train_y, settings.batch_size, shuffle=True, generator=generator)

    meta = {key: train_meta[key] for key in ("model", "kind", "source", "backbone", "image_size", "dataset", "pool")}
    meta.update(train_items=int(len(train_y)), augment=False, extraction={"train": train_meta, "test": test_meta})
    return train_linear(batches, test_x, test_y, train_meta["channels"], train_meta["grid"], num_classes,
                        settings, out_json, meta, device)


def train_linear_online(model_path: str | Path, spec: dict[str, Any], dataset: str, test_stem: str | Path,
                        settings: LinearSettings, out_json: str | Path, pool: str = "res5",
                        random_init_seed: int | None = None, model_name: str | None = None,
                        num_workers: int = 8, device: str = "auto") -> dict[str, Any]:
    """The full-scale protocol: RandomResizedCrop + flip images through the frozen trunk every step.

    The test split comes from the cache (``test_stem``) written with the same trunk.
    """
    from emcom.linear_eval.datasets import SplitDataset, load_split, train_transform
    from emcom.linear_eval.features import load_cached
    from emcom.linear_eval.trunk import load_trunk

    device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                          "cpu" if device == "auto" else device)
    trunk, info = load_trunk(model_path, pool, random_init_seed, model_name)
    trunk = trunk.to(device)
    test_x, test_y, test_meta = load_cached(test_stem)
    data = load_split(spec, "train", dataset)
    images = SplitDataset(data, train_transform(info.image_size))
    generator = torch.Generator().manual_seed(settings.seed)
    loader = torch.utils.data.DataLoader(images, batch_size=settings.batch_size, shuffle=True, drop_last=False,
                                         num_workers=num_workers, pin_memory=device.type == "cuda",
                                         generator=generator, persistent_workers=num_workers > 0)

    def batches(epoch: int):
        for x, y in loader:
            yield trunk(x.to(device, non_blocking=True)).flatten(1), y

    meta = {"model": info.model, "kind": info.kind, "source": info.source, "backbone": info.backbone,
            "image_size": info.image_size, "dataset": dataset, "pool": pool, "train_items": len(data.paths),
            "augment": True, "extraction": {"test": test_meta}}
    num_classes = max(len(data.classes), test_meta["classes"])
    return train_linear(batches, test_x, test_y, test_meta["channels"], test_meta["grid"], num_classes,
                        settings, out_json, meta, device)


def _fingerprint(settings: LinearSettings, channels: int, grid: int, num_classes: int, meta: dict | None) -> str:
    text = json.dumps([asdict(settings), channels, grid, num_classes,
                       {k: v for k, v in (meta or {}).items() if k != "extraction"}], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _resume(path: Path, fingerprint: str, head, optimizer, scheduler) -> tuple[list[dict], int]:
    if not path.is_file():
        return [], 0
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("fingerprint") != fingerprint:
        log.warning("ignoring %s: it was written with other settings; starting afresh", path)
        return [], 0
    head.load_state_dict(state["head"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    log.info("resuming from %s after epoch %d", path, len(state["history"]))
    return state["history"], len(state["history"])
