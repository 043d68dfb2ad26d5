"""Views made on the training device: workers decode and resize, the batch is augmented where it trains.

``data.augment_on: device`` (emcom/config.py) replaces the per-image :class:`~emcom.data.transforms.TwoViews`
in the loader workers by :class:`LoadResized` (decode, squash-resize to a fixed square, uint8), and
wraps the loader in :class:`DeviceViewLoader`, which moves each uint8 batch to the device (4× less to
copy than float) and makes both views there with :class:`~emcom.data.batch_augment.BatchTwoViews`.
"""

from __future__ import annotations

import torch
from torchvision.transforms import v2

from emcom.data.ahead import made_ahead
from emcom.data.batch_augment import BatchTwoViews


class LoadResized:
    """Worker transform: PIL image -> (uint8 (3, L, L) squash-resize, original (height, width)).

    The resize is the one of :func:`~emcom.data.transforms.squash_transform` (antialiased, on the
    uint8 tensor), so without augmentation the device view equals the worker-made one.
    """

    def __init__(self, load_size: int):
        self.load_size = load_size
        self.resize = v2.Compose([v2.ToImage(), v2.Resize((load_size, load_size), antialias=True)])

    def __call__(self, image) -> tuple[torch.Tensor, torch.Tensor]:
        width, height = image.size
        return self.resize(image).as_subclass(torch.Tensor), torch.tensor([height, width])

    def __repr__(self) -> str:
        return f"LoadResized({self.load_size})"


class DeviceViewLoader:
    """Iterate ``loader`` (items ``((uint8 images, sizes), labels)``) as ``((sender, receiver), labels)``
    with both views made on ``device``.

    The random draws come from a generator seeded, at each ``iter()``, from torch's global RNG, as
    DataLoader seeds its workers: the trainer seeds that RNG from the epoch seed, so an epoch replays
    bit-identically on resume.

    ``ahead`` > 0 (``data.views_ahead``): a background thread makes that many batches' views ahead of the
    training loop (:func:`emcom.data.ahead.made_ahead`, on a side CUDA stream), in the same order with the
    same draws, so the loop's host only queues the step.
    """

    def __init__(self, loader, views: BatchTwoViews, device: torch.device, decoder=None, ahead: int = 0):
        # decoder (decode_on: device): items -> (uint8 images on device, sizes, indices of the items kept),
        # e.g. functools.partial(emcom.data.gpu_decode.decode_to_squares, device=..., load_size=...)
        self.loader, self.views, self.device, self.decoder = loader, views, device, decoder
        self.ahead = ahead

    @property
    def dataset(self):
        return self.loader.dataset

    @property
    def batch_size(self) -> int:
        return self.loader.batch_size

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        generator = torch.Generator().manual_seed(int(torch.empty((), dtype=torch.int64).random_()))
        batches = self._batches(generator)
        return made_ahead(batches, self.ahead, self.device) if self.ahead > 0 else batches

    def _batches(self, generator: torch.Generator):
        for batch in self.loader:
            if batch is None:  # every image undecodable and skipped (collate_skipping_none)
                yield None
                continue
            if self.decoder is not None:
                items, labels = batch
                images, sizes, kept = self.decoder(items)
                if len(kept) == 0:
                    yield None
                    continue
                labels = labels[kept]
            else:
                (images, sizes), labels = batch
                images = images.to(self.device, non_blocking=True)
            yield self.views(images, sizes, generator), labels
