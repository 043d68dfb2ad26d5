"""LARS as a handful of multi-tensor kernels per parameter group (same update as ``timm.optim.Lars``).

timm's ``Lars`` on CPU (and anywhere ``foreach`` is off) runs ~10 small kernels per parameter from
a Python loop; a ResNet-50 game has ~320 parameter tensors, so the optimiser step is thousands of
launches. :class:`FusedLars` computes every norm with one ``torch._foreach_norm``, every trust ratio
with one vectorised expression over the stacked norms, and the decay, scaling, momentum and update
with ``torch._foreach_*`` ops: a fixed number of launches per group, and no host synchronisation
(no ``.item()``, no data-dependent Python branch).

The update (apex LARC semantics, timm's ``Lars``), per parameter ``p`` with gradient ``g``::

    r   = trust_coeff · ‖p‖ / (‖g‖ + weight_decay · ‖p‖ + eps)   (1 where ‖p‖ = 0 or ‖g‖ = 0)
    r   = min(r / lr, 1)                                         (only with trust_clip)
    d   = r · (g + weight_decay · p)                             (when weight_decay ≠ 0 or always_adapt)
    buf = d on the first step, else momentum · buf + (1 − dampening) · d
    p  -= lr · (d + momentum · buf if nesterov else buf)

State, ``param_groups`` keys and ``state_dict`` are timm's (``momentum_buffer`` per parameter), so a
checkpoint written with either implementation resumes with the other.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.optim import Optimizer


class FusedLars(Optimizer):
    """Drop-in for ``timm.optim.Lars`` (same arguments and defaults, ``foreach`` accepted and ignored)."""

    def __init__(self, params, lr: float = 1.0, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, trust_coeff: float = 0.001,
                 eps: float = 1e-8, trust_clip: bool = False, always_adapt: bool = False, foreach=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, trust_coeff=trust_coeff, eps=eps, trust_clip=trust_clip,
                        always_adapt=always_adapt, foreach=foreach)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            # Collecting the tensors is attribute look-ups only; every kernel below is multi-tensor.
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update_group(group, params)
        return loss

    def _update_group(self, group: dict, params: list[Tensor]) -> None:
        grads = [p.grad for p in params]
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        if weight_decay != 0 or group["always_adapt"]:
            ratios = self._trust_ratios(params, grads, group)
            # d = r · (g + wd · p) in new tensors: p.grad stays as the backward left it
            grads = torch._foreach_add(grads, params, alpha=weight_decay)
            torch._foreach_mul_(grads, ratios)
        if momentum != 0:
            states = [self.state[p] for p in params]
            buffers = [state.get("momentum_buffer") for state in states]
            existing = [i for i, buffer in enumerate(buffers) if buffer is not None]
            if existing:
                complete = len(existing) == len(buffers)  # every step but the first
                old = buffers if complete else [buffers[i] for i in existing]
                torch._foreach_mul_(old, momentum)
                torch._foreach_add_(old, grads if complete else [grads[i] for i in existing],
                                    alpha=1.0 - group["dampening"])
            if len(existing) < len(buffers):  # first step of (some of) these parameters
                for i, state in enumerate(states):
                    if buffers[i] is None:
                        buffers[i] = state["momentum_buffer"] = torch.clone(grads[i]).detach()
            grads = torch._foreach_add(grads, buffers, alpha=momentum) if group["nesterov"] else buffers
        torch._foreach_add_(params, grads, alpha=-lr)

    @staticmethod
    def _trust_ratios(params: list[Tensor], grads: list[Tensor], group: dict) -> list[Tensor]:
        """One 0-d trust ratio per parameter, computed in one vectorised expression per dtype/device."""
        w_norms = torch._foreach_norm(params)
        g_norms = torch._foreach_norm(grads)
        if len({(n.device, n.dtype) for n in w_norms + g_norms}) > 1:  # mixed dtypes/devices: stack per kind
            return [FusedLars._ratio(w, g, group) for w, g in zip(w_norms, g_norms)]
        return list(FusedLars._ratio(torch.stack(w_norms), torch.stack(g_norms), group).unbind(0))

    @staticmethod
    def _ratio(w_norm: Tensor, g_norm: Tensor, group: dict) -> Tensor:
        ratio = group["trust_coeff"] * w_norm / (g_norm + w_norm * group["weight_decay"] + group["eps"])
        ratio = torch.where((w_norm > 0) & (g_norm > 0), ratio, torch.ones_like(ratio))
        if group["trust_clip"]:
            ratio = torch.clamp(ratio / group["lr"], max=1.0)
        return ratio
