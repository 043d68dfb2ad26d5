"""The global batch and learning rate of a run, from its config and the number of processes.

The paper: 16 GPUs × 128 images = global batch 2048, lr = 0.3 × 2048 / 256 = 2.4. On fewer GPUs
the run config chooses (docs/full-scale.md):

- ``optim.global_batch: 0`` (the default): keep the per-GPU batch (the game's 128 candidates) and
  scale the lr to the smaller global batch (8 GPUs: 1024, lr 1.2).
- ``optim.global_batch: 2048``: keep the paper's global batch and lr by gradient accumulation
  (8 GPUs: 2 micro-batches per step). What still differs: SyncBatchNorm normalises over one
  micro-batch of all ranks (1024 images on 8 GPUs, not 2048), and each micro-batch is a separate
  forward pass (the candidates are per GPU either way, as in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass

from emcom.config import ConfigError, OptimConfig
from emcom.training.optim import scaled_lr


@dataclass(frozen=True)
class BatchPlan:
    per_process_batch: int  # one forward pass on one rank: the game's candidates
    world_size: int
    accumulation_steps: int  # micro-batches per optimizer step
    global_batch: int  # images per optimizer step over all ranks
    lr: float  # base_lr × global_batch / 256

    def describe(self) -> str:
        accumulation = f" × {self.accumulation_steps} accumulated" if self.accumulation_steps > 1 else ""
        return (f"{self.world_size} process(es) × batch {self.per_process_batch}{accumulation} = "
                f"global batch {self.global_batch}, lr {self.lr:.4g}")


def batch_plan(optim: OptimConfig, world_size: int) -> BatchPlan:
    """Resolve ``optim.global_batch`` (0: per-process batch × world size) into accumulation and lr."""
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    micro = optim.batch_size * world_size
    target = optim.global_batch or micro
    if target % micro:
        raise ConfigError(f"optim.global_batch={optim.global_batch} is not a multiple of optim.batch_size "
                          f"{optim.batch_size} × {world_size} process(es) = {micro}; set it to a multiple, "
                          "or to 0 to keep the per-process batch and scale the lr")
    return BatchPlan(optim.batch_size, world_size, target // micro, target, scaled_lr(optim.base_lr, target))
