"""Code run inside each spawned rank of tests/test_distributed.py (must be importable by the children)."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import torch

from emcom.config import ExperimentConfig
from emcom.distributed import cleanup, gather_negatives, gather_with_grad, init_distributed
from emcom.losses import GameLoss, NTXentLoss, game_loss, ntxent_loss
from emcom.training.trainer import run_training


def _join(rank: int, world: int, port: int):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    return init_distributed("cpu")


def train_rank(rank: int, world: int, port: int, config: dict, out_dir: str) -> None:
    """Train on this rank's shard; every rank saves its own final weights for comparison."""
    ctx = _join(rank, world, port)
    try:
        model = run_training(ExperimentConfig.from_dict(config), Path(out_dir), ctx)
        torch.save(model.state_dict(), Path(out_dir) / f"rank{rank}.pt")
    finally:
        cleanup()


def gathered_losses(rank: int, world: int, port: int, out_dir: str) -> None:
    """Each rank holds its slice of the same global tensors and computes the gathered losses, with the
    authors' gather (remote candidates without gradient) and with ``gather_with_grad`` for comparison."""
    ctx = _join(rank, world, port)
    try:
        generator = torch.Generator().manual_seed(0)
        full = {name: torch.randn(world * 4, 6, generator=generator) for name in ("queries", "keys")}
        results, with_grad = {}, {}
        for name, module, loss in (("game", game_loss, GameLoss(0.1, gather_distributed=True)),
                                   ("ntxent", ntxent_loss, NTXentLoss(0.1, gather_distributed=True))):
            for store, gather in ((results, module.gather_negatives), (with_grad, gather_with_grad)):
                local = {k: v[rank * 4:(rank + 1) * 4].clone().requires_grad_(True) for k, v in full.items()}
                with mock.patch.object(module, "gather_negatives", gather):
                    value = loss(local["queries"], local["keys"]).loss
                value.backward()
                store[name] = {"loss": value.detach(), **{k: v.grad for k, v in local.items()}}
        # the gather alone: y = gather(x); d(sum(y * w))/dx is w's own rows, or every rank's w summed
        weights = torch.arange(world * 4 * 6, dtype=torch.float32).view(world * 4, 6) + rank * 1000
        gather_grads = {}
        for name, gather in (("negatives", gather_negatives), ("with_grad", gather_with_grad)):
            x = full["keys"][rank * 4:(rank + 1) * 4].clone().requires_grad_(True)
            (gather(x) * weights).sum().backward()
            gather_grads[name] = x.grad
        torch.save({"full": full, "results": results, "with_grad": with_grad, "weights": weights,
                    "gather_grads": gather_grads}, Path(out_dir) / f"losses{rank}.pt")
    finally:
        assert ctx.world_size == world
        cleanup()
