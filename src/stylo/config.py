"""One frozen, typed settings dataclass: every knob the report tuned (§4.2), each default in one place.

Each field carries its help text, bounds and command-line form in its metadata: the CLI's flags
(:mod:`stylo.options`), the README's option table, TOML files, sweeps, the API and the studio are all built
from it, and :func:`validate` checks every value against its type hint and bounds once, for all of them.
Every output PNG records the settings.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from stylo.budget import MIN_BUDGET, parse_memory
from stylo.errors import StyloError
from stylo.layers import (
    GATYS_CONTENT_LAYER,
    GATYS_STYLE_LAYERS,
    MODELS,
    WASSERSTEIN_WEIGHTS,
    Pooling,
    channels,
    check_layers,
)

Optimizer = Literal["lbfgs", "adam"]
Init = Literal["feedforward", "content", "noise", "style"]
Device = Literal["auto", "cpu", "cuda", "mps"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]
Model = Literal["vgg19", "vgg16", "vgg13", "vgg11"]
DEFAULT_LR = {"lbfgs": 1.0, "adam": 0.02}
MAX_WEIGHT = 1e12  # loss weights beyond this overflow bf16 activations' products
MAX_STEPS = 100_000
MAX_SCALES = 8  # 2^7 = 128× smaller than the output: below the network's 16 px at any printable size
MAX_ITEMS = 32  # layers, layer weights, styles
MAX_SIDE = 65_536  # px: no side of any image goes beyond this, whatever the memory budget
MAX_SIZE = 16_384  # px: the longest output (and style) side, a fixed bound, whatever the budget allows
MAX_DEPTH = 16  # nesting of a settings file's tables and lists (real ones: 3)
# Settings that belong to the machine a run is on, not to the picture: --config-from takes none of them from a
# PNG (a PNG must not choose a file to open, a download, a device or a memory budget).
MACHINE_FIELDS = ("model", "weights", "device", "precision", "max_memory", "tile")


def setting(default: Any, help: str, *, metavar: str | None = None, default_text: str | None = None,
            low: float | None = None, high: float | None = None, csv: bool = False, web: bool = True) -> Any:
    """A field with its help text and bounds. ``csv``: the flag takes ``A,B`` instead of ``A B``;
    ``web``: the studio may set it (server paths and devices are the server's to choose)."""
    meta = {"help": help, "metavar": metavar, "default_text": default_text, "low": low, "high": high, "csv": csv,
            "web": web}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Settings:
    """Everything that decides a stylization. Images are RGB in [0, 1]; sizes are the long side in px."""

    # Objective (Eq. 7): α·L_content + β·L_style (+ tv_weight·TV)
    content_weight: float = setting(1.0, "α of Eq. 7", metavar="ALPHA", low=0, high=MAX_WEIGHT)
    style_weight: float = setting(20.0, "β of Eq. 7 (α/β = 5·10⁻², neural-style's balance; the report's 10⁻³ "
                                  "pastes the painting's objects)", metavar="BETA", low=0, high=MAX_WEIGHT)
    tv_weight: float = setting(1e7, "total-variation smoothing (a light default against VGG's grain)", metavar="X",
                               low=0, high=MAX_WEIGHT)
    normalization: Literal["mean", "paper"] = setting("mean", "loss normalization, see below")
    style_loss: Literal["gram", "wasserstein"] = setting(
        "gram", "style statistic: gram = Gatys' Gram matrices; wasserstein = the 2-Wasserstein distance between "
        "Gaussians fitted to the features (their means and covariances)")
    content_layers: tuple[str, ...] = setting((GATYS_CONTENT_LAYER,), "content layers", metavar="L")
    content_layer_weights: tuple[float, ...] | None = setting(
        None, "per-layer weights of the content loss", metavar="W", default_text="1 each", low=0, high=MAX_WEIGHT)
    style_layers: tuple[str, ...] = setting(GATYS_STYLE_LAYERS, "style layers", metavar="L")
    style_layer_weights: tuple[float, ...] | None = setting(
        None, "ω_l of Eq. 5 (N_l = channels of layer l)", metavar="W",
        default_text="1/N_l² each (gram), fitted (wasserstein)", low=0, high=MAX_WEIGHT)
    # Network
    model: Model = setting("vgg19", "backbone", web=False)
    weights: str | None = setting(None, "a torchvision VGG state-dict file", metavar="PATH",
                                  default_text="bundled Caffe VGG19", web=False)
    pooling: Pooling = setting("max", "pooling layers of the network (avg and l2 rescaled to max's activation size)")
    # Optimization
    optimizer: Optimizer = setting("lbfgs", "image optimizer")
    steps: int = setting(6, "optimizer steps at the full size", metavar="N", low=1, high=MAX_STEPS)
    coarse_steps: int = setting(12, "steps on each smaller pyramid level (a step there costs ¼ or 1/16)",
                                metavar="N", low=1, high=MAX_STEPS)
    lr: float | None = setting(None, "L-BFGS: largest pixel change of its first step, in 0–255 units; "
                               "Adam: step size in [0, 1] image units", metavar="X",
                               default_text="1 (L-BFGS), 0.02 (Adam)", low=0, high=1e3)
    scales: int = setting(2, "coarse-to-fine levels (each half the size of the next); 1 = full size only",
                          metavar="N", low=1, high=MAX_SCALES)
    coarsest: int = setting(256, "long side of the smallest pyramid level; smaller levels are skipped (they "
                            "paste the painting's objects) and give their steps to the first level kept",
                            metavar="PX", low=16, high=MAX_SIZE)
    init: Init = setting("feedforward", "starting image: feedforward = a feed-forward network's painting "
                         "(Magenta's, in a fraction of a second), content = the photo")
    init_lowpass: int = setting(2, "feed-forward start: the network's picture blurred by a Gaussian of σ = N/2 px "
                                "plus the photo's detail finer than that (the network's own fine texture would "
                                "survive a short run); 1 = the picture as is, as always in luminance mode (there "
                                "it only gives texture)", metavar="N", low=1, high=64)
    seed: int | None = setting(None, "random seed; recorded in the output either way", metavar="N",
                               default_text="drawn", low=0, high=2**63 - 1)
    # Images
    size: int = setting(512, "long side of the output in px (at most what max_memory allows)", metavar="PX",
                        low=16, high=MAX_SIZE)
    style_size: int | None = setting(None, "long side of the style image (by default it is resized to the "
                                     "content image's area, aspect kept)", metavar="PX",
                                     default_text="content's area", low=16, high=MAX_SIZE)
    resample: Literal["lanczos", "bicubic", "bilinear"] = setting("lanczos", "resize filter for the inputs")
    # Control (Gatys et al. 2017)
    preserve_color: Literal["none", "luminance", "histogram"] = setting(
        "none", "keep the content's colours (Gatys et al. 2017 §5)")
    style_blend: tuple[float, ...] | None = setting(None, "weights of several style images, e.g. 3,7",
                                                    metavar="W,W", default_text="equal", low=0, high=1e6, csv=True)
    style_scale: tuple[float, ...] | None = setting(
        None, "each style image's size relative to the default (bigger = larger brush strokes)", metavar="S,S",
        default_text="1 each", low=0.05, high=20, csv=True)
    # Video (Ruder et al. 2016)
    temporal_weight: float = setting(1e7, "video: weight of the temporal loss that keeps each frame close to the "
                                     "previous one warped by optical flow; 0 = each frame on its own", metavar="X",
                                     low=0, high=MAX_WEIGHT)
    # Execution
    device: Device = setting("auto", "where to compute", web=False)
    precision: Precision = setting("auto", "auto: bf16 autocast on CPUs with AVX512-BF16/AMX and on GPUs, else fp32")
    max_memory: str | None = setting(None, "memory budget, e.g. 8G: picks the tiling and bounds --size",
                                     metavar="SIZE", default_text="30 % of RAM (of GPU memory on a GPU)", web=False)
    tile: int | None = setting(None, "score images in tiles of this many px a side (exact: the same result, "
                               "slower, less memory)", metavar="PX", default_text="from max_memory", low=64,
                               high=MAX_SIDE, web=False)

    def __post_init__(self) -> None:
        validate(self)

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}


FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in fields(Settings)}
HINTS: dict[str, Any] = typing.get_type_hints(Settings)


def choices(name: str) -> tuple[str, ...] | None:
    """The allowed values of a Literal-typed setting, or None."""
    hint = HINTS[name]
    return typing.get_args(hint) if typing.get_origin(hint) is Literal else None


def base_type(hint: Any) -> tuple[Any, bool]:
    """(the hint without ``| None``, whether None is allowed)."""
    args = typing.get_args(hint)
    if type(None) in args and typing.get_origin(hint) is not Literal:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return hint, False


def bad_value(name: str, what: str, value: Any) -> StyloError:
    return StyloError(f"{name} must be {what}, got {clipped(value)}", settings=(name,))


def _check_number(name: str, value: Any, kind: type, low: float | None, high: float | None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
        raise bad_value(name, "an integer" if kind is int else "a number", value)
    if kind is float and not math.isfinite(value):
        raise bad_value(name, "a finite number", value)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
        raise bad_value(name, bounds, value)


def check_value(name: str, value: Any) -> None:
    """Raise :class:`StyloError` unless ``value`` has the type of setting ``name`` and lies in its bounds."""
    meta = FIELDS[name].metadata
    hint, optional = base_type(HINTS[name])
    if value is None:
        if optional:
            return
        raise bad_value(name, "set", value)
    allowed = choices(name)
    if allowed is not None:
        if not isinstance(value, str) or value not in allowed:
            raise StyloError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}", settings=(name,))
        return
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        if not isinstance(value, tuple) or len(value) > MAX_ITEMS:
            raise bad_value(name, f"a list of at most {MAX_ITEMS} items", value)
        for v in value:
            if item is str:
                if not isinstance(v, str):
                    raise bad_value(name, "a list of layer names", value)
            else:
                _check_number(name, v, float, meta["low"], meta["high"])
        return
    if hint is str:
        if not isinstance(value, str) or not 0 < len(value) <= 4096 or "\0" in value:
            raise bad_value(name, "a text", value)
        return
    _check_number(name, value, hint, meta["low"], meta["high"])


def validate(s: Settings) -> None:
    """Raise :class:`StyloError` naming the first bad field. Every limit of stylo lives here."""
    for name in FIELDS:
        check_value(name, getattr(s, name))
    if s.lr == 0:
        raise StyloError("lr must be > 0", settings=("lr",))
    if not s.content_layers and not s.style_layers:
        raise StyloError("no content and no style layers: nothing to optimize")
    if s.style_blend is not None and not sum(s.style_blend) > 0:
        raise StyloError("style_blend weights must not all be 0", settings=("style_blend",))
    check_layers(s.model, s.content_layers, "content")
    check_layers(s.model, s.style_layers, "style")
    for what, names, weights in (("content", s.content_layers, s.content_layer_weights),
                                 ("style", s.style_layers, s.style_layer_weights)):
        if weights is not None and len(weights) != len(names):
            raise StyloError(f"{len(weights)} {what}_layer_weights given for {len(names)} {what}_layers",
                             settings=(f"{what}_layer_weights", f"{what}_layers"))
    check_sizes(s)


def check_sizes(s: Settings) -> None:
    """Sizes within the fixed bounds, the same on every machine. Whether a size fits this machine's memory is the
    plan's decision (stylo.optimize.level_plans through stylo.plan.memory_budget), not the settings'."""
    if s.max_memory is not None and parse_memory(s.max_memory) < MIN_BUDGET:  # its form and floor only
        raise StyloError(f"max_memory must be at least 1G, got {s.max_memory!r}", settings=("max_memory",))
    style_side = (s.style_size or s.size) * max(s.style_scale or (1.0,))
    if style_side > MAX_SIZE:
        raise StyloError(f"style_scale makes the style image {style_side:.0f} px, more than {MAX_SIZE} px",
                         settings=("style_scale",))


def style_layer_weights(s: Settings) -> dict[str, float]:
    """ω_l of Eq. 5 per style layer; the default 1/N_l² weights shallow layers more, as the report intends
    (the Wasserstein loss: weights that start each layer where the Gram loss starts, see WASSERSTEIN_WEIGHTS)."""
    if s.style_layer_weights is not None:
        return dict(zip(s.style_layers, s.style_layer_weights))
    if s.style_loss == "wasserstein":
        return {name: WASSERSTEIN_WEIGHTS.get(name, 1.0 / channels(s.model, name)) for name in s.style_layers}
    return {name: 1.0 / channels(s.model, name) ** 2 for name in s.style_layers}


def content_layer_weights(s: Settings) -> dict[str, float]:
    weights = s.content_layer_weights or (1.0,) * len(s.content_layers)
    return dict(zip(s.content_layers, weights))


def clipped(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to about ``limit`` characters (a value of 5000 digits stays one short line)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an integer beyond Python's 4300 digits, a structure nested too deep
        text = f"a {type(value).__name__} too large to show"
    return text if len(text) <= limit else text[: limit - 3] + "..."


WEB_FIELDS = {name for name, f in FIELDS.items() if f.metadata["web"]}


assert set(typing.get_args(Model)) == set(MODELS), "config.Model must list layers.ARCHITECTURES"
