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
    """The float type of a precision on a device: fp16 runs on CUDA only (the CPU has no fast fp16 kernels),
    bf16 on a CPU only where its kernels run (a CPU without AVX-512 BF16 failed inside the model, exit 70)."""
    if precision == Precision.fp16 and device.type != "cuda":
        hint = "fp32 or bf16" if device.type == "cpu" and bf16_runs() else "fp32"
        raise UsageError(f"fp16 runs on CUDA only; use {hint} on the CPU")
    if precision == Precision.bf16 and device.type == "cpu" and not bf16_runs():
        raise UsageError("bf16 does not run on this CPU (its kernels need AVX-512 BF16 or AMX); use fp32")
    return DTYPES[Precision(precision)]


def bf16_runs() -> bool:
    """Whether this CPU runs the model in bf16: the fast path's oneDNN products (model/fast.py) need its bf16
    instructions, and oneDNN says whether it has them."""
    supported = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return not torch.backends.mkldnn.is_available() or supported is None or bool(supported())
