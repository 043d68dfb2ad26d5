"""The SimCLR baseline: one CNN and one head shared by both views (SPEC.md, SimCLR baseline).

Layers, named as in the paper's Fig. 2: h = CNN output (F), s = the head's hidden post-ReLU layer
(H), z = the head's output (H), on which NT-Xent is computed.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from emcom.models.heads import projection_mlp


class SimCLRLayers(NamedTuple):
    h: torch.Tensor  # (B, F)
    s: torch.Tensor  # (B, H)
    z: torch.Tensor  # (B, H)


class SimCLROutput(NamedTuple):
    z_a: torch.Tensor  # (B, H) first view
    z_b: torch.Tensor  # (B, H) second view


class SimCLR(nn.Module):
    def __init__(self, cnn: nn.Module, feature_dim: int, hidden_size: int):
        super().__init__()
        self.cnn = cnn
        self.head = projection_mlp(feature_dim, hidden_size, hidden_size)

    def layers(self, images: torch.Tensor) -> SimCLRLayers:
        """images (B, 3, S, S) -> h, s, z."""
        h = self.cnn(images)
        s = self.head[:3](h)
        return SimCLRLayers(h, s, self.head[3](s))

    def z_from_s(self, s: torch.Tensor) -> torch.Tensor:
        """Map an s-layer vector (B, H), e.g. a one-hot symbol for SimCLR_disc, to z (B, H)."""
        return self.head[3](s)

    def forward(self, images_a: torch.Tensor, images_b: torch.Tensor) -> SimCLROutput:
        return SimCLROutput(self.layers(images_a).z, self.layers(images_b).z)
