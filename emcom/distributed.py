"""Process-group set-up in one place: torchrun, srun or a single process.

``rank()`` and ``world_size()`` return 0 and 1 when no process group is initialised, so every
caller runs the same code with 1 or N processes.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn


@dataclass(frozen=True)
class DistributedContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(*names: str) -> int | None:
    for name in names:
        if name in os.environ:
            return int(os.environ[name])
    return None


def slurm_rendezvous() -> dict[str, str]:
    """MASTER_ADDR/MASTER_PORT for ranks started by ``srun -n N`` (one SLURM task per rank).

    The address is the first host of the step's node list (``scontrol show hostnames`` expands
    ``node[01-02]``), the same on every node; the port is derived from the job id so that two jobs
    sharing a node do not collide, and it stays the same when SLURM requeues the job.
    """
    nodelist = os.environ.get("SLURM_STEP_NODELIST") or os.environ.get("SLURM_JOB_NODELIST")
    job_id = os.environ.get("SLURM_JOB_ID")
    if not nodelist or not job_id:
        return {}
    try:
        hosts = subprocess.run(["scontrol", "show", "hostnames", nodelist], check=True,
                               capture_output=True, text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        hosts = [] if "[" in nodelist else nodelist.split(",")
    if not hosts:
        raise RuntimeError(f"cannot expand SLURM node list {nodelist!r} (is scontrol on PATH?)")
    return {"MASTER_ADDR": hosts[0], "MASTER_PORT": str(20000 + int(job_id) % 20000)}


def init_distributed(device: str = "auto") -> DistributedContext:
    """Join the process group described by the environment, or run as one process.

    torchrun sets RANK/WORLD_SIZE/LOCAL_RANK; ``srun -n N`` sets SLURM_PROCID/SLURM_NTASKS/
    SLURM_LOCALID, and the rendezvous is the step's first host (see :func:`slurm_rendezvous`) unless
    MASTER_ADDR/MASTER_PORT are exported. NCCL on CUDA, gloo on CPU (also when SLURM set
    CUDA_VISIBLE_DEVICES on a machine without CUDA).
    """
    world = _env_int("WORLD_SIZE", "SLURM_NTASKS") or 1
    if world > 1 and "WORLD_SIZE" not in os.environ:
        for name, value in slurm_rendezvous().items():
            os.environ.setdefault(name, value)
    rank = _env_int("RANK", "SLURM_PROCID") or 0
    local_rank = _env_int("LOCAL_RANK", "SLURM_LOCALID") or 0
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    if use_cuda:
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        torch_device = torch.device("cuda", torch.cuda.current_device())
    else:
        torch_device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        for name in ("MASTER_ADDR", "MASTER_PORT"):
            if name not in os.environ:
                raise RuntimeError(f"{world} processes requested but {name} is not set (launch with torchrun or export it)")
        dist.init_process_group("nccl" if use_cuda else "gloo", rank=rank, world_size=world,
                                device_id=torch_device if use_cuda else None)
    return DistributedContext(rank, world, local_rank, torch_device)


def cleanup() -> None:
    """Leave the process group. The barrier first avoids a gloo teardown race (SLURM.md)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """All-gather (B, ...) from every rank into (world × B, ...), rank order; gradients flow back
    to every rank's tensor (the backward is a reduce-scatter). Kept as the reference that
    :func:`gather_negatives` is tested against."""
    if world_size() == 1:
        return tensor
    return torch.cat(dist_fn.all_gather(tensor), dim=0)


def gather_negatives(tensor: torch.Tensor) -> torch.Tensor:
    """All-gather (B, ...) into (world × B, ...), rank order, as the authors gather negatives.

    The other ranks' chunks arrive WITHOUT gradient; this rank's chunk is the input itself and keeps
    its gradient (EGG ``emcom_as_ssl``: ``all_gather`` under no_grad, then the local slice put
    back). The forward values equal :func:`gather_with_grad`'s; the backward differs: no gradient
    reaches the other ranks' candidates, so each rank's tensor gets the gradient of its own loss only.
    Every rank must call it for the same shapes (it is a collective).
    """
    if world_size() == 1:
        return tensor
    with torch.no_grad():
        chunks = [torch.empty_like(tensor) for _ in range(world_size())]
        dist.all_gather(chunks, tensor.contiguous())
    chunks[rank()] = tensor
    return torch.cat(chunks, dim=0)


def all_reduce_mean(values: torch.Tensor) -> torch.Tensor:
    """Mean of a tensor over ranks (returns the input unchanged with one process)."""
    if world_size() == 1:
        return values
    values = values.clone()
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values / world_size()


def broadcast_buffers(module: torch.nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm statistics) to every rank.

    SyncBatchNorm keeps them equal on CUDA; on CPU (gloo) each rank's plain BatchNorm drifts, so
    this is called before a checkpoint to make every rank hold rank 0's model.
    """
    if world_size() == 1:
        return
    for buffer in module.buffers():
        dist.broadcast(buffer, src=0)
