"""From image files to trained steps: images/s per stage and end to end, augmenting in workers or on the device.

Stages (each alone, same batch size):
  decode          loader workers decode + squash-resize to load_size (uint8): what augment_on=device leaves them
  views (workers) loader workers make both SimCLR views per image (PIL), as augment_on=workers
  views (device)  both views of a uint8 batch already on the device (emcom.data.batch_augment)
  step            forward + backward + LARS on tensors already on the device
End to end: the trainer's own loader (emcom.training.trainer.build_loader), model, precision, thread
choice and epoch loop (train_one_epoch), for -aug and +aug in each place, in steady state (a long
and a short epoch differenced, so the workers' start-up at each epoch cancels out). Modes are timed interleaved
(one timing of each, then again) and the median is printed, with +aug / -aug (the CPU target: >= 0.85)
and end to end / step (the GPU target: >= 0.9). ``--profile`` then runs one epoch per mode under torch.profiler
and prints where its wall time went: device busy (kernels and copies), host blocked on the loader, host ops.

    python benchmarks/end_to_end.py --config results/models/game_aug_noshared/config.yaml --steps 40
    python benchmarks/end_to_end.py --config RUN.yaml --device cuda --root /data/jpegs   # GPU
    python benchmarks/end_to_end.py --config RUN.yaml --skip-stages --modes "+aug device" --repeats 1 --profile
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time

import torch

from emcom.config import load_config
from emcom.data.ahead import WAIT_LABEL
from emcom.data.batch_augment import BatchTwoViews
from emcom.data.device_views import LoadResized
from emcom.data.folder import ImageFolderDataset, collate_skipping_none
from emcom.data.transforms import TwoViews
from emcom.distributed import DistributedContext
from emcom.losses import build_objective
from emcom.training import trainer
from emcom.training.loop import train_one_epoch
from emcom.training.optim import build_lars
from emcom.training.precision import resolve_precision

MODES = {  # name: data overrides
    "-aug workers": {"augment": False, "augment_on": "workers"},
    "-aug device": {"augment": False, "augment_on": "device"},
    "+aug workers": {"augment": True, "augment_on": "workers"},
    "+aug device": {"augment": True, "augment_on": "device"},
    # JPEG datasets: decode on the device too (nvJPEG on CUDA)
    "-aug device+decode": {"augment": False, "augment_on": "device", "decode_on": "device"},
    "+aug device+decode": {"augment": True, "augment_on": "device", "decode_on": "device"},
    # the views made by a background thread, 2 batches ahead of the loop (data.views_ahead)
    "+aug device ahead": {"augment": True, "augment_on": "device", "views_ahead": 2},
    "+aug device+decode ahead": {"augment": True, "augment_on": "device", "decode_on": "device", "views_ahead": 2},
}
DEFAULT_MODES = ["-aug workers", "-aug device", "+aug workers", "+aug device"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _config(base, overrides: dict, steps: int):
    data = dataclasses.replace(base.data, **{"decode_on": "workers", "views_ahead": 0, **overrides})
    run = dataclasses.replace(base.run, max_steps_per_epoch=steps, progress_bar=False)
    return dataclasses.replace(base, data=data, run=run)


@dataclasses.dataclass
class TrainerPieces:
    """The trainer's own loader, model, objective, optimizer, scaler and precision for one run config."""

    loader: object
    model: torch.nn.Module
    objective: object
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    precision: object
    ctx: DistributedContext

    @classmethod
    def build(cls, config, ctx: DistributedContext, available_threads: int) -> "TrainerPieces":
        torch.set_num_threads(trainer.cpu_threads(config, available_threads, ctx.device.type))
        precision = resolve_precision(config.run, ctx.device)
        loader, _sampler = trainer.build_loader(config, ctx)
        torch.manual_seed(config.run.seed)
        model = trainer.prepare_model(config, ctx, precision)
        optimizer = build_lars(model, 0.1, config.optim.momentum, config.optim.weight_decay,
                               config.optim.trust_coefficient, impl=config.optim.lars_impl)
        scaler = torch.amp.GradScaler(ctx.device.type, enabled=precision.grad_scaler)
        return cls(loader, model, build_objective(config.model), optimizer, scaler, precision, ctx)

    def epoch(self, number: int, steps: int):
        """One truncated epoch of ``steps`` optimizer steps (train_one_epoch), synchronised at its end."""
        stats = train_one_epoch(self.model, self.objective, self.loader, self.optimizer, self.scaler, self.precision,
                                self.ctx, number, max_steps=steps, progress=False)
        _sync(self.ctx.device)
        return stats


def end_to_end(config, ctx: DistributedContext, available_threads: int) -> float:
    """Steady-state images/s through the trainer's own pieces (loader, model, precision, epoch loop).

    Each epoch starts its loader workers afresh and fills the pipeline before the first step: seconds
    that a full-scale epoch (10,000 steps) never notices but that would dominate a few dozen steps.
    So two truncated epochs are timed, a short and a long one, and the rate is their difference:
    (images_long − images_short) / (seconds_long − seconds_short), the start-up cancelling out.
    """
    pieces = TrainerPieces.build(config, ctx, available_threads)
    pieces.epoch(0, 2)  # warm-up: kernels chosen, buffers allocated
    long_steps = config.run.max_steps_per_epoch
    short, long = pieces.epoch(1, max(1, long_steps // 5)), pieces.epoch(2, long_steps)
    return (long.images - short.images) / max(long.seconds - short.seconds, 1e-9)


def profile_epoch(config, ctx: DistributedContext, available_threads: int, trace: str | None = None) -> dict:
    """Where one epoch's wall time goes: ``config.run.max_steps_per_epoch`` steps under torch.profiler.

    Returns wall seconds, the device's busy seconds (the sum of its kernels' and copies' own times: one
    stream, so they do not overlap), the host's seconds blocked on the loader (its ``__next__``) and the
    profiler's table of host ops by their own time. On a GPU, wall − busy is the time the device idled;
    if the loader's share explains it, the workers are the limit, else the host's own queueing is.
    A chrome trace is written to ``trace`` if given. Warm-up: one untimed epoch of 2 steps first.
    """
    from torch.profiler import ProfilerActivity, profile

    pieces = TrainerPieces.build(config, ctx, available_threads)
    pieces.epoch(0, 2)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if ctx.device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        stats = pieces.epoch(1, config.run.max_steps_per_epoch)
    if trace:
        prof.export_chrome_trace(trace)
    events = prof.key_averages()
    busy_us = sum(getattr(event, "self_device_time_total", 0) for event in events)
    # the loop's wait for its next batch: the DataLoader's __next__, or the views thread's queue (views_ahead)
    loader_us = sum(event.cpu_time_total for event in events
                    if ("DataLoader" in event.key and "__next__" in event.key) or event.key == WAIT_LABEL)
    return {"wall": stats.seconds, "images": stats.images, "device_busy": busy_us / 1e6,
            "loader_wait": loader_us / 1e6, "table": events.table(sort_by="self_cpu_time_total", row_limit=15)}


def loader_rate(dataset, batch: int, workers: int, batches: int) -> float:
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers,
                                         drop_last=True, collate_fn=collate_skipping_none,
                                         generator=torch.Generator().manual_seed(0))
    iterator = iter(loader)
    next(iterator)  # workers started
    batches = min(batches, len(loader) - 1)  # a small image set ends its epoch first
    start, images = time.perf_counter(), 0
    for _ in range(batches):
        (first, _second), _labels = next(iterator)
        images += len(first)
    return images / (time.perf_counter() - start)


def stage_rates(config, ctx: DistributedContext, batches: int, threads: int) -> dict[str, float]:
    data, batch = config.data, config.optim.batch_size
    load_size = data.load_size or data.image_size
    torch.set_num_threads(1)  # the loader stages: workers do the work, one thread each
    decode = loader_rate(ImageFolderDataset(data.root, data.split, LoadResized(load_size)), batch,
                         data.num_workers, batches)
    views_workers = loader_rate(ImageFolderDataset(data.root, data.split, TwoViews(data.image_size, True,
                                                                                     data.min_crop_scale)),
                                batch, data.num_workers, batches)
    torch.set_num_threads(threads)
    dataset = ImageFolderDataset(data.root, data.split, LoadResized(load_size))
    (images, sizes), _ = collate_skipping_none([dataset[i] for i in range(batch)])
    images = images.to(ctx.device)
    views = BatchTwoViews(data.image_size, True, data.min_crop_scale)
    generator = torch.Generator().manual_seed(0)
    views(images, sizes, generator)
    _sync(ctx.device)
    start = time.perf_counter()
    for _ in range(batches):
        views(images, sizes, generator)
    _sync(ctx.device)
    views_device = batch * batches / (time.perf_counter() - start)
    return {"decode (workers)": decode, "views (workers)": views_workers, "views (device)": views_device}


def step_rate(config, ctx: DistributedContext, steps: int, threads: int) -> float:
    """Images/s of the training step alone, with ``threads`` intra-op threads, on random tensors already
    on the device: the trainer's own model, objective, optimizer and precision (:class:`TrainerPieces`)."""
    pieces = TrainerPieces.build(config, ctx, threads)
    torch.set_num_threads(threads)  # build applies the trainer's rule; the step alone is timed at `threads`
    model, objective, optimizer, scaler, precision = (pieces.model, pieces.objective, pieces.optimizer,
                                                      pieces.scaler, pieces.precision)
    size, batch = config.data.image_size, config.optim.batch_size
    memory = torch.channels_last if precision.channels_last else torch.contiguous_format
    a, b = (torch.randn(batch, 3, size, size, device=ctx.device).contiguous(memory_format=memory) for _ in range(2))

    def step():
        with precision.autocast():
            output = model(a, b)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(objective(output).loss).backward()
        scaler.step(optimizer)
        scaler.update()

    for _ in range(3):
        step()
    _sync(ctx.device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(ctx.device)
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="results/models/game_aug_noshared/config.yaml", help="a run config")
    parser.add_argument("--root", help="override data.root (a dataset folder with <split>/<wnid>/ images)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps per end-to-end timing")
    parser.add_argument("--repeats", type=int, default=2,
                        help="interleaved rounds of timings (the step alone, then each mode); medians printed; "
                             "0 with --profile: the profiled epochs only")
    parser.add_argument("--workers", type=int, help="override data.num_workers")
    parser.add_argument("--modes", nargs="+", default=DEFAULT_MODES, choices=list(MODES))
    parser.add_argument("--skip-stages", action="store_true", help="end to end only")
    parser.add_argument("--profile", action="store_true",
                        help="then one epoch of --steps steps per mode under torch.profiler: device busy vs wall, "
                             "loader wait, host ops")
    parser.add_argument("--trace-dir", help="with --profile: write a chrome trace per mode here")
    args = parser.parse_args()
    base = load_config(args.config)
    if args.root or args.workers is not None:
        base = dataclasses.replace(base, data=dataclasses.replace(
            base.data, **({"root": args.root} if args.root else {}),
            **({"num_workers": args.workers} if args.workers is not None else {})))
    device = torch.device(args.device)
    ctx = DistributedContext(rank=0, world_size=1, local_rank=0, device=device)
    threads = torch.get_num_threads()
    print(f"# {base.data.root}/{base.data.split}: {base.model.kind} {base.model.backbone} shared={base.model.shared}, "
          f"{base.data.image_size} px, batch {base.optim.batch_size}, {base.data.num_workers} workers, {device}, "
          f"{threads} threads, {resolve_precision(base.run, device)}, torch {torch.__version__}", flush=True)
    if args.repeats > 0:
        print_timings(base, ctx, threads, args)
    if args.profile:
        print_profiles(base, ctx, threads, args.modes, args.steps, args.trace_dir)


def print_timings(base, ctx: DistributedContext, threads: int, args) -> None:
    """The stages once, then ``args.repeats`` rounds of: the step alone, each end-to-end mode; medians.

    The step alone is timed in every round, beside the modes, because on a shared GPU machine it
    drifted by 25% between processes (docs/gpu.md, third lease): a reference taken once cannot be
    compared with rates taken minutes later. It is timed at the trainer's intra-op thread count (as end
    to end runs it) and at torch's default; the faster median is the reference of "/ step", so a thread
    choice cannot flatter the ratio.
    """
    trainer_threads = trainer.cpu_threads(base, threads, ctx.device.type)
    steps_alone = {n: [] for n in dict.fromkeys([trainer_threads, threads])}
    if not args.skip_stages:
        print("| stage | img/s |\n|---|---|")
        for name, rate in stage_rates(base, ctx, args.steps, threads).items():
            print(f"| {name} | {rate:.0f} |", flush=True)
    rates = {name: [] for name in args.modes}
    for _ in range(args.repeats):
        for n in steps_alone:
            steps_alone[n].append(step_rate(base, ctx, args.steps, n))
            print(f"# step alone, {n} intra-op threads: {steps_alone[n][-1]:.0f} img/s", flush=True)
        for name in args.modes:
            rates[name].append(end_to_end(_config(base, MODES[name], args.steps), ctx, threads))
            print(f"# {name}: {rates[name][-1]:.0f} img/s", flush=True)
    print("\n| step alone, intra-op threads | img/s (median) | timings |\n|---|---|---|")
    for n, timings in steps_alone.items():
        print(f"| {n} | {statistics.median(timings):.0f} | {', '.join(f'{r:.0f}' for r in timings)} |")
    step = max(statistics.median(timings) for timings in steps_alone.values())
    print("\n| end to end | img/s (median) | timings | +aug / -aug (same place, else -aug workers) | / step |\n"
          "|---|---|---|---|---|")
    for name in args.modes:
        median = statistics.median(rates[name])
        plain = rates.get(name.replace("+aug", "-aug")) or rates.get("-aug workers")
        ratio = f"{median / statistics.median(plain):.2f}" if plain and name.startswith("+") else ""
        print(f"| {name} | {median:.0f} | {', '.join(f'{r:.0f}' for r in rates[name])} | {ratio} | "
              f"{median / step:.2f} |", flush=True)
    if "-aug workers" in rates and "+aug device" in rates:
        print(f"\n+aug device / -aug workers (the CPU target, >= 0.85): "
              f"{statistics.median(rates['+aug device']) / statistics.median(rates['-aug workers']):.2f}")


def print_profiles(base, ctx: DistributedContext, threads: int, modes: list[str], steps: int,
                   trace_dir: str | None) -> None:
    """One profiled epoch per mode (:func:`profile_epoch`): a summary row each, then the host-op tables."""
    profiles = {}
    for name in modes:
        trace = None
        if trace_dir:
            os.makedirs(trace_dir, exist_ok=True)
            trace = os.path.join(trace_dir, name.replace(" ", "_").replace("+", "plus").replace("-", "minus") + ".json")
        profiles[name] = profile_epoch(_config(base, MODES[name], steps), ctx, threads, trace)
    print("\n| profiled epoch (torch.profiler on) | steps | wall s | img/s | device busy s (share) | "
          "host blocked on the loader s (share) |\n|---|---|---|---|---|---|")
    for name, p in profiles.items():
        busy = f"{p['device_busy']:.2f} ({p['device_busy'] / p['wall']:.2f})" if ctx.device.type == "cuda" else "n/a (CPU)"
        print(f"| {name} | {steps} | {p['wall']:.2f} | {p['images'] / p['wall']:.0f} | {busy} | "
              f"{p['loader_wait']:.2f} ({p['loader_wait'] / p['wall']:.2f}) |")
    for name, p in profiles.items():
        print(f"\n### host ops by own time: {name}\n```\n{p['table']}\n```")


if __name__ == "__main__":
    main()
