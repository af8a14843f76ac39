"""Where the model runs and in what float type."""

from __future__ import annotations

import torch

from snac_cli.errors import UsageError
from snac_cli.settings import Precision

DTYPES = {Precision.fp32: torch.float32, Precision.bf16: torch.bfloat16, Precision.fp16: torch.float16}


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` (CUDA when available, else CPU), `cpu`, `cuda` or `cuda:N`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r} (auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device {name}: CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(f"device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif device.type != "cpu":
        raise UsageError(f"unsupported device {name!r} (auto, cpu, cuda or cuda:N)")
    return device


def check_precision(precision: Precision, device: torch.device) -> torch.dtype:
    """The float type of a precision on a device: fp16 runs on CUDA only (the CPU has no fast fp16 kernels)."""
    if precision == Precision.fp16 and device.type != "cuda":
        raise UsageError("fp16 runs on CUDA only; use fp32 or bf16 on the CPU")
    return DTYPES[Precision(precision)]
