"""The epoch loop: non-finite steps under a grad scaler are skipped and counted, persistent ones stop the
run naming epoch and step; without a scaler the first one stops it; gradient accumulation; batch plans."""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from emcom.config import ConfigError, OptimConfig
from emcom.distributed import DistributedContext
from emcom.losses import LossOutput
from emcom.training.batching import batch_plan
from emcom.training.lars import FusedLars
from emcom.training.loop import NonFiniteGuard, train_one_epoch
from emcom.training.precision import Precision

CPU = DistributedContext(0, 1, 0, torch.device("cpu"))
FP32 = Precision("fp32", "cpu", False)


class TinyModel(nn.Module):
    """model(sender_view, receiver_view) -> (B,) scores; no BatchNorm, so batches can be split exactly."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(3 * 4 * 4, 1)

    def forward(self, sender_view, receiver_view):
        return self.linear((sender_view - receiver_view).flatten(1)).squeeze(1)


class Batches(list):
    """A list of ((sender, receiver), labels) batches with the DataLoader attributes the loop reads."""

    def __init__(self, count: int, batch_size: int, seed: int = 0):
        generator = torch.Generator().manual_seed(seed)
        super().__init__(((torch.randn(batch_size, 3, 4, 4, generator=generator),
                           torch.randn(batch_size, 3, 4, 4, generator=generator)), torch.zeros(batch_size))
                         for _ in range(count))
        self.batch_size = batch_size


def rows_of(batch, rows: slice):
    """The same batch cut to ``rows`` (a shorter batch, as undecodable images or micro-batches leave)."""
    (sender, receiver), labels = batch
    return (sender[rows], receiver[rows]), labels[rows]


def objective_poisoned_at(calls_to_poison: set[int]):
    """Mean squared score; the calls listed (0-based, over the whole test) return a NaN loss."""
    calls = []

    def objective(scores):
        loss = scores.pow(2).mean()
        if len(calls) in calls_to_poison:
            loss = loss * float("nan")
        calls.append(1)
        return LossOutput(loss, scores.detach().mean() * 0 + 0.5)  # on the scores' device: nothing copied in

    objective.calls = calls  # the calls so far, for tests that count them
    return objective


def _enabled_scaler() -> torch.amp.GradScaler:
    scaler = torch.amp.GradScaler("cpu", enabled=True)
    assert scaler.is_enabled()
    return scaler


def _disabled_scaler() -> torch.amp.GradScaler:
    return torch.amp.GradScaler("cpu", enabled=False)


def _epoch(model, objective, batches, scaler, epoch=0, guard=None, accumulation_steps=1, lr=0.1, ctx=CPU,
           precision=FP32, **sgd):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, **sgd)
    return train_one_epoch(model, objective, batches, optimizer, scaler, precision, ctx, epoch, progress=False,
                           accumulation_steps=accumulation_steps, guard=guard)


def test_scaler_skips_a_non_finite_step_counts_it_and_goes_on():
    model = TinyModel()
    before = [p.detach().clone() for p in model.parameters()]
    stats = _epoch(model, objective_poisoned_at({0}), Batches(1, 8), _enabled_scaler())
    assert stats.skipped_steps == 1 and stats.steps == 0  # step 1 skipped: the weights did not move
    assert all(torch.equal(b, p) for b, p in zip(before, model.parameters()))

    model = TinyModel()
    stats = _epoch(model, objective_poisoned_at({1, 2}), Batches(5, 8), _enabled_scaler())
    assert (stats.steps, stats.skipped_steps) == (3, 2)
    assert stats.loss == stats.loss and stats.loss > 0  # the epoch mean leaves the NaN losses out
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert not torch.equal(before[0], model.linear.weight)  # the finite steps trained


def test_persistent_non_finite_steps_stop_the_run_naming_epoch_and_step():
    scaler = _enabled_scaler()
    guard = NonFiniteGuard(scaler, limit=4)
    # epoch 1: steps 3 and 4 poisoned (calls 2, 3); epoch 2: steps 1 and 2 (calls 4, 5): 4 in a row
    objective = objective_poisoned_at({2, 3, 4, 5})
    model = TinyModel()
    stats = _epoch(model, objective, Batches(4, 8), scaler, epoch=0, guard=guard)
    assert stats.skipped_steps == 2
    # the message names the config keys that change the outcome
    with pytest.raises(FloatingPointError, match=r"4 consecutive non-finite steps \(run.max_consecutive_nonfinite\), "
                                                 r"from epoch 1, step 3 to epoch 2, step 2; grad scale now .*: the run "
                                                 r"diverged; lower optim.base_lr or use run.precision: fp32$"):
        _epoch(model, objective, Batches(4, 8), scaler, epoch=1, guard=guard)


def test_a_finite_step_resets_the_consecutive_count():
    scaler = _enabled_scaler()
    guard = NonFiniteGuard(scaler, limit=3)
    stats = _epoch(TinyModel(), objective_poisoned_at({0, 1, 3, 4, 6, 7}), Batches(9, 8), scaler, guard=guard)
    assert (stats.steps, stats.skipped_steps) == (3, 6)


def test_without_a_scaler_the_first_non_finite_loss_stops():
    disabled = _disabled_scaler()
    with pytest.raises(FloatingPointError, match="non-finite loss nan at epoch 3, step 2; "
                                                 "lower optim.base_lr or use run.precision: fp32/bf16$"):
        _epoch(TinyModel(), objective_poisoned_at({1}), Batches(4, 8), disabled, epoch=2)


def test_accumulated_micro_batches_make_the_step_of_the_whole_batch():
    disabled = _disabled_scaler()
    whole = Batches(1, 8)
    halves = Batches(0, 4)
    halves.extend([rows_of(whole[0], slice(0, 4)), rows_of(whole[0], slice(4, 8))])
    one, two = TinyModel(), TinyModel()
    stats_one = _epoch(one, objective_poisoned_at(set()), whole, disabled)
    stats_two = _epoch(two, objective_poisoned_at(set()), halves, disabled, accumulation_steps=2)
    assert stats_one.steps == stats_two.steps == 1 and stats_two.images == 8
    for a, b in zip(one.parameters(), two.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    # an incomplete accumulation at the end of the epoch is dropped, as drop_last drops images: it is
    # neither trained on nor counted in the epoch's images and means
    batches = Batches(5, 4)
    objective = objective_poisoned_at(set())
    stats = _epoch(TinyModel(), objective, batches, disabled, accumulation_steps=2)
    assert (stats.steps, stats.images, len(objective.calls)) == (2, 16, 4)
    with pytest.raises(ValueError, match="accumulation_steps must be >= 1, got 0"):
        _epoch(TinyModel(), objective, batches, disabled, accumulation_steps=0)


def test_the_epoch_statistics_are_the_means_over_its_finite_micro_batches():
    losses, accuracies = [], [0.25, 0.5, 1.0, 0.75]

    def objective(scores):
        loss = scores.pow(2).mean()
        if len(losses) == 2:
            loss = loss * float("nan")  # a skipped step: left out of both means
        losses.append(float(loss.detach()))
        return LossOutput(loss, torch.tensor(accuracies[len(losses) - 1]))

    started = time.perf_counter()
    stats = _epoch(TinyModel(), objective, Batches(4, 8), _enabled_scaler())
    elapsed = time.perf_counter() - started
    finite = [0, 1, 3]
    assert stats.loss == pytest.approx(sum(losses[i] for i in finite) / 3, rel=1e-12)
    assert stats.accuracy == pytest.approx((0.25 + 0.5 + 0.75) / 3, rel=1e-12)
    assert (stats.images, stats.steps, stats.skipped_steps) == (32, 3, 1)
    assert 0 < stats.seconds <= elapsed

    one = _epoch(TinyModel(), objective_poisoned_at(set()), Batches(1, 8), _disabled_scaler())
    with torch.no_grad():
        first_loss = float(TinyModel()(*Batches(1, 8)[0][0]).pow(2).mean())
    assert one.loss == pytest.approx(first_loss, rel=1e-6)


def test_an_epochs_images_are_those_of_every_rank():
    two_ranks = DistributedContext(0, 2, 0, torch.device("cpu"))  # rank 0 of 2, each as many images as this one
    stats = _epoch(TinyModel(), objective_poisoned_at(set()), Batches(3, 8), _disabled_scaler(), ctx=two_ranks)
    assert stats.images == 2 * 3 * 8


def test_a_guard_carried_across_epochs_counts_each_epochs_skips_in_that_epoch():
    scaler = _enabled_scaler()
    guard = NonFiniteGuard(scaler, limit=10)
    objective = objective_poisoned_at({0, 1, 5})
    first = _epoch(TinyModel(), objective, Batches(4, 8), scaler, epoch=0, guard=guard)
    second = _epoch(TinyModel(), objective, Batches(4, 8), scaler, epoch=1, guard=guard)
    assert (first.skipped_steps, second.skipped_steps, guard.skipped_total) == (2, 1, 3)


def test_images_dropped_by_on_bad_image_skip_are_counted():
    """A batch that lost images to undecodable files is shorter than the loader's batch_size; one that lost
    them all arrives as None (emcom.data.folder): both are counted, and only the images seen are trained on."""
    batches = Batches(3, 8)
    # an empty batch between two short ones: each count adds up
    batches[0], batches[1], batches[2] = rows_of(batches[0], slice(0, 6)), None, rows_of(batches[2], slice(0, 7))
    stats = _epoch(TinyModel(), objective_poisoned_at(set()), batches, _disabled_scaler())
    assert (stats.skipped, stats.images) == (2 + 8 + 1, 6 + 7)


def test_a_batch_that_lost_every_image_leaves_the_weights_alone():
    """No gradient, no update: not even momentum or weight decay moves the weights on an empty batch."""
    weights = []
    for lost in (0, 1):
        batches = Batches(1, 8)
        batches.extend([None] * lost)
        model = TinyModel()
        _epoch(model, objective_poisoned_at(set()), batches, _disabled_scaler(), momentum=0.9, weight_decay=0.1)
        weights.append(model.linear.weight.detach().clone())
    assert torch.equal(weights[0], weights[1])


def test_gradients_are_synchronised_on_the_last_micro_batch_of_a_step_only():
    """Under DDP (a model with ``no_sync``) the micro-batches before a step's last accumulate locally."""
    entered = []

    class DdpLike(TinyModel):
        @contextmanager
        def no_sync(self):
            entered.append(len(calls))
            yield

    objective = objective_poisoned_at(set())
    calls = objective.calls
    _epoch(DdpLike(), objective, Batches(6, 4), _disabled_scaler(), accumulation_steps=3)
    assert entered == [0, 1, 3, 4]  # micro-batches 1, 2 and 4, 5 of the two steps; 3 and 6 all-reduce


def test_the_guard_accepts_its_smallest_settings_and_names_a_wrong_one():
    scaler = _enabled_scaler()
    guard = NonFiniteGuard(scaler, limit=1, check_every=1)
    with pytest.raises(FloatingPointError, match="1 consecutive non-finite steps .* from epoch 1, step 2 to epoch 1, "
                                                 "step 2"):
        _epoch(TinyModel(), objective_poisoned_at({1}), Batches(3, 8), scaler, guard=guard)
    with pytest.raises(ValueError, match="limit must be >= 1, got 0"):
        NonFiniteGuard(scaler, limit=0)
    with pytest.raises(ValueError, match="check_every must be >= 1, got 0"):
        NonFiniteGuard(scaler, check_every=0)


def test_a_scaled_finite_loss_back_propagates_unchanged_and_a_non_finite_one_as_nan():
    guard = NonFiniteGuard(_enabled_scaler())
    weight = torch.tensor([0.5, -2.0], requires_grad=True)
    loss = (weight ** 2).sum()
    kept = guard.loss_for_backward(loss, torch.isfinite(loss), epoch=0, step=0)
    assert torch.equal(kept, loss) and kept.dtype == loss.dtype
    kept.backward()
    assert torch.equal(weight.grad, 2 * weight.detach())
    poisoned = guard.loss_for_backward(loss, torch.tensor(False), epoch=0, step=0)
    assert torch.isnan(poisoned)


def test_a_scaled_guard_that_never_stepped_settles_with_nothing_skipped():
    guard = NonFiniteGuard(_enabled_scaler())
    guard.settle()  # an epoch of no step (every batch undecodable) reads nothing and stops nothing
    assert guard.skipped_total == 0


@pytest.mark.parametrize("channels_last", [True, False])
def test_the_views_reach_the_model_in_the_precisions_memory_format(channels_last):
    seen = []

    class RecordingModel(TinyModel):
        def forward(self, sender_view, receiver_view):
            seen.extend(view.is_contiguous(memory_format=torch.channels_last) for view in (sender_view, receiver_view))
            return super().forward(sender_view, receiver_view)

    _epoch(RecordingModel(), objective_poisoned_at(set()), Batches(2, 8), _disabled_scaler(),
           precision=Precision("fp32", "cpu", channels_last))
    assert seen == [channels_last] * 4


@pytest.mark.parametrize("world,global_batch,accumulation,expected_batch,expected_lr", [
    (16, 0, 1, 2048, 2.4),      # the paper: 16 GPUs × 128
    (8, 0, 1, 1024, 1.2),       # fewer GPUs, default: the per-GPU batch kept, lr scaled
    (8, 2048, 2, 2048, 2.4),    # fewer GPUs, the paper's global batch by accumulation
    (1, 2048, 16, 2048, 2.4),
])
def test_batch_plan(world, global_batch, accumulation, expected_batch, expected_lr):
    plan = batch_plan(OptimConfig(batch_size=128, base_lr=0.3, global_batch=global_batch), world)
    assert (plan.accumulation_steps, plan.global_batch) == (accumulation, expected_batch)
    assert plan.lr == pytest.approx(expected_lr)


def test_batch_plan_refuses_a_global_batch_it_cannot_reach():
    with pytest.raises(ConfigError, match="optim.global_batch=2000 is not a multiple of .* 1024"):
        batch_plan(OptimConfig(batch_size=128, global_batch=2000), 8)


class _DeviceReads(TorchDispatchMode):
    """Counts reads of tensor values by the host: ``.item()``, ``bool()``, ``float()`` (one dispatched
    ``_local_scalar_dense`` each) and ``.tolist()`` (on a CPU tensor it reads memory without a dispatch,
    so it is counted where it is called). On a GPU each one waits for everything queued, and the device
    idles while the host queues the next kernels."""

    def __init__(self, monkeypatch):
        super().__init__()
        self.count = 0
        tolist = torch.Tensor.tolist

        def counted_tolist(tensor):
            self.count += 1
            return tolist(tensor)

        monkeypatch.setattr(torch.Tensor, "tolist", counted_tolist)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += func is torch.ops.aten._local_scalar_dense.default
        return func(*args, **kwargs or {})


@pytest.mark.parametrize("optimizer_kind", ["fused_lars", "sgd"])
def test_a_scaled_epoch_reads_the_device_only_at_its_end(monkeypatch, optimizer_kind):
    """fp16's path (grad scaler on) with the fused LARS: no read in any step, even a skipped one; the
    skips are counted on the device and read at the end, with the epoch means. An optimizer that does
    not take found_inf itself (SGD here, timm's Lars) makes GradScaler.step read it every step."""
    batches = Batches(6, 8)
    model, scaler = TinyModel(), _enabled_scaler()
    optimizer = (FusedLars(model.parameters(), lr=0.1, momentum=0.9) if optimizer_kind == "fused_lars"
                 else torch.optim.SGD(model.parameters(), lr=0.1))
    with _DeviceReads(monkeypatch) as reads:
        stats = train_one_epoch(model, objective_poisoned_at({2}), batches, optimizer, scaler, FP32, CPU, 0,
                                progress=False)
    assert (stats.steps, stats.skipped_steps) == (5, 1)
    per_step = 0 if optimizer_kind == "fused_lars" else 1
    assert reads.count == per_step * 6 + 1 + 1  # + the skip counts and the epoch means, one read each


def test_skips_are_read_every_check_every_steps_and_a_run_stops_there():
    """The limit is checked on the host every ``check_every`` steps (the same steps on every rank) and
    at epoch end: a run whose limit is reached at step 3 stops at step 4, naming steps 1 to 3."""
    scaler = _enabled_scaler()
    guard = NonFiniteGuard(scaler, limit=3, check_every=4)
    objective = objective_poisoned_at({0, 1, 2})
    with pytest.raises(FloatingPointError, match=r"3 consecutive non-finite steps .* from epoch 1, step 1 "
                                                 r"to epoch 1, step 3"):
        _epoch(TinyModel(), objective, Batches(8, 8), scaler, guard=guard)
    assert len(objective.calls) == 4  # stopped at the first check after the limit, not at the epoch's end (8)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: the sync debug mode is CUDA's")
def test_a_scaled_epoch_on_cuda_synchronises_only_at_its_end():
    """On a GPU, CUDA's own check, in "warn" mode: a 6-step fp16-style epoch (grad scaler, fused LARS,
    a skipped step) makes exactly two synchronising calls, both after the last step: the skip counts
    and the epoch means."""
    cuda = DistributedContext(0, 1, 0, torch.device("cuda"))
    model, scaler = TinyModel().cuda(), torch.amp.GradScaler("cuda")
    optimizer = FusedLars(model.parameters(), lr=0.1, momentum=0.9)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            stats = train_one_epoch(model, objective_poisoned_at({2}), Batches(6, 8), optimizer, scaler, FP32,
                                    cuda, 0, progress=False)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    synchronising = [w for w in caught if "synchroniz" in str(w.message)]
    assert (stats.steps, stats.skipped_steps) == (5, 1)
    assert len(synchronising) == 2, [str(w.message) for w in synchronising]
