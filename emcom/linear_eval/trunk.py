"""The frozen trunk whose features Table 3 evaluates, and VISSL's res5 pooling rule.

The trunk is the Sender's CNN for a game (the paper evaluates the Sender, §4.3), the CNN for
SimCLR, or a randomly initialised CNN of the same architecture (the floor). It runs in eval mode
(BatchNorm running statistics) with gradients off, so training a head on it can change nothing.

Pooling (SPEC.md, Linear evaluation). VISSL's ``res5`` feature is AvgPool2d(6, stride 1) on the
7×7 res5 map of a 224 px ResNet-50: a 2×2 grid of overlapping windows, 2048×2×2 = 8192-d. The rule
used for every backbone and input size: on an s×s res5 map, AvgPool2d(s − 1, stride 1), which
always gives a 2×2 grid, so the feature has 4·C dimensions (C = the trunk's channels); an s = 1 map
is kept as is (C-d). ResNet-50 at 224 px: s = 7, 8192-d. The embedded default's small_resnet at
32 px (low-resolution stem, three stride-2 stages): s = 4, AvgPool2d(3, stride 1), 128×2×2 = 512-d.
``res5avg`` (VISSL's later global pool) is the global average, C-d (128 for small_resnet).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from emcom.config import ExperimentConfig, load_config
from emcom.models import build_backbone
from emcom.models.backbones import SmallResNet

POOLS = ("res5", "res5avg")
RANDOM_INIT = "random_init"


def res5_map(cnn: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """images (B, 3, S, S) -> the last stage's map (B, C, s, s), before the backbone's own pooling."""
    if isinstance(cnn, SmallResNet):
        return cnn.stages(cnn.stem(images))
    # torchvision ResNet (resnet18/resnet50), possibly with the low-resolution stem swapped in.
    x = cnn.maxpool(cnn.relu(cnn.bn1(cnn.conv1(images))))
    return cnn.layer4(cnn.layer3(cnn.layer2(cnn.layer1(x))))


def pool_res5(feature_map: torch.Tensor, pool: str) -> torch.Tensor:
    """(B, C, s, s) -> (B, C, g, g) with g = 2 (``res5``, s > 1), 1 (``res5avg`` or s = 1)."""
    if pool not in POOLS:
        raise ValueError(f"unknown pool {pool!r}; expected one of {POOLS}")
    side = feature_map.shape[-1]
    if feature_map.shape[-2] != side:
        raise ValueError(f"res5 map must be square, got {tuple(feature_map.shape[-2:])}")
    if pool == "res5avg" or side == 1:
        return feature_map.mean(dim=(2, 3), keepdim=True)
    return F.avg_pool2d(feature_map, kernel_size=side - 1, stride=1)


@dataclass(frozen=True)
class TrunkInfo:
    """Where a trunk came from: model name, source file, architecture and input size."""

    model: str
    source: str  # the model.pt, or the run config whose architecture was randomly initialised
    kind: str  # game | simclr | random_init
    backbone: str
    image_size: int
    channels: int


class FrozenTrunk(nn.Module):
    """A CNN that maps images (B, 3, S, S) to pooled res5 features (B, C, g, g); never trains."""

    def __init__(self, cnn: nn.Module, channels: int, pool: str = "res5"):
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"unknown pool {pool!r}; expected one of {POOLS}")
        self.cnn = cnn
        self.channels = channels
        self.pool = pool
        for parameter in self.cnn.parameters():
            parameter.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "FrozenTrunk":
        # The trunk stays in eval mode whatever its parent asks: BN running stats never update.
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return pool_res5(res5_map(self.cnn, images), self.pool)

    def feature_dim(self, image_size: int) -> int:
        """Flattened feature size for a square input of ``image_size`` px."""
        probe = torch.zeros(1, 3, image_size, image_size)
        return int(self(probe).numel())


def load_trunk(model_path: str | Path, pool: str = "res5", random_init_seed: int | None = None,
               model_name: str | None = None) -> tuple[FrozenTrunk, TrunkInfo]:
    """Build the frozen trunk of ``model_path``.

    ``model_path``: a ``model.pt`` (game -> Sender CNN, simclr -> its CNN) or, with
    ``random_init_seed`` set, a run config YAML or model.pt whose architecture is built from scratch
    with that seed (no trained weights are read).
    """
    path = Path(model_path)
    if random_init_seed is not None:
        if path.suffix in (".yaml", ".yml"):
            config = load_config(path)
        else:
            from emcom.checkpoint import read_model_file
            config = ExperimentConfig.from_dict(read_model_file(path)["config"], source=f"{path}:config")
        torch.manual_seed(random_init_seed)
        cnn, channels = build_backbone(config.model.backbone, config.model.low_resolution_stem)
        kind, name = RANDOM_INIT, model_name or RANDOM_INIT
    else:
        from emcom.checkpoint import load_model
        model, config = load_model(path)
        cnn = model.sender.cnn if config.model.kind == "game" else model.cnn
        channels = _channels(cnn)
        kind, name = config.model.kind, model_name or path.parent.name
    info = TrunkInfo(model=name, source=str(path), kind=kind, backbone=config.model.backbone,
                     image_size=config.data.image_size, channels=channels)
    return FrozenTrunk(cnn, channels, pool), info


def _channels(cnn: nn.Module) -> int:
    if isinstance(cnn, SmallResNet):
        return cnn.feature_dim
    return cnn.layer4[-1].conv3.out_channels if hasattr(cnn.layer4[-1], "conv3") else cnn.layer4[-1].conv2.out_channels
