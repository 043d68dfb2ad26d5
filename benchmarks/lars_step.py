"""Time of one LARS step: emcom's FusedLars against timm's Lars (its default path and foreach=True).

The optimiser alone, on a real model's parameters with random gradients (no forward/backward), so
the table shows what the step costs on top of the CNN work. Timed interleaved (ABC ABC ...), medians.

    python benchmarks/lars_step.py --backbone small_resnet resnet50 --device cpu
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from timm.optim import Lars

from emcom.config import ExperimentConfig
from emcom.models import build_model
from emcom.training.lars import FusedLars
from emcom.training.optim import parameter_groups

HYPER = dict(lr=2.4, momentum=0.9, trust_coeff=1e-3, eps=1e-8, trust_clip=False, always_adapt=True)
IMPLEMENTATIONS = {
    "timm Lars (default)": lambda groups: Lars(groups, **HYPER),
    "timm Lars foreach": lambda groups: Lars(groups, foreach=True, **HYPER),
    "emcom FusedLars": lambda groups: FusedLars(groups, **HYPER),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(backbone: str, shared: bool, device: torch.device, steps: int, repeats: int,
            vocab: int, hidden: int) -> dict[str, float]:
    """Median milliseconds per step of each implementation on the game's parameters."""
    config = ExperimentConfig.from_dict({"model": {"backbone": backbone, "shared": shared, "vocab_size": vocab,
                                                   "hidden_size": hidden,
                                                   "low_resolution_stem": backbone == "small_resnet"}}).model
    optimizers = {}
    for name, make in IMPLEMENTATIONS.items():
        torch.manual_seed(0)
        model = build_model(config).to(device)
        for p in model.parameters():
            p.grad = torch.randn_like(p) * 1e-3
        optimizers[name] = make(parameter_groups(model, 1e-5))
    times = {name: [] for name in optimizers}
    for name, optimizer in optimizers.items():  # warm-up; creates the momentum buffers
        for _ in range(3):
            optimizer.step()
    _sync(device)
    for _ in range(repeats):
        for name, optimizer in optimizers.items():
            start = time.perf_counter()
            for _ in range(steps):
                optimizer.step()
            _sync(device)
            times[name].append((time.perf_counter() - start) / steps * 1e3)
    tensors = sum(1 for _ in optimizers["emcom FusedLars"].param_groups[0]["params"]) + \
        sum(1 for _ in optimizers["emcom FusedLars"].param_groups[1]["params"])
    return {"tensors": tensors, **{name: statistics.median(t) for name, t in times.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", nargs="+", default=["small_resnet"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--vocab", type=int, default=2048, help="the paper's; config.yaml's CPU default: 1024")
    parser.add_argument("--hidden", type=int, default=2048, help="the paper's; config.yaml's CPU default: 256")
    parser.add_argument("--steps", type=int, default=10, help="steps per timing")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timings; the median is reported")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    names = list(IMPLEMENTATIONS)
    print(f"# LARS step alone, ms per step (median of {args.repeats} interleaved timings × {args.steps} steps), "
          f"vocab {args.vocab}, hidden {args.hidden}, {device}, {args.threads} threads, torch {torch.__version__}")
    print("| backbone | variant | tensors | " + " | ".join(names) + " | timm default / fused |")
    print("|---|---|---|" + "---|" * len(names) + "---|")
    for backbone in args.backbone:
        for shared in (False, True):
            row = measure(backbone, shared, device, args.steps, args.repeats, args.vocab, args.hidden)
            cells = " | ".join(f"{row[name]:.2f}" for name in names)
            print(f"| {backbone} | game {'+' if shared else '-'}shared | {row['tensors']} | {cells} | "
                  f"{row[names[0]] / row['emcom FusedLars']:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
