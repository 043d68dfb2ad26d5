"""Linear evaluation speed on CPU: feature extraction and head training, each against its floor.

- extraction, tensors: images/s of the frozen trunk's res5 pooling (FrozenTrunk) against the bare
  backbone forward (its own global pool) on the same tensors: the pooling rule's cost.
- extraction, files: images/s of the whole cache job on real PNGs (decode + squash + trunk +
  .npy memory map) against the trunk alone on tensors: what reading the images costs.
- head: feature vectors/s of one SGD step of the BN + Linear head on cached features against a bare
  Linear step (the floor), at 1 thread (what the workflow's cached-head job uses).
Timings are interleaved (ABAB) and the median is reported.

    python benchmarks/linear_eval.py --images resources/datasets/stamps/val
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from emcom.linear_eval.datasets import Split, SplitDataset, eval_transform
from emcom.linear_eval.features import extract
from emcom.linear_eval.linear import LinearHead, LinearSettings, build_optimizer
from emcom.linear_eval.trunk import FrozenTrunk
from emcom.models import build_backbone


def _median_rates(work_a, work_b, items: int, repeats: int) -> tuple[float, float]:
    times_a, times_b = [], []
    for _ in range(repeats):
        for work, times in ((work_a, times_a), (work_b, times_b)):
            tick = time.perf_counter()
            work()
            times.append(time.perf_counter() - tick)
    return items / statistics.median(times_a), items / statistics.median(times_b)


def extraction_on_tensors(backbone: str, size: int, batch: int, repeats: int) -> tuple[float, float]:
    cnn, channels = build_backbone(backbone, low_resolution_stem=size <= 64)
    trunk, images = FrozenTrunk(cnn, channels), torch.randn(batch, 3, size, size)

    def bare():
        with torch.no_grad():
            cnn(images)

    return _median_rates(lambda: trunk(images), bare, batch, repeats)


def extraction_from_files(folder: Path, limit: int, batch: int, workers: int, repeats: int) -> tuple[float, float]:
    paths = sorted(folder.rglob("*.png"))[:limit]
    cnn, channels = build_backbone("small_resnet", low_resolution_stem=True)
    trunk = FrozenTrunk(cnn, channels)
    data = SplitDataset(Split(paths, np.zeros(len(paths), np.int64), ["x"]), eval_transform(32, False))
    loader = torch.utils.data.DataLoader(data, batch_size=batch, num_workers=workers)
    tensors = torch.randn(len(paths), 3, 32, 32)
    out = Path(tempfile.mkdtemp())

    def job():
        extract(trunk, loader, out / "f.npy", out / "l.npy", len(paths), progress=False)

    def floor():
        for start in range(0, len(paths), batch):
            trunk(tensors[start:start + batch])

    return _median_rates(job, floor, len(paths), repeats)


def head_steps(dim: int, channels: int, classes: int, batch: int, steps: int, repeats: int) -> tuple[float, float]:
    grid = int(round((dim / channels) ** 0.5))
    x, y = torch.randn(batch, dim), torch.randint(0, classes, (batch,))
    head = LinearHead(channels, grid, classes)
    optimizer = build_optimizer(head, LinearSettings())
    bare = torch.nn.Linear(dim, classes)
    bare_optimizer = torch.optim.SGD(bare.parameters(), lr=0.01)

    def run(model, opt):
        def work():
            for _ in range(steps):
                loss = F.cross_entropy(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
        return work

    return _median_rates(run(head, optimizer), run(bare, bare_optimizer), batch * steps, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=Path("resources/datasets/stamps/val"))
    parser.add_argument("--limit", type=int, default=1024, help="PNG files read per timing")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--resnet50", action="store_true", help="also time ResNet-50 at 224 px (batch 8)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# {args.threads} threads for extraction, 1 for the head; torch {torch.__version__}, CPU")
    print(f"| {'measure':<44} | {'rate/s':>9} | {'floor/s':>9} | {'time ratio':>10} |")
    print(f"|{'-' * 46}|{'-' * 11}|{'-' * 11}|{'-' * 12}|")

    def row(name, rates):
        rate, floor = rates
        print(f"| {name:<44} | {rate:>9.0f} | {floor:>9.0f} | {floor / rate:>9.2f}x |", flush=True)

    row("extract small_resnet 32px res5 vs bare fwd", extraction_on_tensors("small_resnet", 32, args.batch, args.repeats))
    if args.resnet50:
        row("extract resnet50 224px res5 vs bare fwd", extraction_on_tensors("resnet50", 224, 8, args.repeats))
    if args.images.is_dir():
        row(f"cache job on {args.limit} PNGs vs trunk on tensors",
            extraction_from_files(args.images, args.limit, args.batch, args.workers, args.repeats))
    torch.set_num_threads(1)
    row("head step 512-d, 187 classes vs bare Linear", head_steps(512, 128, 187, 256, 20, args.repeats))
    row("head step 8192-d, 1000 classes vs bare Linear", head_steps(8192, 2048, 1000, 256, 5, args.repeats))


if __name__ == "__main__":
    main()
