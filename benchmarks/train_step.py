"""Images/s of one training step per model variant, against its backbones' bare forward+backward.

The floor is the CNN work the step cannot avoid: the same backbone(s) run forward and backward on
the same tensors (two CNNs for -shared, one called twice for +shared and SimCLR). The ratio
step/floor is what the heads, the loss, Gumbel-Softmax and the LARS update cost on top.
Floors and steps are timed interleaved (ABAB) so machine noise hits both alike.

    python benchmarks/train_step.py --backbone small_resnet --size 32 --batch 64
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from emcom.config import ExperimentConfig
from emcom.losses import build_objective
from emcom.models import build_model
from emcom.training.optim import build_lars

VARIANTS = {
    "game -shared": {"kind": "game", "shared": False},
    "game +shared": {"kind": "game", "shared": True},
    "simclr": {"kind": "simclr"},
}


def _model_config(backbone: str, variant: dict, vocab: int, hidden: int, low_res: bool):
    return ExperimentConfig.from_dict({"model": {"backbone": backbone, "vocab_size": vocab, "hidden_size": hidden,
                                                 "low_resolution_stem": low_res, **variant}}).model


def _cnns(model) -> list:
    """The CNN each view goes through, in order (a shared CNN appears twice)."""
    if hasattr(model, "sender"):
        return [model.sender.cnn, model.receiver.cnn]
    return [model.cnn, model.cnn]


def _time(fn, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def measure(backbone: str, variant: dict, size: int, batch: int, vocab: int, hidden: int,
            steps: int, repeats: int) -> tuple[float, float]:
    """Return (step images/s, floor images/s), medians over ``repeats`` interleaved timings."""
    config = _model_config(backbone, variant, vocab, hidden, low_res=size <= 64)
    torch.manual_seed(0)
    model = build_model(config).train()
    objective = build_objective(config)
    optimizer = build_lars(model, lr=0.1, momentum=0.9, weight_decay=1e-5, trust_coefficient=1e-3)
    view_a, view_b = torch.randn(batch, 3, size, size), torch.randn(batch, 3, size, size)
    cnns = _cnns(model)

    def step():
        result = objective(model(view_a, view_b))
        optimizer.zero_grad(set_to_none=True)
        result.loss.backward()
        optimizer.step()

    def floor():
        model.zero_grad(set_to_none=True)
        (cnns[0](view_a).sum() + cnns[1](view_b).sum()).backward()

    for _ in range(3):  # warm-up: allocator, oneDNN kernels
        step()
        floor()
    step_times, floor_times = [], []
    for _ in range(repeats):
        floor_times.append(_time(floor, steps))
        step_times.append(_time(step, steps))
    return batch / statistics.median(step_times), batch / statistics.median(floor_times)


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
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# {args.size} px, batch {args.batch}, vocab {args.vocab}, hidden {args.hidden}, "
          f"{args.threads} threads, torch {torch.__version__}, CPU")
    print(f"| {'backbone':<12} | {'variant':<13} | {'step img/s':>10} | {'floor img/s':>11} | {'step/floor time':>15} |")
    print(f"|{'-' * 14}|{'-' * 15}|{'-' * 12}|{'-' * 13}|{'-' * 17}|")
    for backbone in args.backbone:
        for name, variant in VARIANTS.items():
            step_rate, floor_rate = measure(backbone, variant, args.size, args.batch, args.vocab, args.hidden,
                                            args.steps, args.repeats)
            print(f"| {backbone:<12} | {name:<13} | {step_rate:>10.0f} | {floor_rate:>11.0f} | "
                  f"{floor_rate / step_rate:>14.2f}x |", flush=True)


if __name__ == "__main__":
    main()
