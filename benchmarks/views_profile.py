"""Where the device views' time goes: both SimCLR views of one uint8 batch, stage by stage and kernel by kernel.

``augment_batch`` (emcom.data.batch_augment) run as its stages (crop+resize, the 16 masked jitter
calls, grayscale, blur, flip, normalise), each timed alone (synchronised before and after, median of
``--repeats``), then both views unsynchronised (the rate the training loop sees) by the masked path and
by the whole-batch path (emcom.data.fused_views, compiled on CUDA), interleaved, and, with ``--kernels``,
torch.profiler's table of each one's kernels by device time. Random uint8 squares stand for the
loaded images; their "original" sizes are drawn like ImageNet's (the crop box depends on them only).

    python benchmarks/views_profile.py                                  # CPU, 32 px
    python benchmarks/views_profile.py --device cuda --batch 128 --size 224 --kernels
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from emcom.data import batch_augment as ba


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device: torch.device, repeats: int) -> float:
    """Median seconds of fn() over ``repeats``, synchronised around each call."""
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def stage_times(images: torch.Tensor, sizes: torch.Tensor, params: ba.ViewParams, size: int,
                repeats: int) -> dict[str, float]:
    """Seconds per stage of one view (augment_batch's steps, in its order, on its intermediate tensors)."""
    device = images.device
    crop = lambda: ba.crop_and_resize(images, sizes, params, size)  # noqa: E731
    times = {"crop + resize (roi_align)": _timed(crop, device, repeats)}
    x = crop()
    for op, fn in enumerate(ba.JITTER_OPS):
        def jitter(x=x, op=op, fn=fn):
            for position in range(4):
                mask = params.jitter & (params.order[:, position] == op)
                x = ba._apply_to(x, mask, fn, params.factors[:, op])
            return x
        times[f"jitter: {fn.__name__} (4 masked calls)"] = _timed(jitter, device, repeats)
    times["grayscale"] = _timed(lambda: ba._apply_to(x, params.gray, lambda t: ba.grayscale(t).expand(-1, 3, -1, -1)),
                                device, repeats)
    times["blur"] = _timed(lambda: ba._apply_to(x, params.blur, ba.gaussian_blur, params.sigma, on_host=True),
                           device, repeats)
    times["flip"] = _timed(lambda: ba._apply_to(x, params.flip, lambda t: t.flip(-1)), device, repeats)
    times["normalise"] = _timed(lambda: ba.normalize(x), device, repeats)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=32, help="view side (data.image_size)")
    parser.add_argument("--load-size", type=int, default=0, help="loaded square side (data.load_size; 0 = size)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--kernels", action="store_true", help="print torch.profiler's kernel table too")
    args = parser.parse_args()
    device = torch.device(args.device)
    load = args.load_size or args.size
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.batch, 3, load, load), dtype=torch.uint8, generator=generator).to(device)
    sizes = torch.stack([torch.randint(300, 500, (args.batch,), generator=generator),
                         torch.randint(300, 500, (args.batch,), generator=generator)], dim=1)
    params = ba.sample_view_params(sizes[:, 0], sizes[:, 1], generator)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"# views of {args.batch} uint8 {load} px squares -> {args.size} px, {name}, torch {torch.__version__}")
    ba.augment_batch(images, sizes, params, args.size)  # warm-up
    stages = stage_times(images, sizes, params, args.size, args.repeats)
    whole = _timed(lambda: ba.augment_batch(images, sizes, params, args.size), device, args.repeats)
    print("| stage of one masked view (synchronised) | ms | share of the sum |\n|---|---|---|")
    total = sum(stages.values())
    for stage, seconds in stages.items():
        print(f"| {stage} | {seconds * 1e3:.2f} | {seconds / total:.0%} |")
    print(f"| sum of stages | {total * 1e3:.2f} | |\n| augment_batch, one view | {whole * 1e3:.2f} | |")
    # the loop's view: both views, back to back, synchronised only at the end; the two implementations
    # interleaved, after one warm-up call each (the whole-batch path compiles there on CUDA)
    implementations = {"masked (augment_batch)": ba.BatchTwoViews(args.size, augment=True, whole_batch=False),
                       "whole batch (fused_views)": ba.BatchTwoViews(args.size, augment=True, whole_batch=True)}
    for label, views in implementations.items():
        start = time.perf_counter()
        views(images, sizes, generator)
        _sync(device)
        print(f"# first call, {label}: {time.perf_counter() - start:.1f} s")
    calls = max(args.repeats, 5)
    seconds = {label: [] for label in implementations}
    for _ in range(3):
        for label, views in implementations.items():
            _sync(device)
            start = time.perf_counter()
            for _ in range(calls):
                views(images, sizes, generator)
            _sync(device)
            seconds[label].append((time.perf_counter() - start) / calls)
    print("\n| both views, unsynchronised (median of 3) | ms per batch | img/s | vs masked |\n|---|---|---|---|")
    masked = statistics.median(seconds["masked (augment_batch)"])
    for label, times in seconds.items():
        median = statistics.median(times)
        print(f"| {label} | {median * 1e3:.2f} | {args.batch / median:.0f} | {masked / median:.2f}x |")
    if args.kernels:
        for label, views in implementations.items():
            print(f"\n## kernels, {label}, 3 batches")
            _profile(views, images, sizes, generator, device)


def _profile(views, images, sizes, generator, device) -> None:
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as profile:
        for _ in range(3):
            views(images, sizes, generator)
        _sync(device)
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    try:
        print(profile.key_averages().table(sort_by=sort, row_limit=15, max_name_column_width=60))
    except Exception as error:  # noqa: BLE001 - a profiler API change must not lose the tables above
        print(f"(profiler table failed: {error!r}; by CPU time instead)")
        print(profile.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
