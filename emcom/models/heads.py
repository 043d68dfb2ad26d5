"""The small heads on top of the CNNs (SPEC.md, Agents)."""

from __future__ import annotations

from torch import nn


def projection_mlp(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    """Linear -> BatchNorm1d -> ReLU -> Linear(no bias): the Receiver's and SimCLR's head.

    Shape: (B, in_dim) -> (B, out_dim). Index 2's output (post-ReLU) is SimCLR's ``s`` layer.
    """
    return nn.Sequential(
        nn.Linear(in_dim, hidden_dim),
        nn.BatchNorm1d(hidden_dim),
        nn.ReLU(inplace=True),
        nn.Linear(hidden_dim, out_dim, bias=False),
    )
