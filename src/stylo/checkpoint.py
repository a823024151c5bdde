"""Checkpoints of a long run, so that it continues after a kill, a reboot or a Ctrl-C.

A checkpoint holds where the run is (pyramid level, steps done, seed, loss history) and the optimizer's
whole state (the image and, for L-BFGS, its gradient and curvature pairs), so a resumed run takes exactly
the steps the uninterrupted run would have taken. It is tied to its run by a key: a digest of the settings
and of the input images' pixels. :class:`CheckpointFile` keeps one next to the output, written atomically.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from PIL import Image

from stylo.config import MAX_SCALES, MAX_SIDE, MAX_STEPS, Settings
from stylo.errors import RunError, StyloError
from stylo.files import open_regular, shown
from stylo.image import RANGE_TOLERANCE
from stylo.steppers import PIXEL_SCALE

FORMAT = 1
MAX_PAIRS = 100  # L-BFGS curvature pairs a checkpoint may hold (the budget keeps at most 20)


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
    def from_dict(cls, data: Any) -> Checkpoint:
        """A checkpoint from what ``torch.load`` read, every part checked (types, shapes, ranges, finiteness)
        before any of it is used: a damaged or crafted file is a :class:`StyloError`, not a crash later."""
        if not isinstance(data, dict):
            raise Damaged(f"it holds a {type(data).__name__}, not a checkpoint")
        if data.get("format") != FORMAT:
            raise StyloError("the checkpoint was written by another version of stylo; start the run again")
        key = data.get("key")
        if not isinstance(key, str) or len(key) > 64:
            raise Damaged("its key is not a digest")
        step = _integer(data.get("step"), "step")
        level_steps = _integer(data.get("level_steps"), "level_steps", high=step)
        history = data.get("history")
        if not isinstance(history, list) or len(history) != step:
            raise Damaged(f"its loss history does not have one loss per step ({step})")
        return cls(key, _integer(data.get("seed"), "seed", high=2**63 - 1),
                   _integer(data.get("level"), "level", high=MAX_SCALES - 1), step, level_steps,
                   [_number(v, "a loss of its history") for v in history], check_state(data.get("state")))


class Damaged(StyloError):
    """A checkpoint file whose contents are not what stylo writes."""


def _integer(value: Any, what: str, low: int = 0, high: int = MAX_STEPS * MAX_SCALES) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Damaged(f"its {what} is not an integer between {low} and {high}")
    return value


def _number(value: Any, what: str, allow_inf: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and \
        (math.isfinite(value) or (allow_inf and value == math.inf))
    if not ok:
        raise Damaged(f"{what} is not a finite number")
    return float(value)


def _tensor(value: Any, what: str, shape: tuple[int, ...], low: float = -math.inf, high: float = math.inf
            ) -> torch.Tensor:
    """A float32 tensor of ``shape`` with finite values in [low, high]."""
    if not isinstance(value, torch.Tensor) or value.dtype != torch.float32 or tuple(value.shape) != shape:
        got = f"{str(value.dtype).replace('torch.', '')} {tuple(value.shape)}" if isinstance(value, torch.Tensor) \
            else type(value).__name__
        raise Damaged(f"its {what} is not a float32 tensor of shape {shape} (got {got})")
    if value.numel() and not (torch.isfinite(value).all() and value.min() >= low and value.max() <= high):
        raise Damaged(f"its {what} has values that are not finite or outside [{low:g}, {high:g}]")
    return value


def _numbers(value: Any, what: str, count: int | None = None) -> list[float]:
    if not isinstance(value, list) or (count is not None and len(value) != count):
        raise Damaged(f"its {what} is not a list" + (f" of {count} numbers" if count else ""))
    return [_number(v, f"an item of its {what}") for v in value]


def _image(value: Any, what: str, high: float) -> torch.Tensor:
    """A (1, 3, H, W) image with values in [0, high] (and float rounding)."""
    if not isinstance(value, torch.Tensor) or value.dim() != 4 or tuple(value.shape[:2]) != (1, 3) \
            or not 1 <= min(value.shape[2:]) <= max(value.shape[2:]) <= MAX_SIDE:
        raise Damaged(f"its {what} is not a (1, 3, H, W) image")
    slack = RANGE_TOLERANCE * high
    return _tensor(value, what, tuple(value.shape), -slack, high + slack)


def check_state(state: Any) -> dict[str, Any]:
    """The stepper's state (steppers.LBFGSStepper.state or AdamStepper.state), checked; see Checkpoint.from_dict."""
    if not isinstance(state, dict) or state.get("kind") not in ("lbfgs", "adam"):
        raise Damaged("its optimizer state is not an L-BFGS or Adam state")
    x = _image(state.get("x"), "image x", PIXEL_SCALE)
    flat = (x.numel(),)
    if state["kind"] == "adam":
        _check_adam(state, x)
        return state
    if state.get("loss") is not None:
        _number(state["loss"], "its loss")
    if state.get("grad") is not None:
        _tensor(state["grad"], "gradient", flat)
    pairs = [p if isinstance(p := state.get(k), list) else None for k in ("s", "y", "rho")]
    lists = [p for p in pairs if p is not None]
    if len(lists) != 3 or len({len(p) for p in lists}) != 1 or len(lists[0]) > MAX_PAIRS:
        raise Damaged(f"its L-BFGS pairs are not three lists of the same length (at most {MAX_PAIRS})")
    for s_, y_ in zip(lists[0], lists[1]):
        _tensor(s_, "L-BFGS step s", flat)
        _tensor(y_, "L-BFGS gradient change y", flat)
    if any(r <= 0 for r in _numbers(lists[2], "L-BFGS rho")):
        raise Damaged("its L-BFGS rho values are not positive")
    if state.get("aux") is not None:
        _numbers(state["aux"], "losses", 4)
    return state


ADAM_FLAGS = {"amsgrad": False, "maximize": False, "capturable": False, "differentiable": False}


def _check_adam(state: dict[str, Any], x: torch.Tensor) -> None:
    adam = state.get("adam")
    if not isinstance(adam, dict) or not isinstance(adam.get("state"), dict) or \
            not isinstance(adam.get("param_groups"), list) or len(adam["param_groups"]) != 1:
        raise Damaged("its Adam state is not one optimizer's state_dict")
    group = adam["param_groups"][0]
    if not isinstance(group, dict) or group.get("params") != [0] or set(adam["state"]) - {0}:
        raise Damaged("its Adam state is not for one image")
    if _number(group.get("lr"), "its Adam lr") <= 0 or _number(group.get("eps"), "its Adam eps") <= 0 or \
            _number(group.get("weight_decay"), "its Adam weight_decay") < 0:
        raise Damaged("its Adam lr, eps or weight_decay is out of range")
    betas = group.get("betas")
    if not isinstance(betas, (list, tuple)) or len(betas) != 2 or \
            not all(0 <= _number(b, "an Adam beta") < 1 for b in betas):
        raise Damaged("its Adam betas are not two numbers in [0, 1)")
    if any(group.get(k, v) is not v for k, v in ADAM_FLAGS.items()) or \
            any(group.get(k) not in (None, False) for k in ("foreach", "fused")):
        raise Damaged("its Adam options are not the ones stylo uses")
    if 0 in adam["state"]:
        moments = adam["state"][0]
        if not isinstance(moments, dict):
            raise Damaged("its Adam moments are not a table")
        step = moments.get("step")
        step = step.item() if isinstance(step, torch.Tensor) and step.numel() == 1 else step
        if _number(step, "its Adam step") < 0:
            raise Damaged("its Adam step is negative")
        _tensor(moments.get("exp_avg"), "Adam first moment", tuple(x.shape))
        _tensor(moments.get("exp_avg_sq"), "Adam second moment", tuple(x.shape), low=0)
    _number(state.get("best_loss"), "its best loss", allow_inf=True)
    if state.get("best_x") is not None:
        _tensor(state["best_x"], "best image", tuple(x.shape), -RANGE_TOLERANCE, 1 + RANGE_TOLERANCE)
    if state.get("best_parts") is not None:
        _numbers(state["best_parts"], "best losses", 4)


def check_fits(checkpoint: Checkpoint, levels: Sequence[tuple[tuple[int, int], int]]) -> None:
    """Refuse a checkpoint that does not fit the run about to resume: ``levels`` are its pyramid's (width, height)
    and steps, coarse to fine. (A checkpoint of other settings or inputs is refused by its key.)"""
    if checkpoint.level >= len(levels):
        raise Damaged(f"its pyramid level {checkpoint.level + 1} is not one of this run's {len(levels)}")
    (w, h), steps = levels[checkpoint.level]
    if tuple(checkpoint.state["x"].shape) != (1, 3, h, w):
        raise Damaged(f"its image is {tuple(checkpoint.state['x'].shape)}, not this level's (1, 3, {h}, {w})")
    if checkpoint.level_steps > steps or checkpoint.step != sum(n for _, n in levels[:checkpoint.level]) + \
            checkpoint.level_steps:
        raise Damaged(f"its step counts ({checkpoint.step}, {checkpoint.level_steps} on level "
                      f"{checkpoint.level + 1}) do not fit this run's levels")


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
        """Write atomically (a short temporary name beside it, then a rename); a failure is a :class:`RunError`."""
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name[:80]}.", suffix=".tmp")
        except OSError as exc:
            raise RunError(f"cannot write the checkpoint {shown(self.path)}: {exc.strerror or exc}") from None
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save(checkpoint.to_dict(), f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise RunError(f"cannot write the checkpoint {shown(self.path)}: {exc.strerror or exc}") from None
        finally:
            Path(tmp).unlink(missing_ok=True)
        self.last = time.monotonic()

    def load(self) -> Checkpoint:
        """The checkpoint, checked (:meth:`Checkpoint.from_dict`); a one-line error if there is none, it is not
        a regular file, or it cannot be read or used."""
        if not os.path.lexists(self.path):
            raise StyloError(f"nothing to resume: no checkpoint {shown(self.path)}")
        try:
            with open_regular(self.path, "checkpoint") as fh:
                data = torch.load(fh, map_location="cpu", weights_only=True)
            return Checkpoint.from_dict(data)
        except Damaged as exc:
            raise StyloError(f"cannot resume from the checkpoint {shown(self.path)}: {exc}; start again without "
                             "--resume") from None
        except StyloError:
            raise
        except Exception as exc:  # noqa: BLE001 - a truncated or foreign file
            raise StyloError(f"cannot read the checkpoint {shown(self.path)}: {exc.__class__.__name__}") from None

    def remove(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError:  # a finished run does not fail over a stale checkpoint (see render.check_checkpoint_path)
            pass
