"""The SimCLR augmentation pipeline has the paper's parameters; evaluation views are a plain squash."""

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from emcom.data.transforms import IMAGENET_MEAN, IMAGENET_STD, TwoViews, blur_kernel_size, simclr_transform, squash_transform


def _find(compose, kind):
    for transform in compose.transforms:
        if isinstance(transform, kind):
            return transform
        if isinstance(transform, v2.RandomApply) and isinstance(transform.transforms[0], kind):
            return transform
    raise AssertionError(f"{kind.__name__} not in {compose}")


def test_simclr_pipeline_has_the_papers_parameters():
    pipeline = simclr_transform(224)
    crop = _find(pipeline, v2.RandomResizedCrop)
    assert tuple(crop.size) == (224, 224) and crop.scale == (0.08, 1.0) and crop.ratio == pytest.approx((3 / 4, 4 / 3))
    jitter = _find(pipeline, v2.ColorJitter)
    assert jitter.p == 0.8
    j = jitter.transforms[0]
    for factor in (j.brightness, j.contrast, j.saturation):  # strength 0.8 = factors in [1 - 0.8, 1 + 0.8]
        assert factor == pytest.approx((0.2, 1.8))
    assert j.hue == pytest.approx((-0.2, 0.2))
    assert _find(pipeline, v2.RandomGrayscale).p == 0.2
    blur = _find(pipeline, v2.GaussianBlur)
    assert blur.p == 0.5 and list(blur.transforms[0].sigma) == [0.1, 2.0] and tuple(blur.transforms[0].kernel_size) == (23, 23)
    assert _find(pipeline, v2.RandomHorizontalFlip).p == 0.5
    normalize = _find(pipeline, v2.Normalize)
    assert tuple(normalize.mean) == IMAGENET_MEAN and tuple(normalize.std) == IMAGENET_STD


def test_min_crop_scale_reaches_the_crop():
    assert _find(TwoViews(32, True, min_crop_scale=0.3).transform, v2.RandomResizedCrop).scale == (0.3, 1.0)


@pytest.mark.parametrize("size,kernel", [(224, 23), (32, 3), (64, 7)])
def test_blur_kernel_is_odd_and_a_tenth_of_the_side(size, kernel):
    assert blur_kernel_size(size) == kernel


def test_augmented_views_are_independent_draws():
    torch.manual_seed(0)
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8))
    first, second = TwoViews(32, augment=True)(image)
    assert first.shape == second.shape == (3, 32, 32) and first.dtype == torch.float32
    assert not torch.equal(first, second)


def test_without_augmentation_both_agents_see_the_same_tensor():
    image = Image.new("RGB", (50, 30), (10, 200, 30))
    first, second = TwoViews(32, augment=False)(image)
    assert first is second and first.shape == (3, 32, 32)


def test_squash_resizes_without_cropping_and_normalises():
    # left half red, right half blue, 64 x 32: a squash keeps both halves; a centre crop would not
    pixels = np.zeros((32, 64, 3), dtype=np.uint8)
    pixels[:, :32, 0] = 255
    pixels[:, 32:, 2] = 255
    view = squash_transform(16)(Image.fromarray(pixels))
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    restored = view * std + mean
    assert view.shape == (3, 16, 16)
    assert torch.allclose(restored[:, :, :6], torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1).expand(3, 16, 6), atol=1e-5)
    assert torch.allclose(restored[:, :, -6:], torch.tensor([0.0, 0.0, 1.0]).view(3, 1, 1).expand(3, 16, 6), atol=1e-5)
