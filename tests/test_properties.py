"""Property tests: whatever a user types, writes or sends, stylo either runs it (at a tiny size) or refuses it
with a :class:`StyloError`: exit 2 on the command line, a 4xx from the studio. Nothing else ever happens."""

from __future__ import annotations

import io
import json
import math
import os
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from stylo.cli import main
from stylo.config import FIELDS, HINTS, Settings, choices
from stylo.errors import StyloError
from stylo.image import decode_image
from stylo.layers import layer_names
from stylo.optimize import stylize_result
from stylo.options import flag
from stylo.settings_io import from_mapping

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


# Valid settings, drawn from each field's own bounds (FIELDS' metadata) and choices. Left out, because they are
# the machine's and not the settings': a device this machine lacks, fp16 on a CPU, a weights file, and sizes
# beyond a 1.5 GiB budget (every run here is at 64 px anyway).
COMMON_LAYERS = [n for n in layer_names("vgg19") if all(n in layer_names(m) for m in choices("model") or ())]
MACHINE_CHOICES = {"device": ("auto", "cpu"), "precision": ("auto", "fp32", "bf16")}
SIZE_LIMIT = 512  # px, output and style; with style_scale ≤ 2.5 a style image of at most 1280 px
DEPENDS = {"content_layer_weights": "content_layers", "style_layer_weights": "style_layers",
           "style_blend": "style_scale", "style_scale": "style_blend"}


def bounded(name: str) -> st.SearchStrategy[Any]:
    """A valid value of one setting on its own (tuples as tuples, the API's type)."""
    meta, hint = FIELDS[name].metadata, HINTS[name]
    low, high = meta["low"], meta["high"]
    allowed = MACHINE_CHOICES.get(name) or choices(name)
    if allowed:
        return st.sampled_from(allowed)
    if name == "weights":
        return st.none()
    if name == "max_memory":
        return st.sampled_from([None, "1.5G", "2GiB", "4096M", "16g", str(3 * 2**30)])
    if name in ("size", "style_size"):
        return st.integers(int(low), SIZE_LIMIT) | (st.none() if name == "style_size" else st.nothing())
    if name == "lr":
        return st.none() | st.floats(0, high, exclude_min=True)
    optional = type(None) in typing.get_args(hint)
    if int in (hint, *typing.get_args(hint)):
        values: st.SearchStrategy[Any] = st.integers(int(low), int(high))
    else:
        values = st.floats(low, high)
    return st.none() | values if optional else values


@st.composite
def valid_settings(draw: st.DrawFn) -> dict[str, Any]:
    """Up to five settings changed from the defaults, together valid: layer weights as many as the layers, as
    many style_blend weights (not all 0) as style_scale values, layers that every model has."""
    keys = set(draw(st.lists(st.sampled_from(NAMES), max_size=5, unique=True)))
    keys |= {DEPENDS[k] for k in keys if k in DEPENDS}
    data = {k: draw(bounded(k)) for k in keys if k not in DEPENDS and k not in ("content_layers", "style_layers")}
    n_styles = draw(st.integers(1, 3))
    if "style_blend" in keys:
        blend = draw(st.none() | st.lists(st.floats(0, 1e6), min_size=n_styles, max_size=n_styles)
                     .filter(lambda w: sum(w) > 0).map(tuple))
        scale = draw(st.none() | st.lists(st.floats(0.05, 2.5), min_size=n_styles, max_size=n_styles).map(tuple))
        data.update(style_blend=blend, style_scale=scale)
    for what, least in (("content", 0), ("style", 1)):
        if f"{what}_layers" in keys:
            names = tuple(draw(st.lists(st.sampled_from(COMMON_LAYERS), min_size=least, max_size=3)))
            data[f"{what}_layers"] = names
            if f"{what}_layer_weights" in keys:
                data[f"{what}_layer_weights"] = draw(st.none() | st.lists(
                    st.floats(0, 1e12), min_size=len(names), max_size=len(names)).map(tuple))
    return data


def invalid_value(name: str) -> st.SearchStrategy[Any]:
    """A value that setting ``name`` must refuse, whatever the other settings are: out of its bounds, of the wrong
    type, not one of its choices, NaN or infinite, or a list that is too long or holds one bad item."""
    meta, hint = FIELDS[name].metadata, HINTS[name]
    low, high = meta["low"], meta["high"]
    optional = type(None) in typing.get_args(hint)
    wrong: st.SearchStrategy[Any] = st.sampled_from([{"a": 1}, [[1]]] + ([] if optional else [None]))
    allowed = choices(name)
    if allowed:
        return wrong | st.integers() | st.text(max_size=12).filter(lambda v: v not in allowed)
    if name in ("content_layers", "style_layers"):
        return wrong | st.sampled_from([("relu9_9",), ("relu1_1", 3), ("relu4_2",) * 40, ("pool9",)])
    if name == "max_memory":
        return wrong | st.sampled_from(["100M", "x", "", "8 gigs", "9" * 400, "-2G"]) | st.integers()
    if name == "weights":
        return wrong | st.sampled_from(["", "a\0b", "x" * 5000]) | st.integers()
    below = st.floats(max_value=float(low)).filter(lambda v: v < low)
    above = st.floats(min_value=float(high)).filter(lambda v: v > high) if high is not None else st.nothing()
    numbers = below | above | st.sampled_from([math.nan, math.inf, -math.inf])
    if any(typing.get_origin(h) is tuple for h in (hint, *typing.get_args(hint))):  # tuples of numbers
        bad = numbers | st.just("1")
        return wrong | st.tuples(bad) | st.tuples(st.just(1.0), bad) | st.just((1.0,) * 40) | st.just("1")
    if int in (hint, *typing.get_args(hint)):
        beyond = st.integers(min_value=int(high) + 1) if high is not None else st.nothing()
        return wrong | numbers | st.integers(max_value=int(low) - 1) | beyond | st.sampled_from([True, 2.0, "3"])
    return wrong | numbers | st.sampled_from([True, "3"] + ([0.0] if name == "lr" else []))


@st.composite
def invalid_settings(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """Valid settings with setting ``name`` made invalid."""
    return {**draw(valid_settings()), name: draw(invalid_value(name))}


def refuses(exc: StyloError, name: str) -> None:
    """A refusal is one line and names the setting it refuses (its field, or a layer list's kind)."""
    text = str(exc)
    assert text and "\n" not in text, text
    assert name in exc.settings or name in text or name.replace("_layers", " layer") in text, (name, text)


def tiny(s: Settings) -> Settings:
    """The same settings at a size that runs in a moment (64 × 48: pool5's 32 px fit)."""
    return s.replace(size=64, steps=1, coarse_steps=1, style_size=None if s.style_size is None else 64,
                     style_scale=None if s.style_scale is None else (1.0,) * len(s.style_scale))


def run_tiny(s: Settings, content: Image.Image, style: Image.Image) -> None:
    n = len(s.style_scale or s.style_blend or (1,))
    result = stylize_result(content, [style] * n, tiny(s))
    assert result.image.size == (64, 48) and result.steps >= 1


@pytest.fixture(autouse=True)
def _tiny_network(tiny_everywhere) -> None:
    """Every run here is on the tiny backbone: what is tested is the settings' path, not VGG19's values."""


@pytest.fixture(scope="module")
def pair(small_images) -> tuple[Image.Image, Image.Image]:
    return Image.open(small_images[0]).convert("RGB"), Image.open(small_images[1]).convert("RGB")


@FAST
@given(data=valid_settings())
def test_valid_api_settings_run(pair, data: dict[str, Any]) -> None:
    run_tiny(Settings(**data), *pair)  # no StyloError, nothing else either


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(data=st.data())
def test_invalid_api_settings_are_refused_with_one_line(name: str, data: st.DataObject) -> None:
    case = data.draw(invalid_settings(name))
    with pytest.raises(StyloError) as exc:
        Settings(**case)
    refuses(exc.value, name)


def as_json(data: dict[str, Any]) -> Any:
    return json.loads(json.dumps(data, allow_nan=True))  # tuples become lists, as a file or a request has them


@FAST
@given(data=valid_settings())
def test_valid_json_mappings_are_the_api_settings(data: dict[str, Any]) -> None:
    """A valid mapping is accepted and means what the same API arguments mean (which run: the test above)."""
    assert from_mapping(as_json(data), source="json") == Settings(**data)


@pytest.mark.parametrize("name", NAMES)
@FAST
@given(data=st.data())
def test_invalid_json_mappings_are_refused_with_one_line(name: str, data: st.DataObject) -> None:
    case = data.draw(invalid_settings(name))
    with pytest.raises(StyloError) as exc:
        from_mapping(as_json(case), source="json")
    refuses(exc.value, name)


@FAST
@given(data=setting_maps())
def test_garbage_mappings_run_or_are_refused_with_one_line(pair, data: dict[str, Any]) -> None:
    """Anything at all: refused with one line, or it is valid and then it runs."""
    try:
        blob = json.loads(json.dumps(data, allow_nan=True))
    except ValueError:  # not JSON at all (an integer of 5000 digits)
        return
    try:
        s = from_mapping(blob, source="json")
    except StyloError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    if s.weights is None and s.device in MACHINE_CHOICES["device"] and s.precision != "fp16":
        run_tiny(s, *pair)


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
