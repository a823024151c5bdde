"""Property tests: whatever a user types, writes or sends, stylo either runs it (at a tiny size) or refuses it
with a :class:`StyloError`: exit 2 on the command line, a 4xx from the studio. Nothing else ever happens."""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from stylo.cli import main
from stylo.config import FIELDS, Settings, choices, from_mapping
from stylo.errors import StyloError
from stylo.image import decode_image
from stylo.optimize import stylize_result
from stylo.options import flag

from .conftest import require

NAMES = sorted(FIELDS)
FAST = settings(max_examples=int(os.environ.get("STYLO_PROPERTY_EXAMPLES", "25")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1", "conv3_3", "pool2", "relu9_9"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=12), st.sampled_from(["1e300", "-0", "nan", "8G", "vgg16", "lbfgs", "relu4_2"]))
garbage = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)


def plausible(name: str) -> st.SearchStrategy[Any]:
    """Values of the right type near and past their bounds, so that many examples are accepted."""
    allowed = choices(name)
    if allowed:
        return st.sampled_from(allowed)
    if name in ("content_layers", "style_layers"):
        return st.lists(st.sampled_from(LAYERS), max_size=3)
    if name in ("content_layer_weights", "style_layer_weights", "style_blend"):
        return st.lists(st.floats(-1, 1e3), min_size=1, max_size=5)
    if name == "style_scale":
        return st.lists(st.floats(0.01, 30), min_size=1, max_size=1)
    if name in ("size", "style_size"):
        return st.integers(0, 80) | st.integers(10**4, 10**7)
    if name in ("steps", "coarse_steps", "scales"):
        return st.integers(-2, 3) | st.integers(9, 10**6)
    if name == "max_memory":
        return st.sampled_from(["2G", "1.5GiB", "100M", "x", "", "9" * 400])
    if name == "weights":
        return st.sampled_from(["/nonexistent.pth", "", "\0"])
    return st.floats(-10, 1e4) | st.integers(-5, 2**64)


@st.composite
def setting_maps(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(NAMES), max_size=4, unique=True))
    return {k: draw(st.one_of(plausible(k), garbage)) for k in keys}


def tiny(s: Settings) -> Settings:
    """The same settings at a size that runs in a moment."""
    return s.replace(size=32, steps=1, coarse_steps=1, style_size=None if s.style_size is None else 32,
                     style_scale=None if s.style_scale is None else (1.0,) * len(s.style_scale))


def run_tiny(s: Settings, content: Image.Image, style: Image.Image) -> None:
    n = len(s.style_scale or s.style_blend or (1,))
    stylize_result(content, [style] * n, tiny(s))


@pytest.fixture(autouse=True)
def _tiny_network(tiny_everywhere) -> None:
    """Every run here is on the tiny backbone: what is tested is the settings' path, not VGG19's values."""


@pytest.fixture(scope="module")
def pair(small_images) -> tuple[Image.Image, Image.Image]:
    return Image.open(small_images[0]).convert("RGB"), Image.open(small_images[1]).convert("RGB")


@FAST
@given(data=setting_maps())
def test_api_settings_run_or_raise_stylo_error(pair, data: dict[str, Any]) -> None:
    try:
        s = Settings(**data)
    except StyloError:
        return
    try:
        run_tiny(s, *pair)
    except StyloError:
        pass  # e.g. weights that are not there offline, fp16 on a CPU


@FAST
@given(data=setting_maps())
def test_mappings_json_and_toml_run_or_raise_stylo_error(pair, tmp_path_factory, data: dict[str, Any]) -> None:
    try:
        blob = json.loads(json.dumps(data, allow_nan=True))
    except ValueError:
        return
    try:
        s = from_mapping(blob, source="json")
    except StyloError:
        return
    try:
        run_tiny(s, *pair)
    except StyloError:
        pass


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v if x is not None) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items() if x is not None) + "}"
    raise TypeError(type(v))


@FAST
@given(data=setting_maps())
def test_toml_files_and_flags_exit_0_or_2(small_images, tmp_path_factory, capsys, data: dict[str, Any]) -> None:
    folder = tmp_path_factory.mktemp("toml")
    cfg = folder / "s.toml"
    cfg.write_text("".join(f"{k} = {toml_value(v)}\n" for k, v in data.items() if v is not None))
    out = folder / "o.png"
    code = cli(["run", str(small_images[0]), str(small_images[1]), "-o", str(out), "--config", str(cfg),
                "--size", "32", "--steps", "1", "--coarse-steps", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err, err
    assert out.exists() == (code == 0)


def cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@FAST
@given(flags=st.lists(st.tuples(st.sampled_from(NAMES), st.one_of(st.text(max_size=10), scalars.map(str))),
                      max_size=4))
def test_command_line_flags_exit_0_or_2(small_images, tmp_path_factory, capsys, flags: list[tuple[str, str]]) -> None:
    argv = [part for name, value in flags for part in (flag(name), value)]
    out = tmp_path_factory.mktemp("flags") / "o.png"
    code = cli(["run", str(small_images[0]), str(small_images[1]), "-o", str(out), *argv,
                "--size", "32", "--steps", "1", "--coarse-steps", "1", "--style-size", "none", "--quiet"])
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err, err
    if code == 2:
        assert err.startswith("stylo: ") and err.count("\n") == 1


@pytest.fixture(scope="module")
def studio(tmp_path_factory, small_images):
    require("fastapi")
    from fastapi.testclient import TestClient

    from stylo.web.app import create_app

    with TestClient(create_app(tmp_path_factory.mktemp("studio")), base_url="http://127.0.0.1") as client:
        with small_images[0].open("rb") as fh:
            upload = client.post("/api/uploads", files={"file": ("a.png", fh, "image/png")}).json()["id"]
        yield client, upload


@FAST
@given(data=setting_maps(), labels=st.tuples(garbage, garbage))
def test_studio_answers_2xx_or_4xx(studio, data: dict[str, Any], labels: tuple[Any, Any]) -> None:
    from .web.conftest import wait_done

    client, upload = studio
    try:
        body = json.dumps({"content": upload, "style": upload, "content_label": labels[0],
                           "style_label": labels[1], "settings": data})
    except ValueError:
        return
    res = client.post("/api/runs", content=body, headers={"content-type": "application/json"})
    assert res.status_code in (201, 400, 422), res.text
    if res.status_code != 201:
        assert res.json()["error"]
        return
    run = res.json()
    client.post(f"/api/runs/{run['id']}/cancel")
    done = wait_done(client, run["id"], timeout=60)
    assert done["status"] in ("done", "cancelled", "failed")
    assert not (done.get("error") or "").startswith("internal error"), done["error"]


def seeds() -> list[bytes]:
    out = []
    img = Image.new("RGB", (24, 20), (10, 200, 30))
    img.putpixel((3, 4), (250, 0, 0))
    for fmt, kwargs in (("PNG", {}), ("JPEG", {"quality": 80}), ("GIF", {}), ("PNG", {"bits": 4}),
                        ("WEBP", {}), ("BMP", {}), ("TIFF", {})):
        buf = io.BytesIO()
        (img.convert("P") if fmt == "GIF" else img).save(buf, format=fmt, **kwargs)
        out.append(buf.getvalue())
    return out


SEEDS = seeds()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "overwrite"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            blob = draw(st.binary(min_size=1, max_size=8))
            data[at:at + len(blob)] = blob
    return bytes(data)


@settings(max_examples=int(os.environ.get("STYLO_FUZZ_EXAMPLES", "300")), deadline=None)
@given(blob=mutated())
def test_the_decoder_returns_rgb_or_raises_stylo_error(blob: bytes) -> None:
    try:
        img = decode_image(io.BytesIO(blob), "upload")
    except StyloError as exc:
        assert str(exc).startswith("upload is") and "\n" not in str(exc)
        return
    assert img.mode == "RGB" and img.width > 0 and img.height > 0


def test_the_fuzz_seeds_decode(tmp_path: Path) -> None:
    for blob in SEEDS:
        assert decode_image(io.BytesIO(blob)).size == (24, 20)
