"""The ``.stylo.pt`` file: a network that ``stylo learn`` trained for one painting (or a blend).

A plain dict saved with :func:`torch.save` and read back with ``torch.load(weights_only=True)`` (tensors, strings,
numbers, lists and dicts only: no code runs when a file is opened):

* ``format`` (:data:`FORMAT`) and ``format_version`` (:data:`VERSION`): the marker; anything else is refused with
  one line, "X is not a stylo network file";
* ``stylo_version``; ``settings`` (the objective's :class:`~stylo.config.Settings`, as JSON) and ``learn`` (the
  :class:`~stylo.learn.train.LearnSettings`, as JSON);
* ``styles``: per style image its name, its sha256 and its pixels as PNG bytes (a uint8 tensor, at most
  :data:`STYLE_KEPT` px on the long side), so that ``stylo run --network --refine`` needs no style argument;
  ``blend``: each style's share;
* ``trained`` (what was trained: ``code``, ``norms`` or ``all``), ``steps_done``, ``photos`` (the training photos'
  labels), and the network: ``code`` (1, 100) and ``transform``, the transform's whole state dict.

A checkpoint (``NAME.stylo.pt.checkpoint``) is the same dict plus ``optimizer`` (Adam's state), ``generator`` (the
crop sampler's state) and ``key`` (what it must match to be resumed)."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from stylo.errors import StyloError
from stylo.files import open_regular, shown

FORMAT = "stylo-network"
VERSION = 1
STYLE_KEPT = 1024  # long side of the style images the file keeps (for --refine)
MAX_BYTES = 256 * 2**20  # a network file is a few MB; refuse to read a huge file whole
SUFFIX = ".pt"


def sha256_of(path: Path | str) -> str:
    with open_regular(path, "style image") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def png_tensor(image: Image.Image, long_side: int = STYLE_KEPT) -> torch.Tensor:
    """``image`` as PNG bytes in a uint8 tensor, shrunk to ``long_side`` px if larger."""
    img = image.convert("RGB")
    if max(img.size) > long_side:
        img = img.copy()
        img.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return torch.from_numpy(np.frombuffer(buf.getvalue(), dtype=np.uint8).copy())


def png_image(data: torch.Tensor) -> Image.Image:
    img = Image.open(io.BytesIO(data.numpy().tobytes()))
    img.load()
    return img.convert("RGB")


@dataclass
class NetworkFile:
    """The contents of a ``.stylo.pt`` file (see the module docstring)."""

    settings: dict[str, Any]
    learn: dict[str, Any]
    styles: list[dict[str, Any]]  # name, sha256, png (uint8 tensor)
    blend: list[float]
    trained: str
    steps_done: int
    photos: list[str]
    code: torch.Tensor
    transform: dict[str, torch.Tensor]
    stylo_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # a checkpoint's optimizer, generator, key

    def to_dict(self) -> dict[str, Any]:
        from stylo import __version__

        return {"format": FORMAT, "format_version": VERSION, "stylo_version": __version__,
                "settings": json.dumps(self.settings, sort_keys=True), "learn": json.dumps(self.learn, sort_keys=True),
                "styles": self.styles, "blend": list(self.blend), "trained": self.trained,
                "steps_done": int(self.steps_done), "photos": list(self.photos),
                "code": self.code.detach().cpu().float().clone(),
                "transform": {k: v.detach().cpu().clone() for k, v in self.transform.items()}, **self.extra}


def write(path: Path | str, contents: NetworkFile) -> Path:
    """Save atomically: a failure never leaves a partial file or clobbers the one there."""
    from stylo.image import atomic_write

    data = contents.to_dict()
    return atomic_write(path, lambda fh: torch.save(data, fh))


_KEYS = {"settings": str, "learn": str, "styles": list, "blend": list, "trained": str, "steps_done": int,
         "photos": list, "code": torch.Tensor, "transform": dict}


def read(path: Path | str, what: str = "network file") -> NetworkFile:
    """The file at ``path``, or a one-line :class:`StyloError`: not a regular file, not a stylo network file
    (another pickle, a zip, random bytes), or damaged (the marker but missing or ill-typed parts)."""
    with open_regular(path, what) as fh:
        raw = fh.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise StyloError(f"{shown(path)} is too large to be a stylo network file (over {MAX_BYTES >> 20} MB)")
    try:
        data = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any unpickling, zip or EOF error means the same to the user
        raise StyloError(f"{shown(path)} is not a stylo network file") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StyloError(f"{shown(path)} is not a stylo network file")
    if data.get("format_version") != VERSION:
        raise StyloError(f"{shown(path)} is a stylo network file of format {data.get('format_version')!r}; "
                         f"this stylo reads format {VERSION}")
    damaged = StyloError(f"{shown(path)} is a damaged stylo network file")
    for key, kind in _KEYS.items():
        if not isinstance(data.get(key), kind):
            raise damaged
    try:
        settings, learn = json.loads(data["settings"]), json.loads(data["learn"])
        styles = data["styles"]
        ok = (isinstance(settings, dict) and isinstance(learn, dict) and styles
              and all(isinstance(s, dict) and isinstance(s.get("png"), torch.Tensor) and s["png"].dtype == torch.uint8
                      and isinstance(s.get("sha256"), str) and isinstance(s.get("name"), str) for s in styles)
              and len(data["blend"]) == len(styles)
              and data["code"].shape == (1, 100) and data["code"].dtype == torch.float32
              and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in data["transform"].items()))
    except (ValueError, RecursionError, TypeError):
        raise damaged from None
    if not ok:
        raise damaged
    extra = {k: v for k, v in data.items() if k in ("optimizer", "generator", "key")}
    return NetworkFile(settings, learn, list(styles), [float(w) for w in data["blend"]], data["trained"],
                       data["steps_done"], [str(p) for p in data["photos"]], data["code"], data["transform"],
                       str(data.get("stylo_version", "")), extra)
