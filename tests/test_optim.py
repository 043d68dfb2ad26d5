"""LARS, its parameter groups and the cosine schedule, checked against SPEC.md's numbers and by hand.

Each test here exists because a plausible bug survived the rest of the suite (issue #13): weight
decay on BN/biases, LARS not adapting 1-D parameters, the schedule shifted by one epoch.
"""

import math

import pytest
import torch
from torch import nn

from emcom.config import ExperimentConfig
from emcom.models import build_model
from emcom.training.optim import build_lars, build_scheduler, cosine_schedule, parameter_groups, scaled_lr


def small_game(shared: bool = False) -> nn.Module:
    config = ExperimentConfig.from_dict({"model": {"backbone": "small_resnet", "low_resolution_stem": True,
                                                   "vocab_size": 16, "hidden_size": 8, "shared": shared}})
    return build_model(config.model)


def test_paper_defaults_reach_the_optimiser():
    """SPEC.md: momentum 0.9, wd 1e-5, trust 1e-3, eps 1e-8, no clipping, every parameter adapted."""
    optim = ExperimentConfig.from_dict({}).optim
    assert (optim.momentum, optim.weight_decay, optim.trust_coefficient, optim.warmup_epochs) == (0.9, 1e-5, 1e-3, 0)
    lars = build_lars(small_game(), lr=2.4, momentum=optim.momentum, weight_decay=optim.weight_decay,
                      trust_coefficient=optim.trust_coefficient)
    for group in lars.param_groups:
        assert group["lr"] == 2.4 and group["momentum"] == 0.9
        assert group["trust_coeff"] == 1e-3 and group["eps"] == 1e-8
        assert group["trust_clip"] is False  # "scaling mode, no clipping"
        assert group["always_adapt"] is True  # apex LARC adapts BN and biases too
        assert group["dampening"] == 0 and group["nesterov"] is False
    assert scaled_lr(optim.base_lr, 16 * 128) == pytest.approx(2.4)


@pytest.mark.parametrize("shared", [False, True])
def test_weight_decay_only_on_parameters_with_two_or_more_dimensions(shared):
    model = small_game(shared)
    groups = parameter_groups(model, weight_decay=1e-5)
    decayed = [p for g in groups if g["weight_decay"] > 0 for p in g["params"]]
    plain = [p for g in groups if g["weight_decay"] == 0 for p in g["params"]]
    assert all(g["weight_decay"] in (0.0, 1e-5) for g in groups)
    assert decayed and all(p.ndim >= 2 for p in decayed)
    assert plain and all(p.ndim < 2 for p in plain)
    # every parameter once (the shared CNN's too), nothing left out
    ids = [id(p) for p in decayed + plain]
    assert len(ids) == len(set(ids)) == len({id(p) for p in model.parameters()})
    # BN weights/biases and Linear biases are the 1-D ones
    bn = model.sender.head[1]
    assert any(p is bn.weight for p in plain) and any(p is model.sender.head[0].bias for p in plain)


def test_one_lars_step_equals_the_hand_computed_update():
    """Momentum's first step is the adapted gradient: Δp = -lr · η‖p‖/(‖g‖ + wd‖p‖ + eps) · (g + wd·p)
    for EVERY parameter (always_adapt), with wd = 0 on 1-D parameters and no clipping."""
    torch.manual_seed(0)
    layer = nn.Linear(5, 3).double()
    lr, trust, wd = 0.01, 0.5, 0.01  # large enough that clipping (ratio / lr > 1) would change the step
    lars = build_lars(layer, lr=lr, momentum=0.9, weight_decay=wd, trust_coefficient=trust)
    before = {name: p.detach().clone() for name, p in layer.named_parameters()}
    layer(torch.randn(7, 5, dtype=torch.float64)).pow(2).mean().backward()
    grads = {name: p.grad.detach().clone() for name, p in layer.named_parameters()}
    lars.step()
    for name, p in layer.named_parameters():
        w, g = before[name], grads[name]
        decay = wd if p.ndim >= 2 else 0.0
        ratio = trust * w.norm() / (g.norm() + decay * w.norm() + 1e-8)
        assert ratio / lr > 1  # the test would not see clipping otherwise
        expected = w - lr * ratio * (g + decay * w)
        assert torch.allclose(p.detach(), expected, rtol=1e-10, atol=1e-12), name


def test_momentum_carries_the_previous_adapted_step():
    torch.manual_seed(1)
    p = nn.Parameter(torch.randn(4, 3, dtype=torch.float64))
    module = nn.Module()
    module.register_parameter("w", p)
    lr, trust = 0.1, 0.5
    lars = build_lars(module, lr=lr, momentum=0.9, weight_decay=0.0, trust_coefficient=trust)
    buffer = None
    for step in range(3):
        lars.zero_grad()
        (p * torch.arange(12.0, dtype=torch.float64).view(4, 3)).sum().mul(step + 1).backward()
        w, g = p.detach().clone(), p.grad.detach().clone()
        adapted = trust * w.norm() / (g.norm() + 1e-8) * g
        buffer = adapted if buffer is None else 0.9 * buffer + adapted
        lars.step()
        assert torch.allclose(p.detach(), w - lr * buffer, rtol=1e-10, atol=1e-12), step


def test_scaled_lr_is_linear_in_the_global_batch():
    assert scaled_lr(0.3, 256) == pytest.approx(0.3)
    assert scaled_lr(0.3, 2048) == pytest.approx(2.4)
    assert scaled_lr(0.5, 64) == pytest.approx(0.125)


def closed_form(epoch: int, epochs: int, warmup: int = 0) -> float:
    """SPEC.md: linear warm-up, then cosine decay to 0 over the remaining epochs, per epoch."""
    if epoch < warmup:
        return (epoch + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (epoch - warmup) / (epochs - warmup)))


@pytest.mark.parametrize("epochs,warmup", [(100, 0), (4, 0), (10, 3), (1, 0)])
def test_scheduler_lr_of_each_epoch_is_the_closed_form(epochs, warmup):
    param = nn.Parameter(torch.zeros(2, 2))
    module = nn.Module()
    module.register_parameter("w", param)
    optimizer = build_lars(module, lr=2.4, momentum=0.9, weight_decay=1e-5, trust_coefficient=1e-3)
    scheduler = build_scheduler(optimizer, epochs, warmup)
    seen = []
    for _epoch in range(epochs):  # the trainer's order: train the epoch at the current lr, then step
        seen.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    for epoch, lrs in enumerate(seen):
        assert lrs == pytest.approx([2.4 * closed_form(epoch, epochs, warmup)] * len(lrs)), epoch
    if warmup == 0:
        assert seen[0][0] == 2.4  # the first epoch runs at the full lr: no warm-up, no shift


def test_cosine_schedule_endpoints():
    factor = cosine_schedule(10)
    assert factor(0) == 1.0 and factor(5) == pytest.approx(0.5) and factor(10) == pytest.approx(0.0)
    assert factor(9) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.9)))
    warm = cosine_schedule(10, warmup_epochs=2)
    assert [warm(0), warm(1), warm(2)] == pytest.approx([0.5, 1.0, 1.0])
