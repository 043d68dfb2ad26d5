"""Batched device augmentation: torchvision's per-image operations and parameter distributions."""

import math

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from emcom.data import batch_augment as ba
from emcom.data.transforms import IMAGENET_MEAN, IMAGENET_STD, gaussian_kernel_size

# The whole-view check also runs on CUDA where there is one (the device call of benchmarks/gpu_all.sh):
# the parameters are drawn on the host and must reach the kernels on the right side.
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
N = 20_000  # images per distribution check: a proportion's standard error is < 0.0036
N_REFERENCE = 4_000  # torchvision's own draws (one Python call each)


def _images(b=6, size=24, seed=0) -> torch.Tensor:
    """Smooth colour gradients plus noise: every op changes them visibly."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    base = torch.stack([x, y, 1 - x * y])[None] * torch.rand(b, 3, 1, 1, generator=g)
    return (base + 0.2 * torch.rand(b, 3, size, size, generator=g)).clamp(0, 1)


def test_crop_boxes_follow_random_resized_crops_rule():
    """Area fraction in [0.08, 1] with the reference's distribution; ratio in [3/4, 4/3]; inside the image."""
    g = torch.Generator().manual_seed(0)
    heights, widths = torch.full((N,), 375), torch.full((N,), 500)
    boxes = ba.sample_crop_boxes(heights, widths, g)
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 500).all() and (boxes[:, 3] <= 375).all()
    assert (boxes == boxes.round()).all()  # integer pixel boxes, as torchvision's
    area = w * h / (375 * 500)
    ratio = w / h
    assert area.min() >= 0.08 - 0.01 and area.max() <= 1.0
    assert ratio.min() >= 0.75 - 0.02 and ratio.max() <= 4 / 3 + 0.02
    torch.manual_seed(1)
    image = torch.zeros(3, 375, 500)
    reference = torch.tensor([v2.RandomResizedCrop.get_params(image, (0.08, 1.0), (3 / 4, 4 / 3))
                              for _ in range(N_REFERENCE)], dtype=torch.float64)  # (top, left, h, w)
    ref_area = reference[:, 2] * reference[:, 3] / (375 * 500)
    ref_ratio = reference[:, 3] / reference[:, 2]
    quantiles = torch.tensor([0.1, 0.25, 0.5, 0.75, 0.9], dtype=torch.float64)
    # quantile standard errors at N_REFERENCE draws: < 0.008 (area), < 0.007 (ratio)
    assert torch.allclose(area.double().quantile(quantiles), ref_area.quantile(quantiles), atol=0.03)
    assert torch.allclose(ratio.double().quantile(quantiles), ref_ratio.quantile(quantiles), atol=0.03)
    # horizontal position: uniform over the free range, like randint(0, W - w + 1)
    free = (500 - w).clamp(min=1)
    assert abs((boxes[:, 0] / free).mean().item() - 0.5) < 0.02


def test_crop_falls_back_to_the_central_crop_like_torchvision():
    g = torch.Generator().manual_seed(0)
    # a 10 × 1000 strip: no try fits the ratio range -> the central crop clamped to ratio 4/3
    boxes = ba.sample_crop_boxes(torch.tensor([10]), torch.tensor([1000]), g)
    top, left, h, w = v2.RandomResizedCrop.get_params(torch.zeros(3, 10, 1000), (0.08, 1.0), (3 / 4, 4 / 3))
    assert boxes[0].tolist() == [left, top, left + w, top + h]


def test_view_parameter_ranges_and_probabilities_match_the_pipeline():
    params = ba.sample_view_params(torch.full((N,), 32), torch.full((N,), 32), torch.Generator().manual_seed(2))
    tolerance = 5 * math.sqrt(0.25 / N)
    for flag, p in ((params.jitter, 0.8), (params.gray, 0.2), (params.blur, 0.5), (params.flip, 0.5)):
        assert abs(flag.float().mean().item() - p) < tolerance
    assert abs((params.jitter & params.gray).float().mean().item() - 0.16) < tolerance  # independent draws
    for column, (low, high) in enumerate([(0.2, 1.8)] * 3 + [(-0.2, 0.2)]):
        factor = params.factors[:, column]
        assert low <= factor.min() and factor.max() <= high
        assert abs(factor.mean().item() - (low + high) / 2) < 0.01 * (high - low)
        assert abs(factor.std().item() - (high - low) / math.sqrt(12)) < 0.01 * (high - low)
    assert 0.1 <= params.sigma.min() and params.sigma.max() <= 2.0
    # jitter order: a permutation per image, all 24 equally likely (torchvision: torch.randperm(4))
    assert (params.order.sort(dim=1).values == torch.arange(4)).all()
    codes = (params.order * torch.tensor([64, 16, 4, 1])).sum(dim=1)
    counts = torch.bincount(codes, minlength=256)[torch.unique(codes)]
    assert len(counts) == 24 and (counts - N / 24).abs().max() < 5 * math.sqrt(N / 24)


@pytest.mark.parametrize("op,reference", [
    (ba.adjust_brightness, TF.adjust_brightness), (ba.adjust_contrast, TF.adjust_contrast),
    (ba.adjust_saturation, TF.adjust_saturation), (ba.adjust_hue, TF.adjust_hue)])
def test_each_jitter_op_is_torchvisions_with_a_factor_per_image(op, reference):
    images = _images()
    factors = torch.tensor([0.2, 0.7, 1.0, 1.3, 1.8, 0.95]) if op is not ba.adjust_hue \
        else torch.tensor([-0.2, -0.1, 0.0, 0.05, 0.15, 0.2])
    out = op(images.clone(), factors)
    for i in range(len(images)):
        torch.testing.assert_close(out[i], reference(images[i], float(factors[i])), atol=1e-5, rtol=1e-5)


def _reference_view(image: torch.Tensor, p: ba.ViewParams, i: int, size: int) -> torch.Tensor:
    """torchvision's functional ops on one image with the parameters of image i (float in [0, 1])."""
    x0, y0, x1, y1 = (int(v) for v in p.boxes[i])
    out = TF.resized_crop(image, y0, x0, y1 - y0, x1 - x0, [size, size], antialias=True)
    if p.jitter[i]:
        ops = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
        for op in p.order[i].tolist():
            out = ops[op](out, float(p.factors[i, op]))
    if p.gray[i]:
        out = TF.rgb_to_grayscale(out, num_output_channels=3)
    if p.blur[i]:
        sigma = float(p.sigma[i])
        kernel = min(gaussian_kernel_size(sigma), 2 * size - 1)  # the worker path's rule (±3σ)
        out = TF.gaussian_blur(out, [kernel, kernel], [sigma, sigma])
    if p.flip[i]:
        out = TF.horizontal_flip(out)
    return TF.normalize(out, list(IMAGENET_MEAN), list(IMAGENET_STD))


@pytest.mark.parametrize("device", DEVICES)
def test_whole_view_matches_torchvision_applied_image_by_image(device):
    """Same parameters, same result: ops in each image's own jitter order, grayscale, blur, flip."""
    images = (_images(b=16, size=32, seed=3) * 255).round().to(torch.uint8)
    sizes = torch.full((16, 2), 32)
    params = ba.sample_view_params(sizes[:, 0], sizes[:, 1], torch.Generator().manual_seed(4))
    params.boxes[:8] = torch.tensor([0.0, 0.0, 32.0, 32.0])  # full-image crops: roi_align is then exact
    out = ba.augment_batch(images.to(device), sizes, params, 32).cpu()
    assert out.shape == (16, 3, 32, 32) and out.dtype == torch.float32
    for i in range(16):
        expected = _reference_view(images[i].float() / 255, params, i, 32)
        # full crops: float tolerance; real crops: roi_align vs antialiased resize (≤ 0.01 without jitter)
        tolerance = 1e-4 if i < 8 else 0.05
        assert (out[i] - expected).abs().mean() < tolerance, (i, (out[i] - expected).abs().mean())
    assert params.jitter[:8].any() and params.blur[:8].any() and params.flip[:8].any()


def test_crop_maps_original_pixels_onto_the_resized_copy():
    """A box drawn in original pixels lands on the same content of the squashed copy."""
    original = _images(b=1, size=64, seed=5)[0]
    original = TF.resize(original, [48, 64], antialias=True)  # a 48 × 64 original
    loaded = (TF.resize(original, [32, 32], antialias=True) * 255).round().to(torch.uint8)[None]
    params = ba.sample_view_params(torch.tensor([48]), torch.tensor([64]), torch.Generator().manual_seed(0))
    params.jitter[:] = params.gray[:] = params.blur[:] = params.flip[:] = False
    params.boxes[0] = torch.tensor([16.0, 12.0, 48.0, 36.0])  # the centre half of the original
    out = ba.augment_batch(loaded, torch.tensor([[48, 64]]), params, 16)
    expected = TF.normalize(TF.resized_crop(original, 12, 16, 24, 32, [16, 16], antialias=True),
                            list(IMAGENET_MEAN), list(IMAGENET_STD))
    assert (out[0] - expected).abs().mean() < 0.1


def test_blur_sigma_bounds_the_drawn_sigma():
    sizes = torch.full((512,), 32)
    params = ba.sample_view_params(sizes, sizes, torch.Generator().manual_seed(0), blur_sigma=(0.1, 0.3))
    assert params.sigma.min() >= 0.1 and params.sigma.max() <= 0.3 and params.sigma.max() > 0.25
    assert ba.BatchTwoViews(32, augment=True, blur_sigma=[0.2, 0.4]).blur_sigma == (0.2, 0.4)


def test_color_jitter_strength_bounds_the_drawn_factors():
    sizes = torch.full((512,), 32)
    params = ba.sample_view_params(sizes, sizes, torch.Generator().manual_seed(0), color_jitter_strength=0.5)
    assert params.factors[:, :3].min() >= 0.6 and params.factors[:, :3].max() <= 1.4
    assert params.factors[:, 3].abs().max() <= 0.1 and params.factors[:, 3].abs().max() > 0.09


def test_two_views_are_independent_and_replay_from_the_seed():
    images = (_images(b=8, size=32) * 255).to(torch.uint8)
    sizes = torch.full((8, 2), 32)
    views = ba.BatchTwoViews(32, augment=True)
    a1, b1 = views(images, sizes, torch.Generator().manual_seed(7))
    a2, b2 = views(images, sizes, torch.Generator().manual_seed(7))
    assert torch.equal(a1, a2) and torch.equal(b1, b2)  # bit-identical replay
    assert not torch.allclose(a1, b1)
    plain_a, plain_b = ba.BatchTwoViews(32, augment=False)(images, sizes, torch.Generator())
    assert plain_a is plain_b
    expected = TF.normalize(images.float() / 255, list(IMAGENET_MEAN), list(IMAGENET_STD))
    torch.testing.assert_close(plain_a, expected)


class _DeviceTraffic(TorchDispatchMode):
    """Records every copy to ``device`` with its non_blocking flag (a blocking host-to-GPU copy
    synchronises the stream: the host waits for the training step already queued)."""

    def __init__(self, device: str):
        super().__init__()
        self.device, self.copies = torch.device(device), []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.ops.aten._to_copy.default and kwargs.get("device") == self.device:
            self.copies.append(bool(kwargs.get("non_blocking")))
        return func(*args, **kwargs)


@pytest.mark.parametrize("augment", [True, False])
def test_views_never_wait_on_the_device(augment):
    """Made on the meta device (shapes only, no data), the views must neither read a value back (meta
    raises on .item()) nor copy a host tensor to the device with a blocking copy."""
    images = (_images(b=16, size=32) * 255).to(torch.uint8).to("meta")  # loaded squares: the -aug view as is
    sizes = torch.tensor([[60, 50]] * 8 + [[40, 90]] * 8)
    # σ up to 2 and the paper's jitter, so that every operation, masked and whole-batch, is drawn
    views = ba.BatchTwoViews(32, augment=augment, blur_sigma=(0.1, 2.0))
    with _DeviceTraffic("meta") as traffic:
        sender, receiver = views(images, sizes, torch.Generator().manual_seed(0))
    assert sender.shape == receiver.shape == (16, 3, 32, 32) and sender.device.type == "meta"
    assert len(traffic.copies) >= (30 if augment else 2)  # boxes, per-image factors, indices, blur taps, mean/std
    assert all(traffic.copies), f"{traffic.copies.count(False)} of {len(traffic.copies)} copies to the device block"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: CUDA's sync debug mode")
def test_views_on_cuda_never_synchronise():
    """On a GPU, CUDA's own check: any synchronising call (a blocking copy, a value read back) raises."""
    images = (_images(b=16, size=32) * 255).to(torch.uint8).to("cuda")
    sizes = torch.tensor([[60, 50]] * 8 + [[40, 90]] * 8)
    # the masked path (the CUDA default is the compiled whole-batch one: tests/test_fused_views.py)
    views = ba.BatchTwoViews(32, augment=True, blur_sigma=(0.1, 2.0), whole_batch=False)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        sender, _ = views(images, sizes, torch.Generator().manual_seed(0))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(sender).all()
