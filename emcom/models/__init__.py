"""Networks: backbones, the referential game's agents, SimCLR."""

from emcom.models.backbones import SmallResNet, build_backbone
from emcom.models.build import build_model
from emcom.models.game import GameOutput, Receiver, ReferentialGame, Sender, send
from emcom.models.simclr import SimCLR, SimCLRLayers, SimCLROutput

__all__ = [
    "GameOutput", "ReferentialGame", "Receiver", "Sender", "SimCLR", "SimCLRLayers", "SimCLROutput",
    "SmallResNet", "build_backbone", "build_model", "send",
]
