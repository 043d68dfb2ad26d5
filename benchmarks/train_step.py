"""Images/s of one training step per model variant, against its backbones' bare forward+backward.

The floor is the CNN work the step cannot avoid: the same backbone(s) run forward and backward on
the same tensors (two CNNs for -shared, one called twice for +shared and SimCLR). The ratio
step/floor is what the heads, the loss, Gumbel-Softmax and the LARS update cost on top.
Floors and steps are timed interleaved (ABAB) so machine noise hits both alike; with ``--lars
fused timm`` the step is timed with each LARS implementation, interleaved too.

On CUDA the precision is the trainer's (``run.precision: auto`` = fp16 + GradScaler, channels_last),
and the authors' EGG step rates measured on one H200 (issue #9) are printed beside ResNet-50 rows.

    python benchmarks/train_step.py --backbone small_resnet --size 32 --batch 64
    python benchmarks/train_step.py --device cuda --backbone resnet50 --size 224 --batch 128 \
        --vocab 2048 --hidden 2048 --lars fused timm
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from emcom.config import ExperimentConfig, RunConfig
from emcom.losses import build_objective
from emcom.models import build_model
from emcom.training.optim import build_lars
from emcom.training.precision import resolve_precision

VARIANTS = {
    "game -shared": {"kind": "game", "shared": False},
    "game +shared": {"kind": "game", "shared": True},
    "simclr": {"kind": "simclr"},
}
# The authors' EGG code, one H200, ResNet-50, 224 px, batch 128, fp16 (issue #9): step images/s.
AUTHORS_H200 = {"game -shared": 1345, "game +shared": 1354, "simclr": 1404}


def _model_config(backbone: str, variant: dict, vocab: int, hidden: int, low_res: bool):
    return ExperimentConfig.from_dict({"model": {"backbone": backbone, "vocab_size": vocab, "hidden_size": hidden,
                                                 "low_resolution_stem": low_res, **variant}}).model


def _cnns(model) -> list:
    """The CNN each view goes through, in order (a shared CNN appears twice)."""
    if hasattr(model, "sender"):
        return [model.sender.cnn, model.receiver.cnn]
    return [model.cnn, model.cnn]


def _time(fn, steps: int, device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / steps


def measure(backbone: str, variant: dict, size: int, batch: int, vocab: int, hidden: int,
            steps: int, repeats: int, device: torch.device, lars: list[str]) -> tuple[dict[str, float], float]:
    """Return ({lars impl: step images/s}, floor images/s), medians over ``repeats`` interleaved timings."""
    config = _model_config(backbone, variant, vocab, hidden, low_res=size <= 64)
    precision = resolve_precision(RunConfig(), device)
    torch.manual_seed(0)
    model = build_model(config).to(device).train()
    memory = torch.channels_last if precision.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory)
    objective = build_objective(config)
    optimizers = {impl: build_lars(model, lr=0.1, momentum=0.9, weight_decay=1e-5, trust_coefficient=1e-3, impl=impl)
                  for impl in lars}
    scaler = torch.amp.GradScaler(device.type, enabled=precision.grad_scaler)
    view_a, view_b = (torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=memory)
                      for _ in range(2))
    cnns = _cnns(model)

    def step(optimizer):
        with precision.autocast():
            output = model(view_a, view_b)
        result = objective(output)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(result.loss).backward()
        scaler.step(optimizer)
        scaler.update()

    def floor():
        model.zero_grad(set_to_none=True)
        with precision.autocast():
            total = cnns[0](view_a).float().sum() + cnns[1](view_b).float().sum()
        scaler.scale(total).backward()

    for _ in range(3):  # warm-up: allocator, oneDNN/cuDNN kernels, momentum buffers
        for optimizer in optimizers.values():
            step(optimizer)
        floor()
    step_times, floor_times = {impl: [] for impl in lars}, []
    for _ in range(repeats):
        floor_times.append(_time(floor, steps, device))
        for impl, optimizer in optimizers.items():
            step_times[impl].append(_time(lambda: step(optimizer), steps, device))
    return ({impl: batch / statistics.median(t) for impl, t in step_times.items()},
            batch / statistics.median(floor_times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", nargs="+", default=["small_resnet"])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--vocab", type=int, default=1024)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5, help="steps per timing")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timings; the median is reported")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--lars", nargs="+", default=["fused"], choices=["fused", "timm"],
                        help="LARS implementation(s) of the step, timed interleaved")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"# {args.size} px, batch {args.batch}, vocab {args.vocab}, hidden {args.hidden}, "
          f"{args.threads} threads, torch {torch.__version__}, {name}, {resolve_precision(RunConfig(), device)}")
    columns = " | ".join(f"step img/s ({impl})" for impl in args.lars)
    ratios = " | ".join(f"step/floor ({impl})" for impl in args.lars)
    print(f"| backbone | variant | {columns} | floor img/s | {ratios} | authors' EGG step img/s (H200) |")
    print("|---|---|" + "---|" * (2 * len(args.lars) + 2))
    for backbone in args.backbone:
        for name, variant in VARIANTS.items():
            steps, floor_rate = measure(backbone, variant, args.size, args.batch, args.vocab, args.hidden,
                                        args.steps, args.repeats, device, args.lars)
            authors = AUTHORS_H200[name] if (backbone, args.size, args.batch) == ("resnet50", 224, 128) else ""
            print(f"| {backbone} | {name} | " + " | ".join(f"{steps[impl]:.0f}" for impl in args.lars) +
                  f" | {floor_rate:.0f} | " + " | ".join(f"{floor_rate / steps[impl]:.2f}x" for impl in args.lars) +
                  f" | {authors} |", flush=True)


if __name__ == "__main__":
    main()
