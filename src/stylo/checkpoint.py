"""Checkpoints of a long run, so that it continues after a kill, a reboot or a Ctrl-C.

A checkpoint holds where the run is (pyramid level, steps done, seed, loss history) and the optimizer's
whole state (the image and, for L-BFGS, its gradient and curvature pairs), so a resumed run takes exactly
the steps the uninterrupted run would have taken. It is tied to its run by a key: a digest of the settings
and of the input images' pixels. :class:`CheckpointFile` keeps one next to the output, written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from PIL import Image

from stylo.config import Settings
from stylo.errors import StyloError

FORMAT = 1


def run_key(settings: Settings, images: Sequence[Image.Image]) -> str:
    """A digest of what determines a run: its settings and its input images."""
    digest = hashlib.sha256(json.dumps(settings.to_dict(), sort_keys=True, default=str).encode())
    for image in images:
        digest.update(f"{image.mode}{image.size}".encode())
        digest.update(image.tobytes())
    return digest.hexdigest()[:32]


@dataclass
class Checkpoint:
    key: str
    seed: int
    level: int  # 0-based pyramid level
    step: int  # steps done over all levels
    level_steps: int  # steps done at ``level``
    history: list[float]
    state: dict[str, Any] = field(repr=False)  # the stepper's (tensors, numbers)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "key": self.key, "seed": self.seed, "level": self.level, "step": self.step,
                "level_steps": self.level_steps, "history": list(self.history), "state": self.state}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        if data.get("format") != FORMAT:
            raise StyloError("the checkpoint was written by another version of stylo; start the run again")
        return cls(data["key"], data["seed"], data["level"], data["step"], data["level_steps"],
                   list(data["history"]), data["state"])


class Checkpointer(Protocol):
    """Where the engine keeps its checkpoints: asked after every step whether one is due."""

    def due(self) -> bool: ...

    def save(self, checkpoint: Checkpoint) -> None: ...


def checkpoint_path(output: Path) -> Path:
    return output.with_name(output.name + ".ckpt")


class CheckpointFile:
    """A checkpoint file written atomically every ``every`` seconds (0: after every step)."""

    def __init__(self, path: Path, every: float):
        self.path, self.every = path, every
        self.last = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.every

    def save(self, checkpoint: Checkpoint) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                torch.save(checkpoint.to_dict(), f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        self.last = time.monotonic()

    def load(self) -> Checkpoint:
        """The checkpoint; a one-line error if there is none or it cannot be read."""
        if not self.path.is_file():
            raise StyloError(f"nothing to resume: no checkpoint {self.path}")
        try:
            data = torch.load(self.path, map_location="cpu", weights_only=True)
            return Checkpoint.from_dict(data)
        except StyloError:
            raise
        except Exception as exc:  # a truncated or foreign file
            raise StyloError(f"cannot read the checkpoint {self.path}: {exc.__class__.__name__}") from None

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
