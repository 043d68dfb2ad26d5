"""Composite an RGBA cut-out onto a procedural background: one seeded draw -> one RGB image.

Every random choice comes from the ``numpy.random.Generator`` passed in, so an image is a pure
function of (stamp, generator state, size). Backgrounds are drawn from four families so that the
background never identifies the class: linear gradients, smooth colour noise, stripes, and blobs,
each with random colours and a little pixel noise.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Placement:
    """Ranges of the random geometric transform of the stamp.

    ``scale`` is the stamp's longest side as a fraction of the image side; ``max_rotation`` in
    degrees (uniform in ±); ``max_overhang`` is the fraction of the stamp that may leave the image.
    """

    scale: tuple[float, float] = (0.55, 1.0)
    max_rotation: float = 30.0
    max_overhang: float = 0.15


def prepare_stamp(png: bytes | Image.Image, working_size: int, name: str = "stamp") -> Image.Image:
    """Decode a cut-out, crop it to its opaque part, scale its longest side to ``working_size``.

    Done once per stamp: composites then start from this small RGBA image, which keeps every
    composite cheap whatever the size of the original (the packaged stamps are up to ~1000 px).
    """
    try:
        image = png if isinstance(png, Image.Image) else Image.open(io.BytesIO(png))
        image = image.convert("RGBA")
    except (OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"cannot decode stamp {name}: {error}") from error
    box = image.getchannel("A").getbbox()
    if box is None:
        raise ValueError(f"stamp {name} is fully transparent")
    image = image.crop(box)
    factor = working_size / max(image.size)
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _colours(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, 3)).astype(np.float32)


def _coordinates(size: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    return x, y


def _gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    x, y = _coordinates(size)
    angle = rng.uniform(0, 2 * np.pi)
    t = x * np.cos(angle) + y * np.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    start, end = _colours(rng, 2)
    return start * (1 - t[..., None]) + end * t[..., None]


def _smooth_noise(rng: np.random.Generator, size: int) -> np.ndarray:
    cells = int(rng.integers(2, 9))
    grid = rng.integers(0, 256, size=(cells, cells, 3), dtype=np.uint8)
    upsampled = Image.fromarray(grid, "RGB").resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(upsampled, dtype=np.float32)


def _stripes(rng: np.random.Generator, size: int) -> np.ndarray:
    x, y = _coordinates(size)
    angle = rng.uniform(0, np.pi)
    frequency = rng.uniform(1.5, 8.0)
    wave = np.sin(2 * np.pi * frequency * (x * np.cos(angle) + y * np.sin(angle)) + rng.uniform(0, 2 * np.pi))
    t = np.clip(wave * rng.uniform(1.0, 6.0), -1, 1) * 0.5 + 0.5  # from sine to near-square
    first, second = _colours(rng, 2)
    return first * (1 - t[..., None]) + second * t[..., None]


def _blobs(rng: np.random.Generator, size: int) -> np.ndarray:
    x, y = _coordinates(size)
    image = np.broadcast_to(_colours(rng, 1)[0], (size, size, 3)).copy()
    for colour in _colours(rng, int(rng.integers(2, 7))):
        cx, cy = rng.uniform(0, 1, size=2)
        radius = rng.uniform(0.08, 0.4)
        inside = ((x - cx) ** 2 + (y - cy) ** 2) < radius**2
        image[inside] = colour
    return image


BACKGROUNDS = (_gradient, _smooth_noise, _stripes, _blobs)


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random background: uint8 array of shape (size, size, 3)."""
    image = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))](rng, size)
    image = image + rng.normal(0.0, rng.uniform(0.0, 12.0), size=image.shape)  # sensor-like grain
    return np.clip(image, 0, 255).astype(np.uint8)


def background_pool(seed: int, count: int, size: int) -> np.ndarray:
    """``count`` backgrounds drawn once from ``seed``: uint8 array (count, size, size, 3)."""
    return np.stack([background(np.random.default_rng([seed, 0x6B67, index]), size) for index in range(count)])


def composite(
    stamp: Image.Image, rng: np.random.Generator, size: int, placement: Placement = Placement(),
    backgrounds: np.ndarray | None = None,
) -> Image.Image:
    """Paste ``stamp`` (RGBA, from :func:`prepare_stamp`) onto a background: RGB size x size.

    The background is a new random one, or, with ``backgrounds`` (N, size, size, 3) from
    :func:`background_pool`, one of those N chosen by ``rng``. Then random scale, horizontal flip,
    rotation and position, in that order, all drawn from ``rng``.
    """
    pixels = background(rng, size) if backgrounds is None else backgrounds[int(rng.integers(len(backgrounds)))]
    canvas = Image.fromarray(pixels, "RGB")
    longest = max(2, round(size * rng.uniform(*placement.scale)))
    factor = longest / max(stamp.size)
    cutout = stamp.resize(
        (max(1, round(stamp.width * factor)), max(1, round(stamp.height * factor))), Image.Resampling.BILINEAR
    )
    if rng.random() < 0.5:
        cutout = cutout.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    angle = rng.uniform(-placement.max_rotation, placement.max_rotation)
    cutout = cutout.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True)
    overhang_x = placement.max_overhang * cutout.width
    overhang_y = placement.max_overhang * cutout.height
    left = round(rng.uniform(-overhang_x, max(size - cutout.width + overhang_x, -overhang_x)))
    top = round(rng.uniform(-overhang_y, max(size - cutout.height + overhang_y, -overhang_y)))
    canvas.paste(cutout, (left, top), cutout)
    return canvas
