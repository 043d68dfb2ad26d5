"""JPEG decoding on the training device (``data.decode_on: device``), for full scale on CUDA.

At 224 px the loader workers' JPEG decoding alone caps a GPU: ImageNet's ~110 kB JPEGs (~400 × 350 px)
decode at a few hundred images/s per core. With ``decode_on: device`` the workers only read the
file's bytes (:class:`EncodedImageFolder`); :func:`decode_to_squares` decodes a whole batch with
``torchvision.io.decode_jpeg(list, device=...)`` (nvJPEG's batched decoder on CUDA) and squash-resizes
each image to the fixed ``load_size`` square the batched augmentation takes. Files that are not JPEG
(PNG datasets such as the embedded default's) are decoded by the workers as before, and on a machine
without CUDA ``device`` is the CPU, so the same code path runs (and is tested) everywhere.

An undecodable file follows ``data.on_bad_image``: "error" raises :class:`BadImageError` naming it,
"skip" drops it from the batch (and counts it, like the worker path).

NVIDIA DALI (a CUDA 13 wheel exists) would also decode on the GPU, with its own loader and
augmentations; not used: it replaces the torch DataLoader, sampler and seeding that resume and
DistributedSampler rely on, adds a ~1 GB dependency, and no GPU was available to measure it against
this path (benchmarks/gpu_all.sh measures this one).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy
import torch
import torch.nn.functional as F
from torchvision.io import ImageReadMode, decode_jpeg

from emcom.data.batch_augment import to_device
from emcom.data.device_views import LoadResized
from emcom.data.folder import BadImageError, ImageFolderDataset, load_rgb, load_rgb_or_skip

log = logging.getLogger(__name__)

JPEG_MAGIC = b"\xff\xd8\xff"


@dataclass
class EncodedItem:
    """One loader item before device decoding: the JPEG's bytes, or (non-JPEG) the worker-made square."""

    path: str
    encoded: torch.Tensor | None  # (N,) uint8 file bytes
    square: torch.Tensor | None  # (3, L, L) uint8, for files the workers decoded
    size: torch.Tensor | None  # (2,) original (height, width), for those files


class EncodedImageFolder(ImageFolderDataset):
    """Items ``(EncodedItem, label)``: JPEG files as bytes, others decoded and resized in the worker."""

    def __init__(self, root, split: str, load_size: int, on_bad_image: str = "error"):
        super().__init__(root, split, None, on_bad_image)
        self.load = LoadResized(load_size)

    def __getitem__(self, index: int):
        sample = self.samples[index]
        data = sample.path.read_bytes()
        if data[:3] == JPEG_MAGIC:
            return EncodedItem(str(sample.path), torch.frombuffer(bytearray(data), dtype=torch.uint8), None, None), \
                sample.label
        image = load_rgb_or_skip(sample.path, self.on_bad_image)
        if image is None:
            return None
        square, size = self.load(image)
        return EncodedItem(str(sample.path), None, square, size), sample.label


def collate_encoded(batch: list):
    """Lists, not stacked tensors: encoded files differ in length. ``None`` items (skipped) are dropped."""
    kept = [item for item in batch if item is not None]
    if not kept:
        return None
    return [item for item, _ in kept], torch.tensor([label for _, label in kept])


def _decode_each(encoded: list[torch.Tensor], paths: list[str], device: torch.device,
                 on_bad_image: str) -> list[torch.Tensor | None]:
    """One decode_jpeg call for the batch; if it fails, one call per file to find the bad one(s)."""
    with warnings.catch_warnings():  # torchvision 0.29 deprecates its decoders in favour of TorchCodec
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return list(decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device))
        except RuntimeError:
            pass
        decoded = []
        for data, path in zip(encoded, paths):
            try:
                decoded.append(decode_jpeg(data, mode=ImageReadMode.RGB, device=device))
                continue
            except RuntimeError:
                pass
            try:  # e.g. CMYK JPEGs (ImageNet has a few), which nvJPEG declines: PIL on the CPU
                image = torch.from_numpy(numpy.asarray(load_rgb(Path(path)))).permute(2, 0, 1)
                decoded.append(to_device(image, device))  # asynchronous: no wait for the step
            except BadImageError:
                if on_bad_image == "error":
                    raise
                log.warning("skipping undecodable image %s", path)
                decoded.append(None)
        return decoded


def resize_square(image: torch.Tensor, load_size: int) -> torch.Tensor:
    """(3, H, W) uint8 -> (3, L, L) uint8, antialiased bilinear squash (as the worker's v2.Resize)."""
    resized = F.interpolate(image[None].float(), size=(load_size, load_size), mode="bilinear",
                            align_corners=False, antialias=True)
    return resized[0].round_().clamp_(0, 255).to(torch.uint8)


def decode_to_squares(items: list[EncodedItem], device: torch.device, load_size: int,
                      on_bad_image: str = "error") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A batch of EncodedItems -> (images (B', 3, L, L) uint8 on ``device``, sizes (B', 2) CPU, kept (B',) indices).

    B' < B when ``on_bad_image: skip`` dropped undecodable files; ``kept`` indexes the items kept.
    """
    jpeg = [i for i, item in enumerate(items) if item.encoded is not None]
    decoded = _decode_each([items[i].encoded for i in jpeg], [items[i].path for i in jpeg], device,
                           on_bad_image) if jpeg else []
    by_index = dict(zip(jpeg, decoded))
    squares, sizes, kept = [], [], []
    for i, item in enumerate(items):
        if item.encoded is None:
            squares.append(item.square.to(device, non_blocking=True))
            sizes.append(item.size)
        elif by_index[i] is not None:
            image = by_index[i]
            squares.append(resize_square(image, load_size))
            sizes.append(torch.tensor(image.shape[-2:]))  # shapes are host metadata: no synchronisation
        else:
            continue
        kept.append(i)
    if not squares:
        return (torch.empty(0, 3, load_size, load_size, dtype=torch.uint8, device=device),
                torch.empty(0, 2, dtype=torch.long), torch.empty(0, dtype=torch.long))
    return torch.stack(squares), torch.stack(sizes), torch.tensor(kept)
