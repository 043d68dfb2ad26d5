"""The referential game's loss: cross-entropy over cosine scores of the in-batch candidates."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from emcom.distributed import gather_negatives, rank


class LossOutput(NamedTuple):
    loss: torch.Tensor  # scalar
    accuracy: torch.Tensor  # scalar in [0, 1]: fraction of targets ranked first


def cosine_scores(queries: torch.Tensor, candidates: torch.Tensor, temperature: float) -> torch.Tensor:
    """cos(query_i, candidate_j) / temperature. Shape: (B, D), (N, D) -> (B, N)."""
    return F.normalize(queries.float(), dim=-1) @ F.normalize(candidates.float(), dim=-1).T / temperature


class GameLoss(nn.Module):
    """Cross-entropy of the Receiver's softmax over candidates against the target's position.

    Candidates are the local batch (the paper: target + B-1 distractors); with
    ``gather_distributed`` every rank's Receiver vectors become candidates; the other ranks' arrive
    without gradient (the authors' option, :func:`emcom.distributed.gather_negatives`).
    """

    def __init__(self, temperature: float = 0.1, gather_distributed: bool = False):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self.gather_distributed = gather_distributed

    def forward(self, message_embedding: torch.Tensor, receiver_vectors: torch.Tensor) -> LossOutput:
        """message_embedding (B, H), receiver_vectors (B, H): row i of both belongs to target i."""
        batch = message_embedding.shape[0]
        candidates, offset = receiver_vectors, 0
        if self.gather_distributed:
            candidates, offset = gather_negatives(receiver_vectors), rank() * batch
        scores = cosine_scores(message_embedding, candidates, self.temperature)
        targets = torch.arange(batch, device=scores.device) + offset
        loss = F.cross_entropy(scores, targets)
        accuracy = (scores.argmax(dim=1) == targets).float().mean()
        return LossOutput(loss, accuracy.detach())
