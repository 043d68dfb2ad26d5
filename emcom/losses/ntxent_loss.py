"""NT-Xent (SimCLR), standard and the authors' EGG variant (SPEC.md, SimCLR baseline)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from emcom.distributed import gather_negatives, rank, world_size
from emcom.losses.game_loss import LossOutput, cosine_scores


class NTXentLoss(nn.Module):
    """Normalised temperature-scaled cross-entropy over the 2B views of a batch.

    ``variant="standard"``: each view's logits are its cosine/τ to every other view (self
    excluded); the target is its twin. ``variant="egg"`` reproduces the authors' code, which masks
    only the self-similarity and prepends the positive, so the positive appears twice in each row,
    and halves the loss. With ``gather_distributed`` the keys are every rank's views, the other
    ranks' without gradient (the authors' gather, :func:`emcom.distributed.gather_negatives`); the
    queries stay local.
    """

    def __init__(self, temperature: float = 0.1, variant: str = "standard", gather_distributed: bool = False):
        super().__init__()
        if variant not in ("standard", "egg"):
            raise ValueError(f"variant must be 'standard' or 'egg', got {variant!r}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self.variant = variant
        self.gather_distributed = gather_distributed

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor) -> LossOutput:
        """z_a, z_b: (B, D), the two views of the same B images."""
        batch = z_a.shape[0]
        queries = torch.cat([z_a, z_b])  # (2B, D)
        if self.gather_distributed and world_size() > 1:
            all_a, all_b = gather_negatives(z_a), gather_negatives(z_b)
            keys = torch.cat([all_a, all_b])  # (2WB, D): every rank's first views, then second views
            total = all_a.shape[0]
            local = torch.arange(batch, device=z_a.device) + rank() * batch
            self_index = torch.cat([local, local + total])
            positive_index = torch.cat([local + total, local])
        else:
            keys = queries
            local = torch.arange(batch, device=z_a.device)
            self_index = torch.cat([local, local + batch])
            positive_index = torch.cat([local + batch, local])
        scores = cosine_scores(queries, keys, self.temperature)  # (2B, K)
        rows = torch.arange(2 * batch, device=z_a.device)
        scores = scores.masked_fill(F.one_hot(self_index, keys.shape[0]).bool(), float("-inf"))
        accuracy = (scores.argmax(dim=1) == positive_index).float().mean().detach()
        if self.variant == "standard":
            return LossOutput(F.cross_entropy(scores, positive_index), accuracy)
        positives = scores[rows, positive_index].unsqueeze(1)
        logits = torch.cat([positives, scores], dim=1)  # the positive twice: at 0 and in place
        zeros = torch.zeros(2 * batch, dtype=torch.long, device=z_a.device)
        return LossOutput(F.cross_entropy(logits, zeros) / 2, accuracy)
