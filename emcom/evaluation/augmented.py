"""Test-time augmentation (the paper's Appendix A.4): the game played on augmented views.

Test set ``<split>_aug`` is ``<split>`` with each agent given its own random view of the target,
drawn with the model's own training augmentations (``data.min_crop_scale``, ``data.blur_sigma``,
``data.color_jitter_strength``) through :class:`emcom.data.transforms.TwoViews`. The views of item
``i`` are drawn from torch's RNG seeded with ``(seed, i)``: the same seed gives the same views
whatever the play order, the batch size or the number of loader workers. The test sets' names are
in :mod:`emcom.evaluation.test_sets`.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from emcom.config import DataConfig
from emcom.data.noise import item_seed
from emcom.data.transforms import TwoViews


def training_views(data: DataConfig, image_size: int) -> TwoViews:
    """Two independent augmented views of side ``image_size`` with a run's own augmentation settings."""
    return TwoViews(image_size, augment=True, min_crop_scale=data.min_crop_scale,
                    blur_sigma=tuple(data.blur_sigma), color_jitter_strength=data.color_jitter_strength)


class SeededViews(Dataset):
    """Wrap a dataset of ``(PIL image, label)``: item ``i`` is ``((sender view, receiver view), label)``,
    each view a float tensor (3, S, S), drawn with torch's RNG seeded from ``(seed, i)``.

    The global RNG is forked, not reseeded for good: the loader's own random state is left as it was.
    """

    def __init__(self, dataset: Dataset, views: TwoViews, seed: int):
        self.dataset = dataset
        self.views = views
        self.seed = seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        image, label = self.dataset[index]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(item_seed(self.seed, index))
            sender, receiver = self.views(image)
        return (sender, receiver), label
