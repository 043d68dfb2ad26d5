"""One training epoch: forward, loss, backward, LARS step, with progress and non-finite checks.

Gradient accumulation: with ``accumulation_steps`` = k > 1, k loader batches (micro-batches) make one
optimizer step, each micro-batch's loss divided by k, and DDP synchronises gradients on the k-th
only. The game's candidates and BatchNorm's statistics stay those of one micro-batch.
"""

from __future__ import annotations

import math
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from tqdm import tqdm

from emcom.distributed import DistributedContext, all_reduce_mean

# GradScaler halves its scale at every skipped step: from its initial 2**16, 100 halvings leave
# 2**-84 (about 5e-26), far below any scale a healthy fp16 run needs, and still above the float32
# range's end (about 150 halvings). A run still non-finite there has diverged.
DEFAULT_MAX_CONSECUTIVE_NONFINITE = 100


@dataclass
class EpochStats:
    loss: float  # mean over finite micro-batches and ranks
    accuracy: float  # mean game (or SimCLR positive-retrieval) accuracy over the same
    images: int  # images seen by all ranks
    seconds: float
    steps: int  # optimizer steps taken (skipped ones excluded)
    skipped: int  # images dropped by on_bad_image: skip (this rank)
    skipped_steps: int = 0  # optimizer steps the grad scaler skipped (non-finite loss or gradients)


def check_finite(loss: torch.Tensor, epoch: int, step: int) -> None:
    """Stop on a NaN/inf loss with the step that produced it (its gradients would poison the model)."""
    value = float(loss)
    if not math.isfinite(value):
        raise FloatingPointError(f"non-finite loss {value} at epoch {epoch + 1}, step {step + 1}; "
                                 "lower optim.base_lr or use run.precision: fp32/bf16")


class NonFiniteGuard:
    """What a non-finite loss does to the run.

    Without a grad scaler (fp32, bf16) the first non-finite loss stops the run (:func:`check_finite`).
    With one (fp16), as in the authors' loop, the step is skipped and training goes on: a non-finite
    loss is turned into NaN gradients so that the scaler skips the step on every rank (DDP averages
    the NaN into all of them), and a step whose gradients overflowed is skipped by the scaler itself.
    Skipped steps are counted per epoch; ``limit`` consecutive ones stop the run, naming the epoch and
    step of the first and the last. One guard lives for the whole run (the count spans epochs).
    """

    def __init__(self, scaler: torch.amp.GradScaler, limit: int = DEFAULT_MAX_CONSECUTIVE_NONFINITE):
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.scaler = scaler
        self.limit = limit
        self.consecutive = 0
        self.first: tuple[int, int] | None = None  # (epoch, step) of the current run of skipped steps

    @property
    def skips(self) -> bool:
        return self.scaler.is_enabled()

    def loss_for_backward(self, loss: torch.Tensor, finite: bool, epoch: int, step: int) -> torch.Tensor:
        """The loss to back-propagate: itself, or (scaler on, loss non-finite) one with NaN gradients."""
        if finite:
            return loss
        if not self.skips:
            check_finite(loss.detach(), epoch, step)
        return loss * float("nan")  # NaN × 0 is NaN: every parameter it reaches gets a NaN gradient

    def step(self, optimizer: torch.optim.Optimizer, epoch: int, step: int) -> bool:
        """Step through the scaler; returns True if the step was skipped (its scale went down)."""
        scale = self.scaler.get_scale() if self.skips else None
        self.scaler.step(optimizer)
        self.scaler.update()
        skipped = self.skips and self.scaler.get_scale() < scale
        if not skipped:
            self.consecutive, self.first = 0, None
            return False
        self.consecutive += 1
        self.first = self.first or (epoch, step)
        if self.consecutive >= self.limit:
            raise FloatingPointError(
                f"{self.consecutive} consecutive non-finite steps (run.max_consecutive_nonfinite), from epoch "
                f"{self.first[0] + 1}, step {self.first[1] + 1} to epoch {epoch + 1}, step {step + 1}; grad scale "
                f"now {self.scaler.get_scale():.3g}: the run diverged; lower optim.base_lr or use run.precision: fp32")
        return True


def _to_device(images: torch.Tensor, ctx: DistributedContext, channels_last: bool) -> torch.Tensor:
    images = images.to(ctx.device, non_blocking=True)
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images


def train_one_epoch(model, objective, loader, optimizer, scaler, precision, ctx: DistributedContext,
                    epoch: int, max_steps: int = 0, progress: bool = True, accumulation_steps: int = 1,
                    guard: NonFiniteGuard | None = None) -> EpochStats:
    """Run one pass over ``loader``: ``accumulation_steps`` batches per optimizer step, at most
    ``max_steps`` optimizer steps when > 0. Batches left over after the last full step are unused,
    as drop_last does for images. ``guard`` carries the non-finite count across epochs."""
    if accumulation_steps < 1:
        raise ValueError(f"accumulation_steps must be >= 1, got {accumulation_steps}")
    guard = guard or NonFiniteGuard(scaler)
    model.train()
    total_steps = len(loader) // accumulation_steps
    if max_steps > 0:
        total_steps = min(max_steps, total_steps)
    micro_batches = total_steps * accumulation_steps
    sums = torch.zeros(3, dtype=torch.float64, device=ctx.device)  # loss, accuracy, finite micro-batches
    images_seen, skipped, steps, skipped_steps = 0, 0, 0, 0
    bar = tqdm(total=total_steps, desc=f"epoch {epoch + 1}", disable=not progress, file=sys.stderr,
               mininterval=1.0 if sys.stderr.isatty() else 30.0, unit="step")
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    for index, batch in enumerate(loader):
        if index >= micro_batches:
            break
        step, micro = divmod(index, accumulation_steps)
        last_micro = micro == accumulation_steps - 1
        if batch is None:  # every image of the batch was undecodable and skipped
            skipped += loader.batch_size
        else:
            (sender_view, receiver_view), _labels = batch
            skipped += loader.batch_size - sender_view.shape[0]
            sender_view = _to_device(sender_view, ctx, precision.channels_last)
            receiver_view = _to_device(receiver_view, ctx, precision.channels_last)
            # DDP all-reduces gradients on the step's last micro-batch only
            sync = nullcontext() if last_micro or not hasattr(model, "no_sync") else model.no_sync()
            with sync:
                with precision.autocast():
                    output = model(sender_view, receiver_view)
                result = objective(output)  # losses compute in float32 (cosine_scores casts)
                loss = result.loss.detach()
                finite = bool(torch.isfinite(loss))
                backward_loss = guard.loss_for_backward(result.loss, finite, epoch, step)
                scaler.scale(backward_loss / accumulation_steps).backward()
            if finite:
                sums += torch.stack([loss.double(), result.accuracy.double(), loss.new_ones((), dtype=torch.float64)])
            images_seen += sender_view.shape[0]
        if not last_micro:
            continue
        if guard.step(optimizer, epoch, step):
            skipped_steps += 1
        else:
            steps += 1
        optimizer.zero_grad(set_to_none=True)
        bar.update(1)
        if progress and (step + 1) % 10 == 0 and sums[2] > 0:
            bar.set_postfix(loss=f"{(sums[0] / sums[2]).item():.3f}", acc=f"{(sums[1] / sums[2]).item():.3f}",
                            refresh=False)
    bar.close()
    seconds = time.perf_counter() - start
    means = all_reduce_mean(sums[:2] / sums[2].clamp(min=1))
    return EpochStats(float(means[0]), float(means[1]), images_seen * ctx.world_size, seconds, steps, skipped,
                      skipped_steps)
