"""The weight file of the two networks, ``magenta_arbitrary.pt``: a plain dict of tensors for
``torch.load(..., weights_only=True)``::

    {"format": 1, "digest": sha256 hex, "float": {key: float32}, "codes": {key: int8}, "scales": {key: float32}}

``codes`` and ``scales`` are the int8 weights of the TensorFlow Lite release and their per-output-channel
scales (zero points are all 0): ``weight = codes · scales`` in float32 is what ONNX's DequantizeLinear computes,
bit for bit, so the file is lossless against the dequantized weights at a quarter of float32's size (2.7 MB
against 10.4 MB, ``python scripts/convert_magenta.py --measure``). ``float`` holds the rest: the biases (int32
codes times a scale, already dequantized). Keys are ``predictor.<name>`` and ``transform.<name>``; ``digest``
covers every key, dtype, shape and byte, so a damaged file is refused rather than painting garbage."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from stylo.errors import StyloError
from stylo.files import open_regular

FORMAT = 1
FILE_NAME = "magenta_arbitrary.pt"


def default_path() -> Path:
    """The weight file shipped inside the package."""
    return Path(__file__).with_name(FILE_NAME)


def digest(parts: Mapping[str, Mapping[str, torch.Tensor]]) -> str:
    """SHA-256 over the sorted keys, dtypes, shapes and bytes of every tensor in ``parts``."""
    h = hashlib.sha256()
    for part in sorted(parts):
        for key in sorted(parts[part]):
            t = parts[part][key].detach().cpu().contiguous()
            h.update(f"{part}/{key}/{t.dtype}/{tuple(t.shape)};".encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def pack(floats: Mapping[str, torch.Tensor], codes: Mapping[str, torch.Tensor],
         scales: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """The file's contents for float tensors ``floats`` and int8 ``codes`` with per-channel ``scales``."""
    parts = {"float": dict(floats), "codes": dict(codes), "scales": dict(scales)}
    return {"format": FORMAT, "digest": digest(parts), **parts}


def _tensors(part: Any, what: str) -> dict[str, torch.Tensor]:
    if not isinstance(part, dict) or not all(isinstance(t, torch.Tensor) for t in part.values()):
        raise StyloError(f"{what} is damaged: its tensors are missing")
    return part


def unpack(raw: Any, what: str) -> dict[str, torch.Tensor]:
    """The float32 state dict of the file's contents ``raw``, or a one-line error naming ``what``."""
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise StyloError(f"{what} is not a stylo feed-forward weight file (format {FORMAT})")
    floats, codes, scales = (_tensors(raw.get(name), what) for name in ("float", "codes", "scales"))
    if digest({"float": floats, "codes": codes, "scales": scales}) != raw.get("digest"):
        raise StyloError(f"{what} is damaged: its contents do not match its digest")
    state = {key: t.float() for key, t in floats.items()}
    for key, q in codes.items():
        scale = scales.get(key)
        if q.dtype != torch.int8 or scale is None or scale.shape != q.shape[:1]:
            raise StyloError(f"{what} is damaged: {key} has no per-channel scale")
        state[key] = q.float() * scale.float().view(-1, *[1] * (q.dim() - 1))
    return state


def read(path: Path | str | None = None) -> dict[str, torch.Tensor]:
    """The float32 state dict (``predictor.*`` and ``transform.*`` keys) stored at ``path`` (default: the
    packaged file), or a one-line :class:`StyloError` if it is missing, unreadable or damaged."""
    path = Path(path) if path is not None else default_path()
    what = f"feed-forward weight file {path.name}"
    try:
        with open_regular(path, what) as fh:
            raw = torch.load(fh, map_location="cpu", weights_only=True)
    except StyloError:
        raise
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise StyloError(f"{what} is damaged or unreadable ({type(exc).__name__}: {reason})") from None
    return unpack(raw, what)
