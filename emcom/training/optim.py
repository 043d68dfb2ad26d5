"""LARS with linear lr scaling and a per-epoch cosine schedule (SPEC.md, Training)."""

from __future__ import annotations

import math

import torch
from timm.optim import Lars
from torch import nn

from emcom.training.lars import FusedLars

LARS_IMPLEMENTATIONS = {"fused": FusedLars, "timm": Lars}


def scaled_lr(base_lr: float, global_batch: int) -> float:
    """Linear scaling rule: lr = base × global_batch / 256 (0.3 × 2048 / 256 = 2.4 in the paper)."""
    return base_lr * global_batch / 256


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on parameters with ndim ≥ 2 only (conv and linear weights); none on BN or biases."""
    decay, no_decay = [], []
    for parameter in model.parameters():  # shared CNN parameters appear once
        if parameter.requires_grad:
            (decay if parameter.ndim >= 2 else no_decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_lars(model: nn.Module, lr: float, momentum: float, weight_decay: float,
               trust_coefficient: float, impl: str = "fused") -> torch.optim.Optimizer:
    """SGD + momentum wrapped in LARS that adapts EVERY parameter, BN and biases included.

    That is apex LARC's behaviour in the authors' code, i.e. timm's ``always_adapt=True``.
    ``impl``: "fused" (:class:`~emcom.training.lars.FusedLars`, multi-tensor kernels) or "timm"
    (``timm.optim.Lars``, the reference); same update, same param_groups keys and state_dict.
    """
    if impl not in LARS_IMPLEMENTATIONS:
        raise ValueError(f"optim.lars_impl must be one of {sorted(LARS_IMPLEMENTATIONS)}, got {impl!r}")
    return LARS_IMPLEMENTATIONS[impl](parameter_groups(model, weight_decay), lr=lr, momentum=momentum,
                                      trust_coeff=trust_coefficient, eps=1e-8, trust_clip=False,
                                      always_adapt=True)


def cosine_schedule(epochs: int, warmup_epochs: int = 0):
    """lr factor of epoch e: linear warm-up over ``warmup_epochs``, then cosine to 0, no restart."""

    def factor(epoch: int) -> float:
        if epoch < warmup_epochs:
            return (epoch + 1) / warmup_epochs
        progress = (epoch - warmup_epochs) / max(1, epochs - warmup_epochs)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def build_scheduler(optimizer: torch.optim.Optimizer, epochs: int, warmup_epochs: int):
    """A LambdaLR stepped once per epoch (the authors decay per epoch, like CosineAnnealingLR)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_schedule(epochs, warmup_epochs))
