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

Under a ``torch.amp.GradScaler`` (fp16) the scaler would otherwise read its ``found_inf`` back to the
host before every step, to decide in Python whether to call ``step()``: the host then waits for the
backward, and the device idles while the host queues the step and the next batch. ``FusedLars``
declares ``_step_supports_amp_scaling``: the scaler hands it ``grad_scale`` and ``found_inf`` as device
tensors instead, the gradients are unscaled with one multi-tensor multiply, and the momentum and
weight update run in ``torch._fused_sgd_``, which leaves parameters and buffers untouched where
``found_inf`` is set (the LARS direction ``d`` above is its gradient: no weight decay or scaling left
for it to apply). One difference from timm, only with dampening ≠ 0: when the very first step is
skipped, the next one starts from zeroed buffers (``buf = (1 − dampening) · d`` instead of ``d``).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.optim import Optimizer


class FusedLars(Optimizer):
    """Drop-in for ``timm.optim.Lars`` (same arguments and defaults, ``foreach`` accepted and ignored)."""

    # GradScaler sets ``self.grad_scale`` / ``self.found_inf`` (device tensors) around ``step()`` instead
    # of reading found_inf on the host and skipping the call (torch.amp.GradScaler.step).
    _step_supports_amp_scaling = True

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
        found_inf = getattr(self, "found_inf", None)  # set by a GradScaler for this call only
        grad_scale = getattr(self, "grad_scale", None)  # None when the scaler has unscaled already
        for group in self.param_groups:
            # Collecting the tensors is attribute look-ups only; every kernel below is multi-tensor.
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            if found_inf is None:
                self._update_group(group, params)
            else:
                self._update_group_or_skip(group, params, grad_scale, found_inf)
        return loss

    def _directions(self, group: dict, params: list[Tensor]) -> list[Tensor]:
        """The LARS direction d of each parameter: r · (g + wd · p), or g itself when nothing adapts."""
        grads = [p.grad for p in params]
        if group["weight_decay"] != 0 or group["always_adapt"]:
            ratios = self._trust_ratios(params, grads, group)
            # d = r · (g + wd · p) in new tensors: p.grad stays as the backward left it
            grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
            torch._foreach_mul_(grads, ratios)
        return grads

    def _update_group(self, group: dict, params: list[Tensor]) -> None:
        grads = self._directions(group, params)
        lr, momentum = group["lr"], group["momentum"]
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

    def _update_group_or_skip(self, group: dict, params: list[Tensor], grad_scale: Tensor | None,
                              found_inf: Tensor) -> None:
        """The same update from gradients still multiplied by ``grad_scale`` (a () tensor, or None when
        already unscaled), applied only where ``found_inf`` (a () float tensor, 0 or 1) is 0: decided on
        the device, so the host never waits for it."""
        if grad_scale is not None:  # GradScaler.unscale_'s arithmetic: g · float32(1 / float64(scale))
            torch._foreach_mul_([p.grad for p in params], grad_scale.double().reciprocal().float())
        directions = self._directions(group, params)
        if group["momentum"] == 0:
            self._fused(group, params, directions, [], False, found_inf)
            return
        states = [self.state[p] for p in params]
        missing = [state.get("momentum_buffer") is None for state in states]
        # all missing on the first step; both kinds when a parameter's first gradient arrives late
        for first in (True, False):
            part = [i for i, m in enumerate(missing) if m == first]
            if not part:
                continue
            if first:  # zeros, not empty_like as torch's SGD: a skipped first step leaves them, read at the next
                for i in part:
                    states[i]["momentum_buffer"] = torch.zeros_like(directions[i])
            self._fused(group, [params[i] for i in part], [directions[i] for i in part],
                        [states[i]["momentum_buffer"] for i in part], first, found_inf)

    @staticmethod
    def _fused(group: dict, params: list[Tensor], directions: list[Tensor], buffers: list[Tensor],
               first: bool, found_inf: Tensor) -> None:
        """buf = d (first) or momentum · buf + (1 − dampening) · d; p −= lr · (buf, or d + momentum · buf
        with nesterov); nothing where found_inf. One call per (device, dtype), as the kernel requires."""
        kinds: dict[tuple, list[int]] = {}
        for i, p in enumerate(params):
            kinds.setdefault((p.device, p.dtype), []).append(i)
        for (device, _dtype), indices in kinds.items():
            torch._fused_sgd_(
                [params[i] for i in indices], [directions[i] for i in indices],
                [buffers[i] for i in indices] if buffers else [],
                weight_decay=0.0, momentum=group["momentum"], lr=group["lr"], dampening=group["dampening"],
                nesterov=group["nesterov"], maximize=False, is_first_step=first, grad_scale=None,
                found_inf=found_inf.to(device, non_blocking=True))

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
