"""A small generated image set in the dataset layout, for tests that must not need Debian packages.

Each class is a shape drawn in a class colour on a random textured background at a random position
and scale, so the classes differ in shape and colour and every image is a distinct instance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("ellipse", "rectangle", "triangle", "cross", "ring", "bar")


def _draw(rng: np.random.Generator, shape: str, colour: tuple[int, int, int], size: int) -> Image.Image:
    background = rng.integers(0, 256, size=3)
    noise = rng.normal(0, 25, size=(size, size, 3))
    canvas = np.clip(background + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    extent = rng.uniform(0.35, 0.7) * size
    x0, y0 = rng.uniform(0, size - extent, size=2)
    box = [x0, y0, x0 + extent, y0 + extent]
    if shape == "ellipse":
        draw.ellipse(box, fill=colour)
    elif shape == "rectangle":
        draw.rectangle(box, fill=colour)
    elif shape == "triangle":
        draw.polygon([(x0, y0 + extent), (x0 + extent / 2, y0), (x0 + extent, y0 + extent)], fill=colour)
    elif shape == "cross":
        third = extent / 3
        draw.rectangle([x0 + third, y0, x0 + 2 * third, y0 + extent], fill=colour)
        draw.rectangle([x0, y0 + third, x0 + extent, y0 + 2 * third], fill=colour)
    elif shape == "ring":
        draw.ellipse(box, outline=colour, width=max(2, int(extent / 6)))
    else:
        draw.rectangle([x0, y0 + extent / 3, x0 + extent, y0 + 2 * extent / 3], fill=colour)
    return image


def make_image_set(root: Path, classes: int = 8, per_class: int = 16, size: int = 32, seed: int = 0,
                   splits: tuple[str, ...] = ("train",)) -> Path:
    """Write ``root/<split>/<wnid>/<i>.png`` and ``root/classes.tsv``; return ``root``."""
    rng = np.random.default_rng(seed)
    colours = [tuple(int(c) for c in rng.integers(0, 256, size=3)) for _ in range(classes)]
    wnids = [f"n{10_000_000 + k:08d}" for k in range(classes)]
    for split in splits:
        for k, wnid in enumerate(wnids):
            folder = root / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                _draw(rng, SHAPES[k % len(SHAPES)], colours[k], size).save(folder / f"{i:04d}.png")
    lines = ["wnid\tname\tsource"] + [f"{w}\tsynthetic_{k}\tgenerated" for k, w in enumerate(wnids)]
    (root / "classes.tsv").write_text("\n".join(lines) + "\n")
    return root
