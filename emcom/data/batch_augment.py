"""The SimCLR augmentation (SPEC.md, Data) on a whole batch of uint8 images, on the training device.

The per-image pipeline of :func:`emcom.data.transforms.simclr_transform` runs in loader workers,
one PIL image at a time; on a 2-core machine those workers take the cores the training step needs,
and on a GPU machine they cannot keep up with the step. Here workers only decode and resize each
image to a fixed ``load_size`` square (uint8, :class:`DecodedImage`), and the batch is augmented
where the model runs, each image with its OWN random parameters drawn by torchvision's rules:

- crop box: RandomResizedCrop's sampling (10 tries of area ~ U(scale), log-ratio ~ U(log ratio),
  then the central fallback), drawn in the ORIGINAL image's pixels and mapped onto the resized
  copy, so the crop distribution does not depend on ``load_size``; cropped and resized together by
  ``torchvision.ops.roi_align`` (its adaptive sampling averages several source pixels per output
  pixel when it shrinks, i.e. it antialiases like ``resized_crop(antialias=True)``);
- ColorJitter(0.8, 0.8, 0.8, 0.2) with p 0.8: brightness/contrast/saturation factors ~ U(0.2, 1.8),
  hue ~ U(-0.2, 0.2), applied in a random order per image (``torch.randperm(4)`` semantics), each op
  torchvision's tensor formula;
- grayscale p 0.2 (ITU-R 601-2 luma as torchvision); Gaussian blur p 0.5 with σ ~ U(0.1, 2.0), kernel
  radius ceil(3σ) per image (PIL's radius semantics: no fixed kernel-size cap); horizontal flip p 0.5;
- then float [0, 1] and the ImageNet Normalize.

Every draw comes from one ``torch.Generator`` on the CPU (parameters are (B, ...) tensors, a few
hundred bytes): seeded from the epoch seed, an epoch replays bit-identically on resume, on any
device. Images of a draw are grouped by host-side index tensors, and every host tensor goes to the
device by :func:`to_device` (an asynchronous copy), so nothing here waits on the GPU: the host can
prepare the next batch's views while the device still runs the previous training step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchvision.ops import roi_align

from emcom.data.transforms import IMAGENET_MEAN, IMAGENET_STD, SIMCLR_BLUR_SIGMA, color_jitter_amounts

CROP_RATIO = (3 / 4, 4 / 3)
JITTER_P, GRAYSCALE_P, BLUR_P, FLIP_P = 0.8, 0.2, 0.5, 0.5
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale
BRIGHTNESS, CONTRAST, SATURATION, HUE = range(4)


@dataclass
class ViewParams:
    """Random parameters of one view of each of B images (all on the CPU).

    boxes: (B, 4) float x0, y0, x1, y1 in original-image pixels (the crop is pixels [x0, x1) × [y0, y1))
    jitter: (B,) bool; factors: (B, 4) brightness, contrast, saturation, hue; order: (B, 4) permutations
    gray, blur, flip: (B,) bool; sigma: (B,) float (used where blur)
    """

    boxes: torch.Tensor
    jitter: torch.Tensor
    factors: torch.Tensor
    order: torch.Tensor
    gray: torch.Tensor
    blur: torch.Tensor
    sigma: torch.Tensor
    flip: torch.Tensor


def sample_crop_boxes(heights: torch.Tensor, widths: torch.Tensor, generator: torch.Generator,
                      scale: tuple[float, float] = (0.08, 1.0), ratio: tuple[float, float] = CROP_RATIO,
                      tries: int = 10) -> torch.Tensor:
    """RandomResizedCrop.get_params for each image at once: (B,) sizes -> (B, 4) boxes x0, y0, x1, y1."""
    b = heights.shape[0]
    heights, widths = heights.double(), widths.double()
    area = (heights * widths)[:, None]
    target = area * torch.empty(b, tries, dtype=torch.float64).uniform_(scale[0], scale[1], generator=generator)
    log_ratio = torch.empty(b, tries, dtype=torch.float64).uniform_(math.log(ratio[0]), math.log(ratio[1]),
                                                                    generator=generator)
    aspect = torch.exp(log_ratio)
    w = torch.round(torch.sqrt(target * aspect))
    h = torch.round(torch.sqrt(target / aspect))
    ok = (w > 0) & (h > 0) & (w <= widths[:, None]) & (h <= heights[:, None])
    first = ok.double().argmax(dim=1)  # the first successful try, as torchvision's loop returns it
    w, h = w.gather(1, first[:, None])[:, 0], h.gather(1, first[:, None])[:, 0]
    u = torch.rand(b, 2, dtype=torch.float64, generator=generator)
    top = torch.floor(u[:, 0] * (heights - h + 1))  # randint(0, H - h + 1)
    left = torch.floor(u[:, 1] * (widths - w + 1))
    # fallback (no try fitted): the central crop clamped to the ratio range
    in_ratio = widths / heights
    fw = torch.where(in_ratio < ratio[0], widths,
                     torch.where(in_ratio > ratio[1], torch.round(heights * ratio[1]), widths))
    fh = torch.where(in_ratio < ratio[0], torch.round(widths / ratio[0]), heights)
    fallback = ~ok.any(dim=1)
    w, h = torch.where(fallback, fw, w), torch.where(fallback, fh, h)
    top = torch.where(fallback, torch.div(heights - h, 2, rounding_mode="floor"), top)
    left = torch.where(fallback, torch.div(widths - w, 2, rounding_mode="floor"), left)
    return torch.stack([left, top, left + w, top + h], dim=1).float()


def sample_view_params(heights: torch.Tensor, widths: torch.Tensor, generator: torch.Generator,
                       min_crop_scale: float = 0.08,
                       blur_sigma: tuple[float, float] = SIMCLR_BLUR_SIGMA,
                       color_jitter_strength: float = 1.0) -> ViewParams:
    """Draw one SimCLR view's parameters for B images of the given original sizes ((B,) each)."""
    b = heights.shape[0]

    def uniform(low, high, *shape):
        return torch.empty(b, *shape).uniform_(low, high, generator=generator)

    def coin(p):
        return torch.rand(b, generator=generator) < p

    boxes = sample_crop_boxes(heights, widths, generator, scale=(min_crop_scale, 1.0))
    strength = color_jitter_amounts(color_jitter_strength)  # brightness, contrast, saturation, hue
    factors = torch.stack([uniform(max(0.0, 1 - strength[0]), 1 + strength[0]),
                           uniform(max(0.0, 1 - strength[1]), 1 + strength[1]),
                           uniform(max(0.0, 1 - strength[2]), 1 + strength[2]),
                           uniform(-strength[3], strength[3])], dim=1)
    order = torch.rand(b, 4, generator=generator).argsort(dim=1)  # a uniform random permutation per image
    return ViewParams(boxes=boxes, jitter=coin(JITTER_P), factors=factors, order=order, gray=coin(GRAYSCALE_P),
                      blur=coin(BLUR_P), sigma=uniform(*blur_sigma), flip=coin(FLIP_P))


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy a small host tensor to ``device`` without waiting for the device.

    A blocking host-to-GPU copy (``.to(device)``, ``torch.tensor(..., device=)``) synchronises the whole
    stream: the host idles until every queued kernel (the training step) has run, and the device
    idles while the host then queues the next ones. From pageable memory the asynchronous copy is
    staged by the CUDA runtime before it returns, so the host tensor may be freed at once.
    """
    return tensor.to(device, non_blocking=True)


# ---- the operations, batched, on float images in [0, 1] ---------------------------------------------


def grayscale(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) luma, torchvision's weights."""
    r, g, b = images.unbind(dim=1)
    return (GRAY_WEIGHTS[0] * r + GRAY_WEIGHTS[1] * g + GRAY_WEIGHTS[2] * b).unsqueeze(1)


def _blend(images: torch.Tensor, other: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    f = factors.view(-1, 1, 1, 1)
    return (f * images + (1.0 - f) * other).clamp_(0.0, 1.0)


def adjust_brightness(images: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    return (images * factors.view(-1, 1, 1, 1)).clamp_(0.0, 1.0)


def adjust_contrast(images: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    return _blend(images, grayscale(images).mean(dim=(1, 2, 3), keepdim=True), factors)


def adjust_saturation(images: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    return _blend(images, grayscale(images), factors)


_HSV_CHANNEL_OFFSETS = (5.0, 3.0, 1.0)  # r, g, b in the closed-form HSV -> RGB


def adjust_hue(images: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Rotate hue by factors[i] turns: torchvision's RGB -> HSV (PIL's formulas), batched; back to RGB by
    the closed form c = v − v·s·clamp(min(k, 4 − k), 0, 1), k = (n + 6h) mod 6, n = 5, 3, 1 (the same
    sector table as torchvision's gather, as arithmetic: equal to float rounding, tests/test_batch_augment.py).

    Written out rather than calling torchvision's private helpers: its ``aminmax`` over the channel
    dimension and index gather measured ~7 ms and more per call on a (64, 3, 32, 32) CPU batch.
    """
    r, g, b = images.unbind(dim=1)
    maxc, minc = torch.maximum(torch.maximum(r, g), b), torch.minimum(torch.minimum(r, g), b)
    equal = maxc == minc  # grey pixels: no hue, no saturation (and no division by 0)
    spread = maxc - minc
    saturation = spread / torch.where(equal, torch.ones_like(maxc), maxc)
    divisor = torch.where(equal, torch.ones_like(spread), spread)
    rc, gc, bc = (maxc - r) / divisor, (maxc - g) / divisor, (maxc - b) / divisor
    hue = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue = (hue / 6.0 + 1.0).fmod(1.0)
    # hue + factor lies in (-1, 2): a where is the remainder (float remainder is slow on the CPU)
    hue = hue + factors.view(-1, 1, 1)
    hue = torch.where(hue < 0.0, hue + 1.0, torch.where(hue >= 1.0, hue - 1.0, hue))
    offsets = to_device(torch.tensor(_HSV_CHANNEL_OFFSETS, dtype=images.dtype).view(1, 3, 1, 1), images.device)
    k = offsets + 6.0 * hue.unsqueeze(1)  # in [1, 11)
    k = torch.where(k >= 6.0, k - 6.0, k)
    ramp = torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)
    v, s_ = maxc.unsqueeze(1), saturation.unsqueeze(1)
    return (v - v * s_ * ramp).clamp(0.0, 1.0)


JITTER_OPS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)


def gaussian_taps(sigma: torch.Tensor, radius: int, side: int) -> torch.Tensor:
    """(B,) σ on the host -> (B, 2·radius + 1) float64 normalised Gaussian taps, zero beyond each image's
    own radius ceil(3σ) (the kernel 2·ceil(3σ) + 1 of emcom.data.transforms.gaussian_kernel_size), capped
    like it at side − 1 (reflect padding)."""
    radii = torch.ceil(3 * sigma.double()).long().clamp_(max=side - 1)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-0.5 * (x[None, :] / sigma.double()[:, None]) ** 2)
    weights = torch.where(x.abs()[None, :] <= radii[:, None], weights, torch.zeros_like(weights))
    return weights / weights.sum(dim=1, keepdim=True)


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur image i with σ_i, kernel radius ceil(3σ_i), reflect padding, separable: (B, C, H, W) -> same.

    ``sigma`` (B,) stays on the host: the kernels are built there (the radius decides the slicing, so
    reading it on the device would stall the stream) and only the (B, 2r + 1) weights are copied over.
    """
    side = min(images.shape[-2:])
    radius = min(int(torch.ceil(3 * sigma.double()).max()), side - 1)
    return separable_filter(images, to_device(gaussian_taps(sigma, radius, side).to(images.dtype), images.device))


def separable_filter(images: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Filter image i along rows, then columns, with its own taps ``weights[i]`` (B, 2r + 1; on the images'
    device), reflect padding: (B, C, H, W) -> same.

    A sum of shifted slices (2·r + 1 multiply-adds per direction): measured ~4× faster on the CPU than a
    grouped convolution with one kernel per (image, channel), and exact for a unit impulse.
    """
    b, _, height, width = images.shape
    radius = (weights.shape[1] - 1) // 2
    taps = weights.view(b, 1, 1, 1, -1).unbind(-1)
    padded = F.pad(images, (radius, radius, 0, 0), mode="reflect")
    rows = sum(tap * padded[..., k:k + width] for k, tap in enumerate(taps))
    padded = F.pad(rows, (0, 0, radius, radius), mode="reflect")
    return sum(tap * padded[..., k:k + height, :] for k, tap in enumerate(taps))


def _apply_to(images: torch.Tensor, mask: torch.Tensor, fn, *per_image: torch.Tensor,
              on_host: bool = False) -> torch.Tensor:
    """images[mask] = fn(images[mask], *per_image[mask]), with the selection indices built on the host.

    The per-image parameters (host tensors) are copied to the images' device, unless ``on_host``:
    then ``fn`` gets them on the host (gaussian_blur builds its kernels there).
    """
    index = mask.nonzero().flatten()  # CPU tensor: no device synchronisation
    if index.numel() == 0:
        return images
    target = torch.device("cpu") if on_host else images.device
    if index.numel() == images.shape[0]:
        return fn(images, *(to_device(t, target) for t in per_image))
    device_index = to_device(index, images.device)
    selected = fn(images.index_select(0, device_index), *(to_device(t[index], target) for t in per_image))
    return images.index_copy(0, device_index, selected)


def crop_and_resize(images: torch.Tensor, sizes: torch.Tensor, params: ViewParams, out_size: int) -> torch.Tensor:
    """(B, 3, L, L) uint8 squash-resized originals of ``sizes`` (B, 2) = h, w -> (B, 3, out_size, out_size)
    float in [0, 1]: each image's crop box, cropped and resized by ``roi_align``."""
    b, _, load_h, load_w = images.shape
    scale = torch.stack([load_w / sizes[:, 1].float(), load_h / sizes[:, 0].float()], dim=1).repeat(1, 2)
    boxes = torch.cat([torch.arange(b, dtype=torch.float32)[:, None], params.boxes * scale], dim=1)
    return roi_align(images.float().div_(255.0), to_device(boxes, images.device), output_size=out_size,
                     spatial_scale=1.0, sampling_ratio=-1, aligned=True)


def augment_batch(images: torch.Tensor, sizes: torch.Tensor, params: ViewParams, out_size: int) -> torch.Tensor:
    """One SimCLR view of each image.

    images: (B, 3, L, L) uint8, each the squash-resize of an original of size ``sizes[i]`` = (h, w)
    returns (B, 3, out_size, out_size) float32, normalised with the ImageNet mean/std.
    """
    x = crop_and_resize(images, sizes, params, out_size)
    for position in range(4):
        for op, fn in enumerate(JITTER_OPS):
            x = _apply_to(x, params.jitter & (params.order[:, position] == op), fn, params.factors[:, op])
    x = _apply_to(x, params.gray, lambda t: grayscale(t).expand(-1, 3, -1, -1))
    x = _apply_to(x, params.blur, gaussian_blur, params.sigma, on_host=True)
    x = _apply_to(x, params.flip, lambda t: t.flip(-1))
    return normalize(x)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """Float [0, 1] (B, 3, H, W) -> ImageNet-normalised."""
    mean = to_device(torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), images.device)
    std = to_device(torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), images.device)
    return (images - mean) / std


class BatchTwoViews:
    """The Sender's and Receiver's views of a uint8 batch, on its device (cf. :class:`TwoViews`).

    With ``augment``: two independent SimCLR draws per image from ``generator``. Without: the
    loaded images are already the (size, size) squash; both views are the same normalised tensor.

    ``whole_batch`` picks the implementation of the same view: every operation on the whole batch,
    compiled (:mod:`emcom.data.fused_views`), or each on the images that drew it (:func:`augment_batch`).
    None (default): whole-batch on CUDA, where the masked path's hundreds of small kernels leave the
    host the bottleneck; masked on the CPU, where computing every operation for every image costs more.
    """

    def __init__(self, image_size: int, augment: bool, min_crop_scale: float = 0.08,
                 blur_sigma: tuple[float, float] = SIMCLR_BLUR_SIGMA, color_jitter_strength: float = 1.0,
                 whole_batch: bool | None = None):
        self.image_size, self.augment, self.min_crop_scale = image_size, augment, min_crop_scale
        self.blur_sigma, self.color_jitter_strength = tuple(blur_sigma), color_jitter_strength
        self.whole_batch = whole_batch

    def __call__(self, images: torch.Tensor, sizes: torch.Tensor,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.augment:
            view = normalize(images.float().div_(255.0))
            return view, view
        heights, widths = sizes[:, 0], sizes[:, 1]
        whole_batch = images.device.type == "cuda" if self.whole_batch is None else self.whole_batch
        if whole_batch:
            from emcom.data.fused_views import augment_whole_batch  # it builds on this module's operations

            def view(params):
                return augment_whole_batch(images, sizes, params, self.image_size, self.blur_sigma[1])
        else:
            def view(params):
                return augment_batch(images, sizes, params, self.image_size)
        return tuple(view(sample_view_params(heights, widths, generator, self.min_crop_scale, self.blur_sigma,
                                             self.color_jitter_strength))
                     for _ in range(2))
