"""Gaussian blobs: item i depends on (seed, i) only; shape, label and normalisation as SPEC.md says."""

from __future__ import annotations

import pytest
import torch

from emcom.data.noise import NOISE_LABEL, GaussianNoiseDataset
from emcom.data.transforms import IMAGENET_MEAN, IMAGENET_STD


def test_item_is_the_same_whatever_the_reading_order():
    forward = GaussianNoiseDataset(20, 8, seed=3)
    backward = GaussianNoiseDataset(20, 8, seed=3)
    first = [forward[i][0] for i in range(20)]
    second = {i: backward[i][0] for i in reversed(range(20))}
    for i in range(20):
        assert torch.equal(first[i], second[i])
    loader = torch.utils.data.DataLoader(forward, batch_size=6, shuffle=True, num_workers=2,
                                         generator=torch.Generator().manual_seed(0))
    seen = 0
    for batch, labels in loader:
        for image in batch:
            assert any(torch.equal(image, first[i]) for i in range(20))
        assert (labels == NOISE_LABEL).all()
        seen += len(batch)
    assert seen == 20


def test_items_and_seeds_differ():
    dataset = GaussianNoiseDataset(4, 8, seed=0)
    assert not torch.equal(dataset[0][0], dataset[1][0])
    assert not torch.equal(dataset[0][0], GaussianNoiseDataset(4, 8, seed=1)[0][0])
    assert torch.equal(dataset[-1][0], dataset[3][0])


def test_shape_label_and_imagenet_normalisation():
    image, label = GaussianNoiseDataset(1, 64, seed=0)[0]
    assert image.shape == (3, 64, 64) and image.dtype == torch.float32 and label == -1
    # randn has mean 0, std 1: after (x - mean) / std the channel c has mean -mean_c/std_c, std 1/std_c
    for c in range(3):
        assert image[c].mean().item() == pytest.approx(-IMAGENET_MEAN[c] / IMAGENET_STD[c], abs=0.1)
        assert image[c].std().item() == pytest.approx(1 / IMAGENET_STD[c], rel=0.05)


def test_length_from_config():
    dataset = GaussianNoiseDataset.from_config({"batches": 3, "batch_size": 5, "seed": 2}, image_size=8)
    assert len(dataset) == 15 and dataset.seed == 2
    with pytest.raises(IndexError, match="15"):
        dataset[15]


def test_raw_noise_is_the_papers_text_and_the_same_draw():
    """normalize=False: the N(0, 1) pixels of the paper's text; the same randn as the normalised item."""
    raw, label = GaussianNoiseDataset(2, 64, seed=0, normalize=False)[1]
    normalised, _ = GaussianNoiseDataset(2, 64, seed=0)[1]
    assert label == NOISE_LABEL and raw.shape == (3, 64, 64)
    assert raw.mean().item() == pytest.approx(0, abs=0.05) and raw.std().item() == pytest.approx(1, rel=0.05)
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    assert torch.allclose(normalised, (raw - mean) / std)
    assert GaussianNoiseDataset.from_config({"batches": 1, "batch_size": 2}, 8, normalize=False).normalize is False
