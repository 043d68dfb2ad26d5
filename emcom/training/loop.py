"""One training epoch: forward, loss, backward, LARS step, with progress and non-finite checks.

Gradient accumulation: with ``accumulation_steps`` = k > 1, k loader batches (micro-batches) make one
optimizer step, each micro-batch's loss divided by k, and DDP synchronises gradients on the k-th
only. The game's candidates and BatchNorm's statistics stay those of one micro-batch.

Host reads of device values: each one makes the host wait until the device has run everything
queued, and the device then idles while the host queues the next kernels (on a GPU, the next batch's
views and forward). With a grad scaler (fp16, the CUDA default) and the fused LARS, a step reads
nothing: the optimizer takes the scaler's ``found_inf`` on the device (``FusedLars``) and skipped
steps are counted there (:class:`NonFiniteGuard`, read every 100 steps), so the host runs ahead
and queues the next batch while the device runs the step. (With an optimizer that does not take
``found_inf``, timm's Lars among them, ``GradScaler.step`` itself reads it every step.) Without a
scaler (fp32, bf16) each loss is read to stop on the first non-finite one before its gradients
reach the weights: there is no step to skip. Progress is read at most once per tqdm refresh
interval, the epoch means once at its end.
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
# The host reads the skipped-step counts every this many steps (and at epoch end): one wait on the
# device per 100 steps instead of one per step.
CHECK_NONFINITE_EVERY = 100


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
    loss is turned into NaN gradients (on the device, no host read) so that the scaler skips the step
    on every rank (DDP averages the NaN into all of them), and a step whose gradients overflowed is
    skipped by the scaler itself. Skipped steps are counted; ``limit`` consecutive ones stop the run,
    naming the epoch and step of the first and the last. One guard lives for the whole run (the count
    spans epochs).

    A step was skipped when the scaler's scale went down (it halves at each skipped step). That is
    compared and counted on the device, step by step; the host reads the counts every
    ``check_every`` steps and at epoch end (:meth:`settle`), the same steps on every rank, so all
    ranks stop together. A diverged run therefore stops up to ``check_every`` steps after its
    ``limit``-th skipped step; the steps in between were skipped too, and left the weights alone.
    """

    def __init__(self, scaler: torch.amp.GradScaler, limit: int = DEFAULT_MAX_CONSECUTIVE_NONFINITE,
                 check_every: int = CHECK_NONFINITE_EVERY):
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        if check_every < 1:
            raise ValueError(f"check_every must be >= 1, got {check_every}")
        self.scaler = scaler
        self.limit = limit
        self.check_every = check_every
        self.skipped_total = 0  # steps skipped so far, as of the last read (settle)
        self._steps: list[tuple[int, int]] = []  # (epoch, step) of each step taken, by run-wide index
        # On the device, created at the first step (int64): [consecutive skips, skips in all, index of the
        # current run's first skip, tripped (0/1), first and last index of the run that reached the limit]
        self._counts: torch.Tensor | None = None

    @property
    def skips(self) -> bool:
        return self.scaler.is_enabled()

    def loss_for_backward(self, loss: torch.Tensor, finite: torch.Tensor, epoch: int, step: int) -> torch.Tensor:
        """The loss to back-propagate: itself where ``finite`` (a () bool tensor), else (scaler on) one
        whose gradients are NaN; scaler off, a non-finite loss stops the run here."""
        if not self.skips:
            check_finite(loss.detach(), epoch, step)  # reads the device: nothing could skip the step
            return loss
        # × 1 leaves a finite loss and its gradients bit-identical; × NaN makes every gradient it reaches NaN
        return loss * torch.where(finite, 1.0, float("nan")).to(loss.dtype)

    def step(self, optimizer: torch.optim.Optimizer, epoch: int, step: int) -> None:
        """Step through the scaler and count the step's outcome on the device (no host read, except
        every ``check_every`` steps)."""
        if not self.skips:
            self.scaler.step(optimizer)
            self.scaler.update()
            return
        # the scale tensor itself (torch's own accessor; a copy, since update() changes it in place)
        scale_before = self.scaler._get_scale_async().clone()
        if self._counts is None:
            self._counts = torch.zeros(6, dtype=torch.int64, device=scale_before.device)
        self.scaler.step(optimizer)
        self.scaler.update()
        self._count(len(self._steps), self.scaler._get_scale_async() < scale_before)
        self._steps.append((epoch, step))
        if len(self._steps) % self.check_every == 0:
            self.settle()

    def _count(self, index: int, skipped: torch.Tensor) -> None:
        """Device-side bookkeeping of step ``index`` (``skipped``: a () bool tensor)."""
        consecutive, total, run_first, tripped, trip_first, trip_last = self._counts.unbind(0)
        skip = skipped.long()
        consecutive = (consecutive + 1) * skip
        run_first = torch.where(consecutive == 1, index, run_first)
        trips = (consecutive >= self.limit) & (tripped == 0)  # the first time the limit is reached
        self._counts = torch.stack([
            consecutive, total + skip, run_first, torch.where(trips, 1, tripped),
            torch.where(trips, run_first, trip_first), torch.where(trips, index, trip_last)])

    def settle(self) -> None:
        """Read the counts (one host read: call it where the host may wait, as at epoch end) and stop
        the run if ``limit`` consecutive steps were skipped."""
        if not self.skips or self._counts is None:
            return
        _consecutive, total, _run_first, tripped, trip_first, trip_last = self._counts.tolist()
        self.skipped_total = total
        if tripped:
            first, last = self._steps[trip_first], self._steps[trip_last]
            raise FloatingPointError(
                f"{self.limit} consecutive non-finite steps (run.max_consecutive_nonfinite), from epoch "
                f"{first[0] + 1}, step {first[1] + 1} to epoch {last[0] + 1}, step {last[1] + 1}; "
                f"grad scale now {self.scaler.get_scale():.3g}: the run diverged; lower optim.base_lr or use "
                "run.precision: fp32")


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
    images_seen, skipped, steps_taken = 0, 0, 0
    skipped_before = guard.skipped_total
    bar = tqdm(total=total_steps, desc=f"epoch {epoch + 1}", disable=not progress, file=sys.stderr,
               mininterval=1.0 if sys.stderr.isatty() else 30.0, unit="step")
    start = last_postfix = time.perf_counter()
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
                finite = torch.isfinite(loss)  # stays on the device
                backward_loss = guard.loss_for_backward(result.loss, finite, epoch, step)
                scaler.scale(backward_loss / accumulation_steps).backward()
            # a non-finite micro-batch adds nothing (where, not ×: NaN × 0 is NaN)
            terms = torch.stack([loss.double(), result.accuracy.double(), loss.new_ones((), dtype=torch.float64)])
            sums += torch.where(finite, terms, torch.zeros_like(terms))
            images_seen += sender_view.shape[0]
        if not last_micro:
            continue
        guard.step(optimizer, epoch, step)
        steps_taken += 1
        optimizer.zero_grad(set_to_none=True)
        bar.update(1)
        if progress and time.perf_counter() - last_postfix >= bar.mininterval:  # one device read per refresh
            loss_mean, accuracy_mean = (sums[:2] / sums[2].clamp(min=1)).tolist()
            bar.set_postfix(loss=f"{loss_mean:.3f}", acc=f"{accuracy_mean:.3f}", refresh=False)
            last_postfix = time.perf_counter()
    guard.settle()
    bar.close()
    seconds = time.perf_counter() - start
    skipped_steps = guard.skipped_total - skipped_before
    loss_mean, accuracy_mean = all_reduce_mean(sums[:2] / sums[2].clamp(min=1)).tolist()  # one read
    return EpochStats(loss_mean, accuracy_mean, images_seen * ctx.world_size, seconds,
                      steps_taken - skipped_steps, skipped, skipped_steps)
