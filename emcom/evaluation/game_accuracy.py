"""Play the referential game with a frozen model on a test set (SPEC.md, Evaluation).

Batches of ``batch_size`` images are drawn in a seeded random order with drop_last; in each batch
every image is once the target and the batch is the candidate set (chance = 1 / batch_size).
Sender and Receiver see the same un-augmented tensor, except on an augmented test set (the paper's
Appendix A.4), whose items carry a Sender view and a Receiver view of each image. The model runs
in eval mode (BatchNorm running statistics), so what an image sends never depends on the other
images of its batch.

Two protocols:

- **game** (a :class:`ReferentialGame`): the Sender sends the exact one-hot of argmax(v); the
  Receiver ranks the candidates by cosine(embedded symbol, candidate vector).
- **simclr_disc** (a :class:`SimCLR`, SPEC.md "SimCLR baseline"): the Sender view's s layer is
  replaced by the one-hot of argmax(s) and passed through the head's last Linear; the Receiver side
  (the Receiver view) keeps its continuous z; candidates are ranked by cosine. ``symbols_h`` (argmax
  of the Sender view's h) is recorded too: Table 2 analyses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm import tqdm

from emcom.losses import cosine_scores
from emcom.models import ReferentialGame, SimCLR

PROTOCOLS = {ReferentialGame: "game", SimCLR: "simclr_disc"}


class RoundVectors(NamedTuple):
    """What each of B targets sends and how each of the same B images looks as a candidate."""

    symbols: torch.Tensor  # (B,) int64: the symbol sent
    messages: torch.Tensor  # (B, H) the vector the Receiver compares with the candidates
    candidates: torch.Tensor  # (B, H) each image as a candidate (Receiver side)
    symbols_h: Optional[torch.Tensor]  # (B,) argmax of SimCLR's h; None for a game


@dataclass
class GamePlay:
    accuracy: float  # fraction of targets the Receiver ranked first
    batches: int
    symbols: np.ndarray  # (N,) the symbol sent for each target, in play order
    labels: np.ndarray  # (N,) the target's label as the dataset gives it
    correct: np.ndarray  # (N,) bool
    indices: Optional[np.ndarray] = None  # (N,) dataset index of each target, in play order
    symbols_h: Optional[np.ndarray] = None  # (N,) simclr_disc only: argmax of h
    protocol: str = "game"


def protocol_of(model: nn.Module) -> str:
    """``"game"`` or ``"simclr_disc"``; any other module raises TypeError."""
    for kind, name in PROTOCOLS.items():
        if isinstance(model, kind):
            return name
    raise TypeError(f"cannot play the game with a {type(model).__name__}; expected ReferentialGame or SimCLR")


def simclr_disc_message(model: SimCLR, s: torch.Tensor) -> torch.Tensor:
    """SimCLR_disc's message: one-hot of argmax(s) (B, H) through the head's last Linear -> (B, H)."""
    one_hot = F.one_hot(s.argmax(dim=1), s.shape[1]).to(s.dtype)
    return model.z_from_s(one_hot)


def round_vectors(model: nn.Module, sender_images: torch.Tensor,
                  receiver_images: Optional[torch.Tensor] = None) -> RoundVectors:
    """Per-item symbols and vectors of one round. Call under no_grad with the model in eval mode.

    sender_images (B, 3, S, S): the Sender's view of each target; receiver_images (B, 3, S, S): the
    Receiver's view of the same images, row i = target i (None: the same tensor as the Sender's).
    Symbols and messages come from the Sender view, candidates from the Receiver view.
    """
    if receiver_images is None:
        receiver_images = sender_images
    if isinstance(model, ReferentialGame):
        out = model(sender_images, receiver_images)
        return RoundVectors(out.logits.argmax(dim=1), out.message_embedding, out.receiver_vectors, None)
    if isinstance(model, SimCLR):
        sender = model.layers(sender_images)
        # one forward when both agents see the same tensor (the plain test sets): eval mode makes a
        # second pass identical, so it would only cost time
        receiver = sender if receiver_images is sender_images else model.layers(receiver_images)
        return RoundVectors(sender.s.argmax(dim=1), simclr_disc_message(model, sender.s), receiver.z,
                            sender.h.argmax(dim=1))
    raise TypeError(f"cannot play the game with a {type(model).__name__}")


def play_order(length: int, seed: int) -> np.ndarray:
    """The seeded random order of the items: a permutation of range(length) from torch's generator."""
    return torch.randperm(length, generator=torch.Generator().manual_seed(seed)).numpy()


@torch.no_grad()
def play_game(model: nn.Module, dataset: Dataset, batch_size: int = 128, seed: int = 0,
              num_workers: int = 0, device: str | torch.device = "cpu", progress: bool = False) -> GamePlay:
    """Play every full batch of a seeded random order of ``dataset``: items (image (3, S, S), label),
    or ((Sender view, Receiver view), label) with each view (3, S, S).

    The model is put in eval mode for the play and given back in the mode it came in.
    """
    if len(dataset) < batch_size:
        raise ValueError(f"test set of {len(dataset)} images is smaller than one batch of {batch_size}")
    protocol = protocol_of(model)
    order = play_order(len(dataset), seed)
    loader = DataLoader(Subset(dataset, order.tolist()), batch_size=batch_size, shuffle=False, drop_last=True,
                        num_workers=num_workers)
    was_training = model.training
    model = model.to(device).eval()
    symbols, symbols_h, labels, correct = [], [], [], []
    try:
        for images, targets in tqdm(loader, desc=f"{protocol} play", disable=not progress, mininterval=10):
            if isinstance(images, torch.Tensor):  # a plain test set: both agents see this one tensor
                sender = receiver = images.to(device, non_blocking=True)
            else:  # an augmented test set: [Sender views (B, 3, S, S), Receiver views (B, 3, S, S)]
                sender, receiver = (view.to(device, non_blocking=True) for view in images)
            vectors = round_vectors(model, sender, receiver)
            # the cosine temperature does not change which candidate ranks first; row i = target i
            scores = cosine_scores(vectors.messages, vectors.candidates, temperature=1.0)
            correct.append((scores.argmax(dim=1) == torch.arange(len(sender), device=device)).cpu())
            symbols.append(vectors.symbols.cpu())
            if vectors.symbols_h is not None:
                symbols_h.append(vectors.symbols_h.cpu())
            labels.append(torch.as_tensor(targets))
    finally:
        model.train(was_training)
    correct_all = torch.cat(correct).numpy()
    played = len(correct_all)
    return GamePlay(float(correct_all.mean()), len(correct), torch.cat(symbols).numpy(), torch.cat(labels).numpy(),
                    correct_all, order[:played], torch.cat(symbols_h).numpy() if symbols_h else None, protocol)
