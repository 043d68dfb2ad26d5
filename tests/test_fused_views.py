"""The whole-batch view (emcom.data.fused_views) is the masked view (emcom.data.batch_augment) computed otherwise."""

from __future__ import annotations

import pytest
import torch

from emcom.data import batch_augment as ba
from emcom.data import fused_views as fv
from test_batch_augment import _DeviceTraffic  # records copies to a device and whether they block


def _batch(b: int = 48, load: int = 40, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (b, 3, load, load), dtype=torch.uint8, generator=generator)
    sizes = torch.stack([torch.randint(30, 90, (b,), generator=generator),
                         torch.randint(30, 90, (b,), generator=generator)], dim=1)
    return images, sizes, ba.sample_view_params(sizes[:, 0], sizes[:, 1], generator)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_whole_batch_view_equals_the_masked_view_bit_for_bit_on_the_cpu(seed):
    """Eager on the CPU the identity terms add exact zeros: the same floats, not just close ones."""
    images, sizes, params = _batch(seed=seed)
    assert params.jitter.any() and (~params.jitter).any() and params.blur.any() and params.gray.any()
    masked = ba.augment_batch(images, sizes, params, 32)
    whole = fv.augment_whole_batch(images, sizes, params, 32, max_sigma=2.0)
    assert torch.equal(masked, whole)


def test_an_image_that_draws_nothing_is_only_cropped_and_normalised():
    images, sizes, params = _batch(b=4)
    params.jitter[:] = params.gray[:] = params.blur[:] = params.flip[:] = False
    expected = ba.normalize(ba.crop_and_resize(images, sizes, params, 32))
    assert torch.equal(fv.augment_whole_batch(images, sizes, params, 32, max_sigma=2.0), expected)


def test_jitter_table_holds_each_ops_affine_coefficients_per_position():
    _, _, params = _batch(b=3)
    params.jitter[:] = torch.tensor([True, True, False])
    params.factors[:] = torch.tensor([0.5, 1.5, 0.25, 0.1])
    params.order[:] = torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0], [0, 1, 2, 3]])
    table = fv.jitter_table(params)  # a, b, c, affine?, hue?
    assert table[0].tolist() == [[0.5, 0, 0, 1, 0], [1.5, 0, -0.5, 1, 0], [0.25, 0.75, 0, 1, 0], [1, 0, 0, 0, 1]]
    assert table[1].tolist() == [[1, 0, 0, 0, 1], [0.25, 0.75, 0, 1, 0], [1.5, 0, -0.5, 1, 0], [0.5, 0, 0, 1, 0]]
    assert table[2].tolist() == [[1, 0, 0, 0, 0]] * 4  # no jitter drawn: identity everywhere


def test_blur_taps_are_normalised_gaussians_cut_at_their_own_radius_or_the_impulse():
    _, _, params = _batch(b=3)
    params.blur[:] = torch.tensor([True, True, False])
    params.sigma[:] = torch.tensor([0.3, 2.0, 1.0])
    taps = fv.blur_taps(params, radius=6, side=32)
    assert taps.shape == (3, 13)
    torch.testing.assert_close(taps.sum(dim=1), torch.ones(3))
    assert torch.all(taps[0, :5] == 0) and torch.all(taps[0, 8:] == 0)  # ceil(3 · 0.3) = 1 tap each side
    assert torch.all(taps[1] > 0)  # ceil(3 · 2.0) = 6: every tap
    assert taps[2].tolist() == [0.0] * 6 + [1.0] + [0.0] * 6
    x = torch.arange(-1.0, 2.0, dtype=torch.float64)
    expected = torch.exp(-0.5 * (x / 0.3) ** 2)
    torch.testing.assert_close(taps[0, 5:8], (expected / expected.sum()).float())


def test_the_blur_radius_covers_a_sigma_above_the_stated_range():
    """max_sigma fixes the radius; a larger σ in the parameters widens it rather than truncating its kernel."""
    images, sizes, params = _batch(b=4)
    params.blur[:] = True
    params.sigma[:] = 3.0
    masked = ba.augment_batch(images, sizes, params, 32)
    assert torch.equal(fv.augment_whole_batch(images, sizes, params, 32, max_sigma=1.0), masked)


def test_batch_two_views_picks_the_masked_path_on_the_cpu_and_both_give_the_same_views():
    images, sizes, _ = _batch(b=8)
    default = ba.BatchTwoViews(32, augment=True)
    whole = ba.BatchTwoViews(32, augment=True, whole_batch=True)
    for a, b in zip(default(images, sizes, torch.Generator().manual_seed(5)),
                    whole(images, sizes, torch.Generator().manual_seed(5))):
        assert torch.equal(a, b)


def test_whole_batch_views_copy_a_fraction_of_the_masked_paths_tensors_and_never_wait():
    """On the meta device (shapes only): per view one copy each of the boxes, the jitter table and the
    finishing table, plus the constants (hue's offsets, Normalize's mean and std), against the masked
    path's indices and factors per masked call; every copy asynchronous, nothing read back."""
    images, sizes, _ = _batch(b=16)
    images, copies = images.to("meta"), {}
    for whole_batch in (True, False):
        with _DeviceTraffic("meta") as traffic:
            sender, receiver = ba.BatchTwoViews(32, augment=True, whole_batch=whole_batch)(
                images, sizes, torch.Generator().manual_seed(0))
        assert sender.shape == receiver.shape == (16, 3, 32, 32)
        assert traffic.copies and all(traffic.copies)
        copies[whole_batch] = len(traffic.copies)
    assert copies[True] <= 2 * (3 + 4 + 2) < copies[False] / 4, copies  # 2 views x (tables, hue offsets, mean/std)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: the compiled whole-batch path")
def test_compiled_whole_batch_view_on_cuda_matches_the_masked_view():
    """On CUDA the whole-batch path is compiled (fused kernels may round differently): equal to float
    rounding to the masked path on the same device and to the CPU's, and it did compile."""
    images, sizes, params = _batch(b=64, seed=4)
    cpu = ba.augment_batch(images, sizes, params, 32)
    masked = ba.augment_batch(images.cuda(), sizes, params, 32).cpu()
    whole = fv.augment_whole_batch(images.cuda(), sizes, params, 32, max_sigma=2.0).cpu()
    assert not fv._jitter.failed and not fv._finish.failed
    torch.testing.assert_close(whole, masked, rtol=0, atol=1e-4)
    torch.testing.assert_close(whole, cpu, rtol=0, atol=1e-4)
    on_device = images.cuda()
    sender, _ = ba.BatchTwoViews(32, augment=True)(on_device, sizes, torch.Generator().manual_seed(0))
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # compiled already: a second call must not wait on the device
    try:
        sender, _ = ba.BatchTwoViews(32, augment=True)(on_device, sizes, torch.Generator().manual_seed(1))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(sender).all()
