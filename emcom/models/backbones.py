"""Vision modules: torchvision ResNets (the paper's ResNet-50) and a small ResNet for CPU runs.

Every backbone maps images (B, 3, S, S) to pooled features (B, F) and is built from scratch:
no pretrained weights are ever loaded.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet18, resnet50
from torchvision.models.resnet import BasicBlock

SMALL_RESNET_WIDTHS = (16, 32, 64, 128)


def _low_resolution_stem(model: nn.Module, width: int) -> None:
    """Swap the 7x7/2 conv + max-pool stem for a 3x3/1 conv (CIFAR-style) so 32 px inputs keep detail."""
    model.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()


class SmallResNet(nn.Module):
    """A 4-stage ResNet of torchvision BasicBlocks, widths 16/32/64/128 by default (F = 128).

    Built for 32 px images on a 2-core CPU; with ``low_resolution_stem`` the stem is a 3x3/1
    conv, otherwise the ImageNet 7x7/2 conv + max-pool.
    """

    def __init__(self, widths: tuple[int, ...] = SMALL_RESNET_WIDTHS, blocks_per_stage: int = 1,
                 low_resolution_stem: bool = True):
        super().__init__()
        stem_width = widths[0]
        if low_resolution_stem:
            self.stem = nn.Sequential(
                nn.Conv2d(3, stem_width, 3, stride=1, padding=1, bias=False),
                nn.BatchNorm2d(stem_width),
                nn.ReLU(inplace=True),
            )
        else:
            self.stem = nn.Sequential(
                nn.Conv2d(3, stem_width, 7, stride=2, padding=3, bias=False),
                nn.BatchNorm2d(stem_width),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, stride=2, padding=1),
            )
        stages, in_width = [], stem_width
        for index, width in enumerate(widths):
            stride = 1 if index == 0 else 2
            blocks = []
            for block_index in range(blocks_per_stage):
                downsample = None
                if block_index == 0 and (stride != 1 or in_width != width):
                    downsample = nn.Sequential(
                        nn.Conv2d(in_width, width, 1, stride=stride, bias=False), nn.BatchNorm2d(width)
                    )
                blocks.append(BasicBlock(in_width, width, stride if block_index == 0 else 1, downsample))
                in_width = width
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = in_width
        for module in self.modules():  # torchvision's ResNet initialisation
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, S, S) -> features (B, F)."""
        return torch.flatten(self.pool(self.stages(self.stem(images))), 1)


def build_backbone(name: str, low_resolution_stem: bool = False) -> tuple[nn.Module, int]:
    """Return (module mapping (B, 3, S, S) -> (B, F), F). ``fc`` of torchvision ResNets is removed."""
    if name == "small_resnet":
        model = SmallResNet(low_resolution_stem=low_resolution_stem)
        return model, model.feature_dim
    if name in ("resnet50", "resnet18"):
        model = (resnet50 if name == "resnet50" else resnet18)(weights=None)
        feature_dim = model.fc.in_features
        model.fc = nn.Identity()
        if low_resolution_stem:
            _low_resolution_stem(model, model.conv1.out_channels)
        return model, feature_dim
    raise ValueError(f"unknown backbone {name!r}; expected resnet50, resnet18 or small_resnet")
