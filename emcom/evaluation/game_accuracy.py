"""Play the referential game with a frozen model on a test set (SPEC.md, Evaluation).

Batches of ``batch_size`` images are drawn in a seeded random order with drop_last; in each batch
every image is once the target and the batch is the candidate set (chance = 1 / batch_size).
Sender and Receiver see the same un-augmented tensor; the Sender sends exact one-hot symbols.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

from emcom.losses import cosine_scores
from emcom.models import ReferentialGame


@dataclass
class GamePlay:
    accuracy: float  # fraction of targets the Receiver ranked first
    batches: int
    symbols: np.ndarray  # (N,) the symbol sent for each target, in play order
    labels: np.ndarray  # (N,) the target's class index
    correct: np.ndarray  # (N,) bool


@torch.no_grad()
def play_game(model: ReferentialGame, dataset: Dataset, batch_size: int = 128, seed: int = 0,
              num_workers: int = 0, device: str | torch.device = "cpu") -> GamePlay:
    """Items of ``dataset`` are (image (3, S, S), label)."""
    if len(dataset) < batch_size:
        raise ValueError(f"test set of {len(dataset)} images is smaller than one batch of {batch_size}")
    model = model.to(device).eval()
    order = RandomSampler(dataset, generator=torch.Generator().manual_seed(seed))
    loader = DataLoader(dataset, batch_size=batch_size, sampler=order, drop_last=True, num_workers=num_workers)
    symbols, labels, correct = [], [], []
    for images, targets in loader:
        images = images.to(device)
        output = model(images, images)
        # the cosine temperature does not change which candidate ranks first
        scores = cosine_scores(output.message_embedding, output.receiver_vectors, temperature=1.0)
        correct.append((scores.argmax(dim=1) == torch.arange(len(images), device=device)).cpu())
        symbols.append(output.logits.argmax(dim=1).cpu())
        labels.append(targets)
    correct_all = torch.cat(correct).numpy()
    return GamePlay(float(correct_all.mean()), len(correct), torch.cat(symbols).numpy(),
                    torch.cat(labels).numpy(), correct_all)
