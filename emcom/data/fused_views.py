"""The SimCLR view of a whole batch without masks: a few fused kernels on a GPU instead of hundreds of small ones.

:func:`emcom.data.batch_augment.augment_batch` applies each operation to the images that drew it
(index, operate, copy back): 16 masked jitter calls, grayscale, blur and flip, hundreds of small eager
kernels per view, whose host-side work outlasts the device's own (H200, both views of 128 images of
224 px: 17 ms per batch unsynchronised against 10 ms of kernels, 7,512 img/s; docs/gpu.md). Here
every operation runs on every image, each with its own coefficients, the images that did not draw it
getting the identity, and the two stages (jitter; grayscale, blur, flip and normalise) are each one
``torch.compile``d function: Inductor fuses each stage into a few kernels, with no host-side indexing
between them (3.13× the masked path's rate on an H200).

Same parameters, same result as the masked path (tests/test_fused_views.py, to float rounding):

- jitter position p: brightness, contrast and saturation are one affine map per image,
  ``clamp((a·x + b·gray(x)) + c·mean(gray(x)))`` with (a, b, c) = (f, 0, 0), (f, 0, 1 − f), (f, 1 − f, 0),
  the masked path's formulas term for term (the zero terms add exactly 0); the images whose op at p
  is hue take the hue rotation, the others (no jitter) keep their pixels;
- blur: every image is convolved with its own separable kernel of one fixed radius (the largest the
  σ range allows), zero beyond its own radius ceil(3σ); an image that does not blur gets the unit
  impulse, which returns it exactly;
- grayscale and flip chosen per image by ``where``.

Computing hue, blur and grayscale for images that then discard them costs arithmetic that a GPU has
to spare; on the CPU it does not pay, so :class:`~emcom.data.batch_augment.BatchTwoViews` uses this
path on CUDA only (eager here, compiled there).
"""

from __future__ import annotations

import math
import warnings

import torch

from emcom.data.batch_augment import (
    BRIGHTNESS,
    CONTRAST,
    HUE,
    SATURATION,
    ViewParams,
    adjust_hue,
    crop_and_resize,
    gaussian_taps,
    grayscale,
    normalize,
    separable_filter,
    to_device,
)

# columns of the per-position jitter table (B, 4 positions, 5)
_A, _B, _C, _AFFINE, _IS_HUE = range(5)


def jitter_table(params: ViewParams) -> torch.Tensor:
    """(B, 4, 5) float on the host: per image and jitter position, a, b, c, affine?, hue? (see module doc)."""
    b = params.order.shape[0]
    table = torch.zeros(b, 4, 5)
    table[:, :, _A] = 1.0
    for position in range(4):
        op = params.order[:, position]
        row = table[:, position]
        for kind in (BRIGHTNESS, CONTRAST, SATURATION):
            chosen = params.jitter & (op == kind)
            factor = params.factors[:, kind]
            row[chosen, _A] = factor[chosen]
            if kind == CONTRAST:
                row[chosen, _C] = 1.0 - factor[chosen]
            if kind == SATURATION:
                row[chosen, _B] = 1.0 - factor[chosen]
            row[chosen, _AFFINE] = 1.0
        row[params.jitter & (op == HUE), _IS_HUE] = 1.0
    return table


def blur_taps(params: ViewParams, radius: int, side: int) -> torch.Tensor:
    """(B, 2·radius + 1) float on the host: image i's Gaussian taps (:func:`~emcom.data.batch_augment.gaussian_taps`),
    or the unit impulse where it does not blur."""
    weights = gaussian_taps(params.sigma, radius, side)
    impulse = (torch.arange(-radius, radius + 1) == 0).double().expand_as(weights)
    return torch.where(params.blur[:, None], weights, impulse).float()


def jitter(x: torch.Tensor, table: torch.Tensor, hue_shift: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> the same, colour-jittered; table (B, 4, 5) and hue_shift (B,) on x's device."""
    for position in range(4):
        coefficients = table[:, position].view(-1, 5, 1, 1)
        a, b, c = coefficients[:, _A:_A + 1], coefficients[:, _B:_B + 1], coefficients[:, _C:_C + 1]
        gray = grayscale(x)
        affine = ((a * x + b * gray) + c * gray.mean(dim=(1, 2, 3), keepdim=True)).clamp(0.0, 1.0)
        x = torch.where(coefficients[:, _IS_HUE:_IS_HUE + 1] > 0.5, adjust_hue(x, hue_shift),
                        torch.where(coefficients[:, _AFFINE:_AFFINE + 1] > 0.5, affine, x))
    return x


def finish(x: torch.Tensor, gray: torch.Tensor, taps: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Grayscale where ``gray``, blur with each image's ``taps`` (B, K), flip where ``flip``, normalise.

    gray, flip: (B,) bool on x's device. The masked path's blur filter, so an impulse returns the image exactly.
    """
    x = torch.where(gray.view(-1, 1, 1, 1), grayscale(x).expand_as(x), x)
    x = separable_filter(x, taps)
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    return normalize(x)


class _Compiled:
    """``torch.compile(fn)`` made on first use; on CUDA only. If compiling fails (no working Triton,
    an unsupported platform) the eager function is used from then on, with one warning: slower views,
    the same result."""

    def __init__(self, fn):
        self.fn, self.compiled, self.failed = fn, None, False

    def __call__(self, *args):
        if self.failed or args[0].device.type != "cuda":
            return self.fn(*args)
        if self.compiled is None:
            self.compiled = torch.compile(self.fn)
        try:
            return self.compiled(*args)
        except Exception as error:  # noqa: BLE001 - the eager path computes the same, only slower
            self.failed = True
            warnings.warn(f"torch.compile of {self.fn.__name__} failed ({type(error).__name__}: {error}); "
                          "device views run eagerly (slower, same result)", RuntimeWarning, stacklevel=2)
            return self.fn(*args)


_jitter, _finish = _Compiled(jitter), _Compiled(finish)


def augment_whole_batch(images: torch.Tensor, sizes: torch.Tensor, params: ViewParams, out_size: int,
                        max_sigma: float) -> torch.Tensor:
    """One SimCLR view of each image, every operation on the whole batch (compiled on CUDA).

    images: (B, 3, L, L) uint8 (squash-resized originals of ``sizes`` (B, 2) = h, w); max_sigma: the top
    of the blur σ range, which fixes the kernel radius (one compiled graph for every batch).
    returns (B, 3, out_size, out_size) float32, ImageNet-normalised.
    """
    device = images.device
    x = crop_and_resize(images, sizes, params, out_size)
    # a σ above the range (never drawn by sample_view_params) still gets its whole kernel
    radius = min(math.ceil(3 * max(max_sigma, float(params.sigma.max()))), out_size - 1)
    # one host-to-device copy for the per-image jitter table and hue, one for the blur taps and choices
    table = to_device(torch.cat([jitter_table(params).flatten(1), params.factors[:, HUE:HUE + 1]], dim=1), device)
    finishing = to_device(torch.cat([params.gray[:, None].float(), params.flip[:, None].float(),
                                     blur_taps(params, radius, out_size)], dim=1), device)
    x = _jitter(x, table[:, :20].reshape(-1, 4, 5), table[:, 20])
    return _finish(x, finishing[:, 0] > 0.5, finishing[:, 2:], finishing[:, 1] > 0.5)
