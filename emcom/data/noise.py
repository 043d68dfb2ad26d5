"""The "Gaussian blobs" test set: i.i.d. pixel noise generated from (seed, index), never stored.

SPEC.md (Data): each item is ``torch.randn(3, S, S)`` with the ImageNet Normalize then applied to
it, 384 batches x 128 = 49,152 items. Item ``i`` comes from a generator seeded by ``(seed, i)``
alone, so it is the same whatever order, worker or batch reads it.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from emcom.data.transforms import IMAGENET_MEAN, IMAGENET_STD

NOISE_LABEL = -1  # noise has no class; -1 keeps the (image, label) item shape of every dataset


def item_seed(seed: int, index: int) -> int:
    """A 63-bit seed mixing (seed, index) through NumPy's SeedSequence, so nearby items are unrelated."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint64)[0] >> 1)


class GaussianNoiseDataset(torch.utils.data.Dataset):
    """``length`` noise images; item: ``(tensor of shape (3, image_size, image_size), -1)``.

    The tensor is standard normal noise passed through ImageNet normalisation
    ``(x - mean) / std`` per channel, exactly as the paper's pipeline normalises an image (the
    authors' code). With ``normalize=False`` it is the raw N(0, 1) noise the paper's text describes.
    """

    def __init__(self, length: int, image_size: int, seed: int = 0, normalize: bool = True):
        if length < 1 or image_size < 1:
            raise ValueError(f"length and image_size must be >= 1, got {length} and {image_size}")
        self.length = length
        self.image_size = image_size
        self.seed = seed
        self.normalize = normalize
        self.mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(3, 1, 1)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], image_size: int, normalize: bool = True) -> "GaussianNoiseDataset":
        """From the ``noise:`` config section: ``batches`` x ``batch_size`` items, ``seed``."""
        return cls(int(config["batches"]) * int(config["batch_size"]), image_size, int(config.get("seed", 0)),
                   normalize)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if not -self.length <= index < self.length:
            raise IndexError(f"noise item {index} out of range (length {self.length})")
        index %= self.length
        generator = torch.Generator().manual_seed(item_seed(self.seed, index))
        noise = torch.randn(3, self.image_size, self.image_size, generator=generator)
        if not self.normalize:
            return noise, NOISE_LABEL
        return (noise - self.mean) / self.std, NOISE_LABEL
