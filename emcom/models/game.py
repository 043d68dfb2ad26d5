"""The referential game: a Sender names the target with one symbol, a Receiver finds it.

Sender: CNN -> Linear(F, V) -> BatchNorm1d(V) = symbol logits v. Training sends the relaxed
Gumbel-Softmax sample softmax((v + g) / τ) (τ = 5, not straight-through); evaluation sends the exact
one-hot of argmax(v). The symbol is embedded by Linear(V, H, no bias). The Receiver maps each
candidate image through its own CNN and an MLP to (H); message and images meet only in the
cosine score computed by :class:`emcom.losses.GameLoss`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from emcom.models.heads import projection_mlp


class GameOutput(NamedTuple):
    """One game round for a batch of B targets (the candidates are the same B images)."""

    message_embedding: torch.Tensor  # (B, H) the embedded symbols
    receiver_vectors: torch.Tensor  # (B, H) the Receiver's vector of each candidate image
    logits: torch.Tensor  # (B, V) the Sender's symbol logits v
    message: torch.Tensor  # (B, V) relaxed sample (training) or exact one-hot (evaluation)


def send(logits: torch.Tensor, temperature: float, training: bool) -> torch.Tensor:
    """Turn symbol logits (B, V) into messages (B, V).

    Training: relaxed Gumbel-Softmax sample (rows sum to 1, computed in float32 for stability under
    autocast). Evaluation: one-hot of argmax(logits), no noise.
    """
    if training:
        return F.gumbel_softmax(logits.float(), tau=temperature, hard=False)
    return F.one_hot(logits.argmax(dim=-1), logits.shape[-1]).to(logits.dtype)


class Sender(nn.Module):
    """CNN + Linear + BatchNorm1d: images (B, 3, S, S) -> symbol logits (B, V)."""

    def __init__(self, cnn: nn.Module, feature_dim: int, vocab_size: int):
        super().__init__()
        self.cnn = cnn
        self.head = nn.Sequential(nn.Linear(feature_dim, vocab_size), nn.BatchNorm1d(vocab_size))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.cnn(images))


class Receiver(nn.Module):
    """CNN + MLP: candidate images (N, 3, S, S) -> vectors (N, H). It never sees the message."""

    def __init__(self, cnn: nn.Module, feature_dim: int, hidden_size: int):
        super().__init__()
        self.cnn = cnn
        self.head = projection_mlp(feature_dim, hidden_size, hidden_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.cnn(images))


class ReferentialGame(nn.Module):
    """Sender, symbol embedding and Receiver. With a shared CNN, ``sender.cnn is receiver.cnn``.

    The shared CNN is called separately on each agent's view, so BatchNorm statistics are per view
    batch (as in the authors' code).
    """

    def __init__(self, sender_cnn: nn.Module, receiver_cnn: nn.Module, feature_dim: int,
                 vocab_size: int, hidden_size: int, gumbel_temperature: float):
        super().__init__()
        self.sender = Sender(sender_cnn, feature_dim, vocab_size)
        self.symbol_embedding = nn.Linear(vocab_size, hidden_size, bias=False)
        self.receiver = Receiver(receiver_cnn, feature_dim, hidden_size)
        self.gumbel_temperature = gumbel_temperature

    @property
    def shared(self) -> bool:
        return self.sender.cnn is self.receiver.cnn

    def forward(self, sender_images: torch.Tensor, receiver_images: torch.Tensor) -> GameOutput:
        """sender_images (B, 3, S, S): the targets; receiver_images (B, 3, S, S): the candidates,
        row i being the Receiver's view of target i."""
        logits = self.sender(sender_images)
        message = send(logits, self.gumbel_temperature, self.training)
        message_embedding = self.symbol_embedding(message.to(self.symbol_embedding.weight.dtype))
        return GameOutput(message_embedding, self.receiver(receiver_images), logits, message)
