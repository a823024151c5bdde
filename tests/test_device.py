from __future__ import annotations

import pytest
import torch

from stylo import device
from stylo.errors import StyloError


def test_explicit_and_auto_devices() -> None:
    assert device.resolve_device("cpu") == torch.device("cpu")
    auto = device.resolve_device("auto")
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    assert auto.type == ("cuda" if torch.cuda.is_available() else "mps" if mps else "cpu")
    if not torch.cuda.is_available():
        assert auto.type != "cuda"
        with pytest.raises(StyloError, match="no CUDA GPU"):
            device.resolve_device("cuda")


def test_precisions() -> None:
    cpu = torch.device("cpu")
    assert device.resolve_precision("fp32", cpu) is None
    assert device.resolve_precision("bf16", cpu) is torch.bfloat16
    with pytest.raises(StyloError, match="fp16 is for GPUs"):
        device.resolve_precision("fp16", cpu)
    assert device.resolve_precision("auto", cpu) == (torch.bfloat16 if device.cpu_has_bf16() else None)
    assert device.resolve_precision("fp16", torch.device("cuda")) is torch.float16
