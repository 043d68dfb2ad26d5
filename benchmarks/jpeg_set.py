"""Write a synthetic JPEG image set in the dataset layout (``root/train/<wnid>/*.jpg``) for loader benchmarks.

Smooth random colour fields with some noise at ``--size`` px (default 320, the issue's set), so JPEG
sizes and decode costs are photo-like; a device machine has no dataset of its own.

    python benchmarks/jpeg_set.py /tmp/jpegs --classes 50 --per-class 128
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image


def write_class(args: tuple[Path, int, int, int]) -> int:
    folder, label, count, size = args
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(label)
    y, x = np.mgrid[0:size, 0:size] / size
    for i in range(count):
        a = rng.uniform(0, 6, (3, 4))
        field = np.stack([np.sin(a[c, 0] * x + a[c, 1] * y + a[c, 2]) * 0.5 + 0.5 for c in range(3)], -1)
        pixels = np.clip(field * 230 + rng.normal(0, 12, field.shape), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:05d}.jpg", quality=90)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path)
    parser.add_argument("--classes", type=int, default=50)
    parser.add_argument("--per-class", type=int, default=128)
    parser.add_argument("--size", type=int, default=320)
    args = parser.parse_args()
    jobs = [(args.root / "train" / f"n{label:08d}", label, args.per_class, args.size) for label in range(args.classes)]
    with ProcessPoolExecutor() as pool:
        total = sum(pool.map(write_class, jobs))
    print(f"wrote {total} JPEGs of {args.size} px under {args.root}/train")


if __name__ == "__main__":
    main()
