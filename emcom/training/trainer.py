"""Train one model (a game variant or SimCLR) from a run config, on 1 or N processes.

The recipe, top to bottom: distributed set-up, data, network, loss, optimiser and schedule, resume,
epoch loop, checkpoints, final model. The same code runs alone, under torchrun, or under srun.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from emcom import checkpoint as ckpt
from emcom.config import ConfigError, ExperimentConfig, save_config
from emcom.data.batch_augment import BatchTwoViews
from emcom.data.device_views import DeviceViewLoader, LoadResized
from emcom.data.folder import ImageFolderDataset, collate_skipping_none
from emcom.data.gpu_decode import EncodedImageFolder, collate_encoded, decode_to_squares
from emcom.data.transforms import TwoViews
from emcom.distributed import DistributedContext, broadcast_buffers, cleanup, init_distributed
from emcom.io import atomic_write_json, atomic_write_text
from emcom.losses import build_objective, objective_name
from emcom.models import build_model
from emcom.training.batching import batch_plan
from emcom.training.loop import EpochStats, NonFiniteGuard, train_one_epoch
from emcom.training.optim import build_lars, build_scheduler
from emcom.training.precision import Precision, resolve_precision

log = logging.getLogger(__name__)

METRICS_NAME = "metrics.jsonl"
SUMMARY_NAME = "summary.json"


@dataclass
class TrainingState:
    """What a resume restores besides the tensors: where we are and what happened so far."""

    epoch: int  # completed epochs
    history: list[dict[str, Any]]


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """Seed of one rank's epoch: makes augmentations and Gumbel noise replayable on resume."""
    return (seed * 1_000_003 + epoch * 1_009 + rank) % (2**63)


def build_loader(config: ExperimentConfig, ctx: DistributedContext) -> tuple[DataLoader, DistributedSampler]:
    """Each rank reads a disjoint shard (same sampler seed on every rank, as DistributedSampler needs)."""
    on_device = config.data.augment_on == "device"
    load_size = (config.data.load_size or config.data.image_size) if config.data.augment else config.data.image_size
    transform = LoadResized(load_size) if on_device else \
        TwoViews(config.data.image_size, config.data.augment, config.data.min_crop_scale, config.data.blur_sigma,
                 config.data.color_jitter_strength)
    decode_on_device = config.data.decode_on == "device"
    dataset = EncodedImageFolder(config.data.root, config.data.split, load_size, config.data.on_bad_image) \
        if decode_on_device else ImageFolderDataset(config.data.root, config.data.split, transform, config.data.on_bad_image)
    if len(dataset) < config.optim.batch_size * ctx.world_size:
        raise ConfigError(f"optim.batch_size={config.optim.batch_size} × {ctx.world_size} process(es) exceeds the "
                          f"{len(dataset)} images of {config.data.root}/{config.data.split}")
    sampler = DistributedSampler(dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True,
                                 seed=config.run.seed, drop_last=True)
    loader = DataLoader(dataset, batch_size=config.optim.batch_size, sampler=sampler,
                        num_workers=config.data.num_workers, pin_memory=ctx.device.type == "cuda",
                        drop_last=True,  # the number of candidates is the batch: keep it fixed
                        collate_fn=collate_encoded if decode_on_device else collate_skipping_none,
                        persistent_workers=False)
    if on_device:  # workers hand over uint8 squares (or JPEG bytes); both views are made on ctx.device
        decoder = partial(decode_to_squares, device=ctx.device, load_size=load_size,
                          on_bad_image=config.data.on_bad_image) if decode_on_device else None
        loader = DeviceViewLoader(loader, BatchTwoViews(config.data.image_size, config.data.augment,
                                                        config.data.min_crop_scale, config.data.blur_sigma,
                                                        config.data.color_jitter_strength),
                                  ctx.device, decoder, ahead=config.data.views_ahead)
    return loader, sampler


def cpu_threads(config: ExperimentConfig, available: int, device_type: str = "cpu") -> int:
    """Intra-op threads of the training process.

    CPU run: augmenting workers are CPU-bound (~1.6 ms per image for two 32 px views), so on a small
    machine they and the training step's threads fight for the same cores. Measured on 2 cores, +aug
    game, batch 64, 2 workers: 229 img/s with 2 threads, 277 with 1; without augmentation 417 vs 278.
    Auto (0) therefore leaves one core per augmenting worker and keeps every thread otherwise.

    GPU run: every worker decodes (and may augment) on a core of its own, and the training process
    only queues kernels and draws the views' parameters, small host ops that gain nothing from a
    thread team but stall whenever its threads wait for cores the workers hold. Auto leaves one core
    per worker. Measured on one H200 with 16 cores and 15 workers (ResNet-50 game, 224 px, batch 128,
    views made on the device): 895 img/s end to end with torch's default 16 threads, 1,930 with 1
    (docs/gpu.md).
    """
    if config.run.cpu_threads > 0:
        return config.run.cpu_threads
    workers = config.data.num_workers
    workers_hold_cores = device_type != "cpu" or (config.data.augment and config.data.augment_on == "workers")
    return max(1, available - workers) if workers > 0 and workers_hold_cores else available


def prepare_model(config: ExperimentConfig, ctx: DistributedContext, precision: Precision) -> nn.Module:
    model = build_model(config.model)
    if ctx.distributed and ctx.device.type == "cuda":
        # SPEC: SyncBatchNorm over the whole model. PyTorch has no CPU SyncBatchNorm: on gloo each
        # rank keeps its own BN statistics and rank 0's are broadcast before every checkpoint.
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = model.to(ctx.device)
    if precision.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def _restore(payload: dict[str, Any], model: nn.Module, optimizer, scheduler, scaler) -> TrainingState:
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    scheduler.load_state_dict(payload["scheduler"])
    scaler.load_state_dict(payload["scaler"])
    return TrainingState(payload["epoch"], payload["history"])


def _checkpoint_payload(config, execution, model, optimizer, scheduler, scaler, state: TrainingState) -> dict[str, Any]:
    return {
        "format": ckpt.CHECKPOINT_FORMAT,
        "config": config.to_dict(),
        "execution": execution,
        "epoch": state.epoch,
        "history": state.history,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
    }


def _write_metrics(out_dir: Path, history: list[dict[str, Any]]) -> None:
    """Rewrite metrics.jsonl from the history: after a resume it never holds a replayed epoch twice."""
    atomic_write_text(out_dir / METRICS_NAME, "".join(json.dumps(record) + "\n" for record in history))


def train(config: ExperimentConfig, out_dir: str | Path) -> Path:
    """Train to ``out_dir/model.pt``, resuming from ``out_dir/checkpoint.pt`` if it exists."""
    out_dir = Path(out_dir)
    ctx = init_distributed()
    try:
        run_training(config, out_dir, ctx)
    finally:
        cleanup()
    return out_dir / ckpt.MODEL_NAME


def run_training(config: ExperimentConfig, out_dir: Path, ctx: DistributedContext) -> nn.Module:
    """The recipe on one rank of an initialised context; returns this rank's trained (unwrapped) model.

    The CPU thread count it sets (:func:`cpu_threads`) is process state: it is restored on return or
    error, so code run after a training (other tests, evaluation) keeps its own.
    """
    threads = torch.get_num_threads()
    try:
        return _run_training(config, out_dir, ctx)
    finally:
        torch.set_num_threads(threads)


def _run_training(config: ExperimentConfig, out_dir: Path, ctx: DistributedContext) -> nn.Module:
    precision = resolve_precision(config.run, ctx.device)
    torch.set_num_threads(cpu_threads(config, torch.get_num_threads(), ctx.device.type))
    # ---- data ---------------------------------------------------------------------------------
    loader, sampler = build_loader(config, ctx)
    plan = batch_plan(config.optim, ctx.world_size)  # global batch, accumulation, lr
    lr = plan.lr
    if len(loader) < plan.accumulation_steps:
        raise ConfigError(f"optim.global_batch={plan.global_batch} exceeds the {len(loader.dataset)} images of "
                          f"{config.data.root}/{config.data.split}")
    # ---- network and loss ------------------------------------------------------------------------
    torch.manual_seed(config.run.seed)  # same initial weights on every rank (DDP also broadcasts them)
    model = prepare_model(config, ctx, precision)
    objective = build_objective(config.model, gather_distributed=config.run.gather_negatives)
    # ---- optimiser and schedule ----------------------------------------------------------------
    optimizer = build_lars(model, lr, config.optim.momentum, config.optim.weight_decay,
                           config.optim.trust_coefficient, impl=config.optim.lars_impl)
    scheduler = build_scheduler(optimizer, config.optim.epochs, config.optim.warmup_epochs)
    scaler = torch.amp.GradScaler(ctx.device.type, enabled=precision.grad_scaler)
    guard = NonFiniteGuard(scaler, config.run.max_consecutive_nonfinite)  # fp16: skip, count, stop if persistent
    # ---- resume --------------------------------------------------------------------------------
    # Only the run that wrote checkpoint.pt resumes it, and only its model.pt counts as this run's
    # result: a file from another config (emcom.config.OPERATIONAL_KEYS aside), process count or
    # precision is moved aside with the keys that differ logged, and training starts from scratch.
    # checkpoint.pt exists only while a run is unfinished (removed once model.pt is written), so a
    # rerun of a finished run (snakemake --forcerun) trains again instead of reloading the end.
    checkpoint_path, model_path = out_dir / ckpt.CHECKPOINT_NAME, out_dir / ckpt.MODEL_NAME
    execution = {"world_size": ctx.world_size, "precision": precision.mode}
    identity = ckpt.run_identity(config, execution)
    if ctx.is_main and ckpt.adopt(model_path, identity, ckpt.MODEL_FORMAT) is None:
        (out_dir / SUMMARY_NAME).unlink(missing_ok=True)  # it described the model moved aside (or none)
    payload = ckpt.adopt(checkpoint_path, identity, ckpt.CHECKPOINT_FORMAT, move=ctx.is_main)
    state = TrainingState(0, [])
    if payload is not None:
        state = _restore(payload, model, optimizer, scheduler, scaler)
        log.info("resuming %s after epoch %d (written by this run config)", checkpoint_path, state.epoch)
    else:
        log.info("training from scratch")
    if ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, out_dir / "config.resolved.yaml")
        _write_metrics(out_dir, state.history)
        log.info("%s: %d images, %s (%s × %d/256), %s, %d CPU thread(s)", type(model).__name__,
                 len(loader.dataset), plan.describe(), config.optim.base_lr, plan.global_batch, precision,
                 torch.get_num_threads())
    trained = DistributedDataParallel(model, device_ids=[ctx.device] if ctx.device.type == "cuda" else None) \
        if ctx.distributed else model
    # ---- epochs --------------------------------------------------------------------------------
    for epoch in range(state.epoch, config.optim.epochs):
        sampler.set_epoch(epoch)
        torch.manual_seed(epoch_seed(config.run.seed, epoch, ctx.rank))
        current_lr = optimizer.param_groups[0]["lr"]
        stats: EpochStats = train_one_epoch(
            trained, objective, loader, optimizer, scaler, precision, ctx, epoch,
            max_steps=config.run.max_steps_per_epoch,
            progress=config.run.progress_bar and ctx.is_main,
            accumulation_steps=plan.accumulation_steps, guard=guard,
        )
        scheduler.step()
        record = {"epoch": epoch + 1, "loss": stats.loss, "accuracy": stats.accuracy, "lr": current_lr,
                  "images_per_second": stats.images / stats.seconds, "seconds": stats.seconds,
                  "steps": stats.steps, "skipped_images": stats.skipped, "skipped_steps": stats.skipped_steps}
        state = TrainingState(epoch + 1, state.history + [record])
        if ctx.is_main:
            _write_metrics(out_dir, state.history)
            log.info("epoch %d/%d %s", epoch + 1, config.optim.epochs, json.dumps(record))
        last = epoch + 1 == config.optim.epochs
        if not last and (epoch + 1) % config.run.checkpoint_every == 0:  # after the last: model.pt
            broadcast_buffers(model)
            if ctx.is_main:
                ckpt.save(_checkpoint_payload(config, execution, model, optimizer, scheduler, scaler, state),
                          checkpoint_path)
    # ---- final model ---------------------------------------------------------------------------
    broadcast_buffers(model)
    if ctx.is_main:
        ckpt.save({"format": ckpt.MODEL_FORMAT, "config": config.to_dict(), "execution": execution,
                   "model": model.state_dict(), "history": state.history}, model_path)
        atomic_write_json(out_dir / SUMMARY_NAME, {
            "model": str(model_path), "kind": config.model.kind, "backbone": config.model.backbone,
            "shared": config.model.shared, "augment": config.data.augment, "epochs": config.optim.epochs,
            "objective": objective_name(config.model), "world_size": ctx.world_size,
            "per_process_batch": config.optim.batch_size,
            "accumulation_steps": plan.accumulation_steps, "global_batch": plan.global_batch, "lr": lr,
            "precision": str(precision),
            "final": state.history[-1] if state.history else None,
            "train_seconds": sum(r["seconds"] for r in state.history),
        })
        if checkpoint_path.exists():
            checkpoint_path.unlink()  # finished: model.pt holds the result; a rerun trains anew
            log.info("finished: removed %s", checkpoint_path)
    return model

