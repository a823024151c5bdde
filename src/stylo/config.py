"""One frozen, typed settings dataclass: every knob the report tuned (§4.2), each default in one place.

The CLI's flags and a TOML file (``--config``) map onto these fields by name; every output PNG records them.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from stylo.errors import StyloError
from stylo.layers import MODELS, check_layers, layer_table

Optimizer = Literal["lbfgs", "adam"]
Init = Literal["content", "noise", "style"]
Device = Literal["auto", "cpu", "cuda", "mps"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]

CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": ("lbfgs", "adam"),
    "init": ("content", "noise", "style"),
    "device": ("auto", "cpu", "cuda", "mps"),
    "precision": ("auto", "fp32", "bf16", "fp16"),
    "pooling": ("max", "avg"),
    "normalization": ("mean", "paper"),
    "resample": ("lanczos", "bicubic", "bilinear"),
    "preserve_color": ("none", "luminance", "histogram"),
    "model": MODELS,
}
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}


@dataclass(frozen=True)
class Settings:
    """Everything that decides a stylization. Images are RGB in [0, 1]; sizes are the long side in px."""

    # Objective (Eq. 7): α·L_content + β·L_style (+ tv_weight·TV)
    content_weight: float = 1.0  # α
    style_weight: float = 1e3  # β; α/β = 1e-3, the report's chosen ratio
    tv_weight: float = 0.0
    normalization: Literal["mean", "paper"] = "mean"  # see stylo.losses
    content_layers: tuple[str, ...] = ("relu4_2",)
    content_layer_weights: tuple[float, ...] | None = None  # None: 1 each
    style_layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    style_layer_weights: tuple[float, ...] | None = None  # None: ω_l = 1/N_l² (N_l channels)
    # Network
    model: str = "vgg19"
    weights: str | None = None  # torchvision state-dict file; None: bundled Caffe VGG19 / hub cache
    pooling: Literal["max", "avg"] = "max"
    # Optimization
    optimizer: Optimizer = "lbfgs"
    steps: int = 22  # steps at the final (full) size
    coarse_steps: int = 50  # steps at each coarser pyramid level (4× and 16× cheaper per step)
    lr: float | None = None  # None: 1.0 for L-BFGS, 0.02 for Adam
    scales: int = 3  # coarse-to-fine pyramid levels; see stylo.optimize.scale_sizes
    init: Init = "content"
    seed: int | None = None  # None: drawn, and recorded in the output
    # Images
    size: int = 512  # long side of the output, px
    style_size: int | None = None  # long side of the style image; None: the content's area, aspect kept
    resample: Literal["lanczos", "bicubic", "bilinear"] = "lanczos"  # filter for resizing the inputs
    # Control (Gatys et al. 2017)
    preserve_color: Literal["none", "luminance", "histogram"] = "none"
    style_blend: tuple[float, ...] | None = None  # one weight per style image, normalized; None: equal
    style_scale: tuple[float, ...] | None = None  # per style image, its size relative to the default
    # Execution
    device: Device = "auto"
    precision: Precision = "auto"

    def __post_init__(self) -> None:
        validate(self)

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}


def _check_weight(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value) or value < 0:
        raise StyloError(f"{name} must be a number >= 0, got {value!r}")
    if math.isinf(value):
        raise StyloError(f"{name} must be finite, got {value!r}")


def validate(s: Settings) -> None:
    """Raise :class:`StyloError` naming the first bad field."""
    for key, allowed in CHOICES.items():
        if getattr(s, key) not in allowed:
            raise StyloError(f"unknown {key} {getattr(s, key)!r}; choose one of {', '.join(allowed)}")
    for key in ("content_weight", "style_weight", "tv_weight"):
        _check_weight(key.replace("_", "-"), getattr(s, key))
    if s.lr is not None:
        _check_weight("lr", s.lr)
        if s.lr == 0:
            raise StyloError("lr must be > 0")
    for key, minimum in (("steps", 1), ("coarse_steps", 1), ("scales", 1), ("size", 16)):
        value = getattr(s, key)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise StyloError(f"{key} must be an integer >= {minimum}, got {value!r}")
    if s.style_size is not None and (not isinstance(s.style_size, int) or s.style_size < 16):
        raise StyloError(f"style-size must be an integer >= 16, got {s.style_size!r}")
    if s.seed is not None and (not isinstance(s.seed, int) or not 0 <= s.seed < 2**63):
        raise StyloError(f"seed must be an integer in [0, 2^63), got {s.seed!r}")
    if not s.content_layers and not s.style_layers:
        raise StyloError("no content and no style layers: nothing to optimize")
    if s.style_blend is not None:
        for w in s.style_blend:
            _check_weight("style-blend weight", w)
        if not sum(s.style_blend) > 0:
            raise StyloError("style-blend weights must not all be 0")
    if s.style_scale is not None:
        for v in s.style_scale:
            _check_weight("style-scale", v)
            if not 0.05 <= v <= 20:
                raise StyloError(f"style-scale must be between 0.05 and 20, got {v!r}")
    check_layers(s.model, s.content_layers, "content")
    check_layers(s.model, s.style_layers, "style")
    for what, names, weights in (
        ("content", s.content_layers, s.content_layer_weights),
        ("style", s.style_layers, s.style_layer_weights),
    ):
        if weights is None:
            continue
        if len(weights) != len(names):
            raise StyloError(f"{len(weights)} {what}-layer weights given for {len(names)} {what} layers")
        for w in weights:
            _check_weight(f"{what}-layer weight", w)


def style_layer_weights(s: Settings) -> dict[str, float]:
    """ω_l of Eq. 5 per style layer; the default 1/N_l² weights shallow layers more, as the report intends."""
    if s.style_layer_weights is not None:
        return dict(zip(s.style_layers, s.style_layer_weights))
    channels = {info.name: info.channels for info in layer_table(s.model)}
    return {name: 1.0 / channels[name] ** 2 for name in s.style_layers}


def content_layer_weights(s: Settings) -> dict[str, float]:
    weights = s.content_layer_weights or (1.0,) * len(s.content_layers)
    return dict(zip(s.content_layers, weights))


_TUPLE_FIELDS = {"content_layers", "style_layers", "content_layer_weights", "style_layer_weights", "style_blend",
                 "style_scale"}
_FIELD_NAMES = {f.name for f in fields(Settings)}


def from_mapping(data: dict[str, Any], base: Settings | None = None, source: str = "settings") -> Settings:
    """``base`` (default: the defaults) with the fields of ``data`` replaced; unknown keys are an error."""
    changes: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in _FIELD_NAMES:
            raise StyloError(f"unknown setting {key!r} in {source}")
        if name in _TUPLE_FIELDS and value is not None:
            value = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        if name in {"content_weight", "style_weight", "tv_weight", "lr"} and isinstance(value, int):
            value = float(value)
        changes[name] = value
    return dataclasses.replace(base or Settings(), **changes)


def load_toml(path: Path, base: Settings | None = None) -> Settings:
    """Settings from a TOML file whose top-level keys are field names (``style_weight = 1e4``)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StyloError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise StyloError(f"cannot read config file {path}: {exc}") from None
    return from_mapping(data, base, source=str(path))

