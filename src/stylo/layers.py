"""VGG architectures and their named layers (``conv1_1``, ``relu4_2``, ``pool5``…), without torch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from stylo.errors import StyloError

Pooling = Literal["max", "avg", "l2"]
# Each pooling layer's output factor: unscaled, average pooling shrinks the activations the next layers see
# (relu5_1 at 0.19–0.28× max pooling's RMS) and L2 pooling inflates them (4.7–6.1×), so the loss weights tuned
# with max pooling would no longer balance. Fitted on the bundled Caffe VGG19 (benchmarks/pooling.py, six photos
# and paintings) so that the RMS after each pooling matches max pooling's: relu2_1…relu5_1 then lie within
# 0.77–1.18×. Peers use one factor (crowsonkb: 2 and 0.78). A deeper pooling than listed uses the last factor.
POOL_SCALES: dict[str, tuple[float, ...]] = {"max": (1.0,), "avg": (1.26, 1.42, 1.30, 1.79),
                                              "l2": (0.60, 0.65, 0.62, 0.75)}

# Channels per conv layer, "M" a pooling layer (torchvision's ``cfgs``).
ARCHITECTURES: dict[str, tuple[int | str, ...]] = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg13": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
              512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}
MODELS = tuple(ARCHITECTURES)
# The layers of Gatys et al. (2016): the report's defaults, and the fixed yardstick of stylo.metrics.
GATYS_CONTENT_LAYER = "relu4_2"
GATYS_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
# ω_l of the Wasserstein style loss (stylo.losses.wasserstein_distance), fitted on the look panel's ten photos so
# that each layer's term starts where the Gram term with ω_l = 1/N_l² starts (the ratios' geometric means,
# docs/benchmarks.md "Wasserstein style loss"); other layers get 1/N_l
WASSERSTEIN_WEIGHTS = {"relu1_1": 0.3, "relu2_1": 1.25, "relu3_1": 0.35, "relu4_1": 1.25, "relu5_1": 0.0075}


@dataclass(frozen=True)
class LayerInfo:
    """One named layer: its kind, output channels and how many poolings precede its output."""

    name: str
    kind: Literal["conv", "relu", "pool"]
    channels: int
    index: int  # position in ``features`` (torchvision numbering)
    downsamples: int  # poolings applied up to and including this layer


def table_of(architecture: Sequence[int | str]) -> tuple[LayerInfo, ...]:
    """All named layers of a VGG-style stack (channels per 3×3 conv, "M" a 2×2 pooling) in forward order."""
    out: list[LayerInfo] = []
    block, conv_i, channels, pools = 1, 0, 3, 0
    for item in architecture:
        if item == "M":
            pools += 1
            out.append(LayerInfo(f"pool{block}", "pool", channels, len(out), pools))
            block, conv_i = block + 1, 0
            continue
        conv_i += 1
        channels = int(item)
        out.append(LayerInfo(f"conv{block}_{conv_i}", "conv", channels, len(out), pools))
        out.append(LayerInfo(f"relu{block}_{conv_i}", "relu", channels, len(out), pools))
    return tuple(out)


def layer_table(model: str) -> tuple[LayerInfo, ...]:
    """All named layers of ``model`` in forward order."""
    if model not in ARCHITECTURES:
        raise StyloError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    return table_of(ARCHITECTURES[model])


@dataclass(frozen=True)
class Geometry:
    """Where a network's named layers sit on the image: each layer's stride (input pixels per position of its
    feature map) and reach (pixels of context one side that its positions depend on), in forward order.

    A backbone carries its own (``VGGFeatures.geometry``, computed from its modules); :func:`geometry` gives a
    named VGG's without building it."""

    strides: dict[str, int]
    reach: dict[str, int]

    @classmethod
    def of_table(cls, table: Sequence[LayerInfo]) -> Geometry:
        """A VGG stack's: each 3×3 convolution adds its input's stride to the reach; a 2×2 pooling doubles the
        stride and adds nothing on the left (it stays inside a cell on the right)."""
        strides: dict[str, int] = {}
        reach: dict[str, int] = {}
        total = 0
        for info in table:
            if info.kind == "conv":
                total += 2 ** info.downsamples
            strides[info.name], reach[info.name] = 2 ** info.downsamples, total
        return cls(strides, reach)

    def names(self) -> tuple[str, ...]:
        return tuple(self.strides)

    def deepest(self, names: Sequence[str]) -> str:
        """The layer of ``names`` that comes last in the forward pass: the network is cut after it."""
        order = {name: i for i, name in enumerate(self.strides)}
        return max(names, key=lambda name: order[name])

    def stride(self, name: str) -> int:
        """Input pixels per position of layer ``name``'s feature map."""
        return self.strides[name]

    def min_side(self, names: Sequence[str]) -> int:
        """Smallest image side (px) whose feature maps still have at least one position at every layer of
        ``names``: the deepest one's stride, which is also the grid that tiles keep."""
        return self.strides[self.deepest(names)]

    def halo(self, names: Sequence[str]) -> int:
        """Pixels of context each side of a tile so that its own positions at every layer of ``names`` are
        computed exactly as in the whole image: the reach of the convolutions up to the deepest layer, rounded
        up to its stride so that tiles keep the pooling grid."""
        last = self.deepest(names)
        grid = self.strides[last]
        return -(-self.reach[last] // grid) * grid


def geometry(model: str) -> Geometry:
    """The :class:`Geometry` of the named VGG ``model``."""
    return Geometry.of_table(layer_table(model))


def channels(model: str, name: str) -> int:
    """Output channels N_l of layer ``name``."""
    return next(info.channels for info in layer_table(model) if info.name == name)


def layer_names(model: str) -> tuple[str, ...]:
    return tuple(info.name for info in layer_table(model))


def check_layers(model: str, names: tuple[str, ...], what: str) -> None:
    """Raise a one-line error naming the first layer of ``names`` that ``model`` lacks."""
    known = {info.name for info in layer_table(model)}
    for name in names:
        if name not in known:
            raise StyloError(f"unknown {what} layer {name!r} for {model}; `stylo layers --model {model}` lists them")


def deepest_layer(model: str, names: tuple[str, ...]) -> LayerInfo:
    """The layer of ``names`` that comes last in the forward pass: the network is cut after it."""
    table = {info.name: info for info in layer_table(model)}
    return max((table[name] for name in names), key=lambda info: info.index)


def min_side(model: str, names: tuple[str, ...]) -> int:
    """Smallest image side (px) of ``model`` for the layers ``names`` (:meth:`Geometry.min_side`)."""
    return geometry(model).min_side(names)


def stride(model: str, name: str) -> int:
    """Input pixels per position of ``model``'s layer ``name`` (:meth:`Geometry.stride`)."""
    return geometry(model).stride(name)


def halo(model: str, names: tuple[str, ...]) -> int:
    """Tile context (px) of ``model`` for the layers ``names`` (:meth:`Geometry.halo`)."""
    return geometry(model).halo(names)
