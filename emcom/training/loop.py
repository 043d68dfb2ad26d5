"""One training epoch: forward, loss, backward, LARS step, with progress and NaN checks."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import torch
from tqdm import tqdm

from emcom.distributed import DistributedContext, all_reduce_mean


@dataclass
class EpochStats:
    loss: float  # mean over steps and ranks
    accuracy: float  # mean game (or SimCLR positive-retrieval) accuracy over steps and ranks
    images: int  # images seen by all ranks
    seconds: float
    steps: int
    skipped: int  # images dropped by on_bad_image: skip (this rank)


def check_finite(loss: torch.Tensor, epoch: int, step: int) -> None:
    """Stop on a NaN/inf loss with the step that produced it (its gradients would poison the model)."""
    value = float(loss)
    if not math.isfinite(value):
        raise FloatingPointError(f"non-finite loss {value} at epoch {epoch + 1}, step {step + 1}; "
                                 "lower optim.base_lr or use run.precision: fp32/bf16")


def _to_device(images: torch.Tensor, ctx: DistributedContext, channels_last: bool) -> torch.Tensor:
    images = images.to(ctx.device, non_blocking=True)
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images


def train_one_epoch(model, objective, loader, optimizer, scaler, precision, ctx: DistributedContext,
                    epoch: int, max_steps: int = 0, progress: bool = True) -> EpochStats:
    """Run one pass over ``loader`` (at most ``max_steps`` steps when > 0)."""
    model.train()
    total_steps = len(loader) if max_steps <= 0 else min(max_steps, len(loader))
    sums = torch.zeros(2, dtype=torch.float64, device=ctx.device)  # loss, accuracy
    images_seen, skipped, steps = 0, 0, 0
    bar = tqdm(total=total_steps, desc=f"epoch {epoch + 1}", disable=not progress, file=sys.stderr,
               mininterval=1.0 if sys.stderr.isatty() else 30.0, unit="step")
    start = time.perf_counter()
    for step, batch in enumerate(loader):
        if step >= total_steps:
            break
        if batch is None:  # every image of the batch was undecodable and skipped
            skipped += loader.batch_size
            continue
        (sender_view, receiver_view), _labels = batch
        skipped += loader.batch_size - sender_view.shape[0]
        sender_view = _to_device(sender_view, ctx, precision.channels_last)
        receiver_view = _to_device(receiver_view, ctx, precision.channels_last)
        with precision.autocast():
            output = model(sender_view, receiver_view)
        result = objective(output)  # losses compute in float32 (cosine_scores casts)
        check_finite(result.loss.detach(), epoch, step)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(result.loss).backward()
        scaler.step(optimizer)
        scaler.update()
        sums += torch.stack([result.loss.detach().double(), result.accuracy.double()])
        images_seen += sender_view.shape[0]
        steps += 1
        bar.update(1)
        if progress and steps % 10 == 0:
            bar.set_postfix(loss=f"{sums[0].item() / steps:.3f}", acc=f"{sums[1].item() / steps:.3f}", refresh=False)
    bar.close()
    seconds = time.perf_counter() - start
    means = all_reduce_mean(sums / max(steps, 1))
    return EpochStats(float(means[0]), float(means[1]), images_seen * ctx.world_size, seconds, steps, skipped)
