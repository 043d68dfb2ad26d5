"""Compositing a cut-out onto procedural backgrounds: sizes, determinism, bad stamps."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from data_fixtures import rgba_stamp
from emcom.data.compositing import BACKGROUNDS, background, background_pool, composite, prepare_stamp


def test_prepare_stamp_crops_the_transparent_margin_and_scales_the_longest_side():
    stamp = prepare_stamp(rgba_stamp(0, size=(120, 90)), working_size=64, name="x.png")
    assert stamp.mode == "RGBA" and max(stamp.size) == 64
    alpha = np.asarray(stamp.getchannel("A"))
    # after cropping, the opaque ellipse touches all four borders
    assert alpha[0].max() > 0 and alpha[-1].max() > 0 and alpha[:, 0].max() > 0 and alpha[:, -1].max() > 0


def test_bad_stamps_are_named():
    with pytest.raises(ValueError, match="cannot decode stamp animals/x.png"):
        prepare_stamp(b"not a png", 64, name="animals/x.png")
    with pytest.raises(ValueError, match="stamp empty.png is fully transparent"):
        prepare_stamp(Image.new("RGBA", (10, 10)), 64, name="empty.png")


@pytest.mark.parametrize("family", BACKGROUNDS)
def test_every_background_family_fills_the_image(family):
    image = family(np.random.default_rng(0), 24)
    assert image.shape == (24, 24, 3)
    assert image.min() >= 0 and image.max() <= 255


def test_backgrounds_vary():
    images = [background(np.random.default_rng(seed), 16) for seed in range(8)]
    assert len({image.tobytes() for image in images}) == 8


def test_composite_is_a_pure_function_of_the_generator():
    stamp = prepare_stamp(rgba_stamp(1), 64)
    a = composite(stamp, np.random.default_rng([1, 2, 3]), 32)
    b = composite(stamp, np.random.default_rng([1, 2, 3]), 32)
    c = composite(stamp, np.random.default_rng([1, 2, 4]), 32)
    assert a.size == (32, 32) and a.mode == "RGB"
    assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()


def test_a_background_pool_is_fixed_by_its_seed_and_every_composite_sits_on_one_of_it():
    pool = background_pool(seed=0, count=3, size=32)
    assert pool.shape == (3, 32, 32, 3) and pool.dtype == np.uint8
    assert np.array_equal(pool, background_pool(0, 3, 32)) and not np.array_equal(pool, background_pool(1, 3, 32))
    assert len({image.tobytes() for image in pool}) == 3
    # a tiny stamp leaves most of the canvas visible: the visible pixels are those of one pool entry
    stamp = prepare_stamp(rgba_stamp(1), 64)
    chosen = set()
    for index in range(12):
        image = np.asarray(composite(stamp, np.random.default_rng([5, index]), 32, backgrounds=pool))
        agreement = [(image == entry).all(axis=-1).mean() for entry in pool]
        best = int(np.argmax(agreement))
        assert agreement[best] > 0.3 and sorted(agreement)[-2] < 0.05, agreement
        chosen.add(best)
    assert chosen == {0, 1, 2}
