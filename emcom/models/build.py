"""Build the model a :class:`emcom.config.ModelConfig` describes (nothing else is needed)."""

from __future__ import annotations

from torch import nn

from emcom.config import ModelConfig
from emcom.models.backbones import build_backbone
from emcom.models.game import ReferentialGame
from emcom.models.simclr import SimCLR


def build_model(config: ModelConfig) -> nn.Module:
    """A :class:`ReferentialGame` (kind "game") or a :class:`SimCLR` (kind "simclr"), from scratch."""
    config.validate()
    sender_cnn, feature_dim = build_backbone(config.backbone, config.low_resolution_stem)
    if config.kind == "simclr":
        return SimCLR(sender_cnn, feature_dim, config.hidden_size)
    receiver_cnn = sender_cnn if config.shared else build_backbone(config.backbone, config.low_resolution_stem)[0]
    return ReferentialGame(sender_cnn, receiver_cnn, feature_dim, config.vocab_size, config.hidden_size,
                           config.gumbel_temperature)
