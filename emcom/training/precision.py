"""Mixed precision and memory format, decided once from the config and the device."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch

from emcom.config import ConfigError, RunConfig

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class Precision:
    mode: str  # fp32 | fp16 | bf16
    device_type: str
    channels_last: bool

    @property
    def grad_scaler(self) -> bool:
        """fp16 needs loss scaling against gradient underflow; bf16 has fp32's range."""
        return self.mode == "fp16"

    def autocast(self):
        if self.mode == "fp32":
            return nullcontext()
        return torch.autocast(self.device_type, dtype=DTYPES[self.mode])

    def __str__(self) -> str:
        return f"{self.mode}{' channels_last' if self.channels_last else ''} on {self.device_type}"


def resolve_precision(run: RunConfig, device: torch.device) -> Precision:
    """auto = fp16 on CUDA (the paper's mixed precision), fp32 on CPU. channels_last on CUDA only."""
    mode = run.precision
    if mode == "auto":
        mode = "fp16" if device.type == "cuda" else "fp32"
    if mode == "fp16" and device.type != "cuda":
        raise ConfigError("run.precision: fp16 needs CUDA; use fp32 or bf16 on CPU")
    return Precision(mode, device.type, run.channels_last and device.type == "cuda")
