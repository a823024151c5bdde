"""Devices and arithmetic precision, resolved once at the edge of a run."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from stylo.errors import StyloError


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA if usable, else MPS, else CPU; an explicit device that is not there is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise StyloError("device cuda requested but no CUDA GPU is available (use device auto or cpu)",
                         settings=("device",))
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise StyloError("device mps requested but Apple's MPS backend is not available (use device auto or cpu)",
                         settings=("device",))
    return torch.device(name)


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """True where the CPU multiplies bf16 natively (AVX512-BF16 or AMX), so bf16 autocast pays off."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for the network (None: plain fp32). Losses are always accumulated in fp32."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        if device.type == "cpu":
            raise StyloError("precision fp16 is for GPUs; use bf16 or fp32 on a CPU", settings=("precision",))
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_bf16():
        return torch.bfloat16
    return None
