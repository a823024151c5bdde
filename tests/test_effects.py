"""Every setting must act: changing it changes the output (or the value it must change), in the expected
direction where there is one. A flag that is parsed, recorded and then ignored fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from stylo import losses, optimize
from stylo.backbones import load_backbone
from stylo.config import FIELDS, Settings
from stylo.image import resize, to_tensor
from stylo.layers import POOL_SCALES
from stylo.objective import Objective, compute_targets

BASE_ARGS: dict[str, Any] = {"size": 48, "steps": 3, "coarse_steps": 2, "scales": 2, "seed": 0, "precision": "fp32",
                             "device": "cpu", "init": "content", "coarsest": 16, "tv_weight": 0.0, "style_weight": 1e3}
BASE = Settings(**BASE_ARGS)
# The shape of every output of test_changing_a_setting_changes_the_output (the 96 × 72 content photo at BASE's
# 48 px), and the one setting that changes it: size 40 gives 40 × 30.
SHAPE = (36, 48, 3)
SHAPES = {"size": (30, 40, 3)}

# For each setting, a value that must change the output of BASE (two styles where it takes two).
CASES: dict[str, Any] = {
    "content_weight": 100.0, "style_loss": "wasserstein", "style_weight": 10.0, "tv_weight": 1e10,
    "normalization": "paper",
    "content_layers": ("relu2_2",), "content_layer_weights": (30.0,), "style_layers": ("relu1_1", "relu3_1"),
    "style_layer_weights": (1e-2, 1e-5, 1e-5, 1e-6, 1e-6), "pooling": "avg", "optimizer": "adam",
    "steps": 6, "coarse_steps": 5, "lr": 3.0, "scales": 1, "coarsest": 40, "init": "style", "size": 40,
    "style_size": 24,
    "resample": "bilinear", "preserve_color": "luminance", "style_blend": (1.0, 3.0), "style_scale": (2.0, 0.5),
    "precision": "bf16",
}
# Settings that by design do not change the picture here, each with its own test elsewhere.
NO_EFFECT = {
    "seed": "only noise init draws from it (test_seed_changes_a_noise_start)",
    "model": "VGG11/13/16 need weights that cannot be fetched offline (test_backbones)",
    "weights": "a state-dict file (test_backbones)",
    "device": "auto is the CPU on this machine (test_device)",
    "max_memory": "a bound on sizes and the tiling, not a look (test_reliability, test_tiling)",
    "tile": "exact by design: tiled and untiled runs agree (test_tiling)",
    "temporal_weight": "acts between video frames only (test_video)",
    "init_lowpass": "acts on the feed-forward start only (test_init_feedforward_keeps_its_low_frequencies...)",
}


def test_every_setting_is_covered() -> None:
    assert set(CASES) | set(NO_EFFECT) == set(FIELDS) and not set(CASES) & set(NO_EFFECT)


def run(settings: Settings, content: Image.Image, style: Image.Image) -> np.ndarray:
    styles = [style, style.transpose(Image.Transpose.FLIP_LEFT_RIGHT).rotate(90, expand=True)] \
        if settings.style_blend or settings.style_scale else [style]
    return np.asarray(optimize.stylize(content, styles, settings), dtype=np.float64)


@pytest.fixture(scope="module")
def pair(small_images) -> tuple[Image.Image, Image.Image]:
    return Image.open(small_images[0]).convert("RGB"), Image.open(small_images[1]).convert("RGB")


@pytest.fixture(scope="module")
def baseline(pair) -> dict[str, np.ndarray]:
    cache: dict[str, np.ndarray] = {"one": run(BASE, *pair)}
    cache["two"] = run(BASE.replace(style_blend=(1.0, 1.0)), *pair)
    return cache


@pytest.mark.parametrize("name", sorted(CASES))
def test_changing_a_setting_changes_the_output(pair, baseline, name: str) -> None:
    changed = BASE.replace(**{name: CASES[name]})
    two = name in ("style_blend", "style_scale")
    reference = baseline["two"] if two else baseline["one"]
    if two:
        changed = changed.replace(style_blend=changed.style_blend or (1.0, 1.0))
    out = run(changed, *pair)
    assert reference.shape == SHAPE
    assert out.shape == SHAPES.get(name, SHAPE), f"{name}={CASES[name]!r} gave a {out.shape} picture"
    if name in SHAPES:
        return  # the expected new shape is the effect
    # runs are deterministic (fp32 on the CPU): an ignored setting gives the very same pixels
    assert np.abs(out - reference).mean() > 0.01, f"{name}={CASES[name]!r} left the picture unchanged"


def test_seed_changes_a_noise_start(pair) -> None:
    s = BASE.replace(init="noise")
    assert np.abs(run(s, *pair) - run(s.replace(seed=1), *pair)).mean() > 1


def test_each_pooling_pools_as_named_and_rescales() -> None:
    x = torch.rand(1, 3, 32, 32)
    nets = {kind: load_backbone(pooling=kind, last="pool2") for kind in ("max", "avg", "l2")}
    out = {kind: net(x, ["relu1_2", "pool1"]) for kind, net in nets.items()}
    torch.testing.assert_close(out["max"]["pool1"], F.max_pool2d(out["max"]["relu1_2"], 2))
    torch.testing.assert_close(out["avg"]["pool1"], F.avg_pool2d(out["avg"]["relu1_2"], 2) * POOL_SCALES["avg"][0])
    l2 = F.avg_pool2d(out["l2"]["relu1_2"] ** 2, 2).mul(4).sqrt() * POOL_SCALES["l2"][0]
    torch.testing.assert_close(out["l2"]["pool1"], l2)


@pytest.mark.parametrize("kind", ["avg", "l2"])
def test_avg_and_l2_pooling_keep_max_poolings_activation_size(kind: str) -> None:
    """Without the factors relu5_1's RMS is 0.19× (avg) or 4.7× (l2) max pooling's on this photo, and the
    default loss weights would no longer balance content and style."""
    x = to_tensor(Image.open(Path(__file__).parents[1] / "samples" / "tubingen.jpg").convert("RGB").resize((192, 144)))
    names = ["relu3_1", "relu4_2", "relu5_1"]
    with torch.no_grad():
        ref = load_backbone(pooling="max", last="relu5_1")(x, names)
        got = load_backbone(pooling=kind, last="relu5_1")(x, names)
    for name in names:
        ratio = float((got[name].pow(2).mean() / ref[name].pow(2).mean()).sqrt())
        assert 0.7 < ratio < 1.3, (name, ratio)


def test_the_run_uses_the_pooling_it_was_asked_for(pair, monkeypatch) -> None:
    from stylo import optimize as opt

    asked: list[str] = []
    real = opt.shared_backbone

    def spy(model: str, weights: Any, pooling: str, last: str) -> Any:
        asked.append(pooling)
        return real(model, weights, pooling, last=last)

    monkeypatch.setattr(opt, "shared_backbone", spy)
    run(BASE.replace(pooling="avg"), *pair)
    assert asked == ["avg"]


def total_variation(img: np.ndarray) -> float:
    return float(np.abs(np.diff(img, axis=0)).mean() + np.abs(np.diff(img, axis=1)).mean())


def test_tv_weight_makes_a_smoother_image(pair) -> None:
    rough, smooth = run(BASE, *pair), run(BASE.replace(tv_weight=3e10), *pair)
    assert total_variation(smooth) < 0.8 * total_variation(rough)


def test_init_sets_the_start(pair) -> None:
    content, style = pair
    level = optimize.prepare_level(content, [style], [None], (48, 36), 1.0, BASE, torch.device("cpu"))
    torch.testing.assert_close(optimize.initial_image(level, BASE, 0), level.content)
    from_style = optimize.initial_image(level, BASE.replace(init="style"), 0)
    assert from_style.shape == level.content.shape
    torch.testing.assert_close(from_style, F.interpolate(level.styles[0], size=(36, 48), mode="bilinear"))
    noise = optimize.initial_image(level, BASE.replace(init="noise"), 0)
    assert noise.shape == level.content.shape and 0.45 < noise.mean().item() < 0.55
    assert not torch.equal(noise, optimize.initial_image(level, BASE.replace(init="noise"), 1))


def test_init_feedforward_starts_from_a_painting_of_the_content(pair) -> None:
    """The network's painting at PAINT_SCALE × the level's size, resized down (not the painting at the level's own
    size, whose strokes read as a hatch once upsampled)."""
    import torch.nn.functional as F

    from stylo.feedforward import PAINT_SCALE, feedforward

    content, style = pair
    level = optimize.prepare_level(content, [style], [None], (48, 36), 1.0, BASE, torch.device("cpu"))
    start = optimize.initial_image(level, BASE.replace(init="feedforward", init_lowpass=1), 0)
    big = F.interpolate(level.content_rgb, size=(54, 72), mode="bicubic", antialias=True, align_corners=False)
    painted = feedforward(big.clamp(0, 1), level.styles, [1.0])
    expected = F.interpolate(painted, size=(36, 48), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
    assert PAINT_SCALE == 1.5
    torch.testing.assert_close(start, expected)
    at_level = feedforward(level.content_rgb, level.styles, [1.0])
    assert (start - at_level).abs().mean().item() > 0.01  # the scale is not a no-op
    luminance = BASE.replace(init="feedforward", preserve_color="luminance")
    grey_level = optimize.prepare_level(content, [style], [None], (48, 36), 1.0, luminance, torch.device("cpu"))
    grey = optimize.initial_image(grey_level, luminance, 0)
    assert torch.allclose(grey[:, 0], grey[:, 1]) and torch.allclose(grey[:, 1], grey[:, 2])  # luminance only


def test_init_feedforward_keeps_its_low_frequencies_and_the_photos_detail(pair) -> None:
    """The default start: the painting's low frequencies (its palette and layout), the photo's high ones (its
    edges instead of the network's hatching)."""
    content, style = pair
    level = optimize.prepare_level(content, [style], [None], (96, 72), 1.0, BASE, torch.device("cpu"))
    painted = optimize.initial_image(level, BASE.replace(init="feedforward", init_lowpass=1), 0)
    start = optimize.initial_image(level, BASE.replace(init="feedforward"), 0)
    assert Settings().init_lowpass == 2

    def low(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=(18, 24), mode="area")

    def high(x: torch.Tensor) -> torch.Tensor:  # detail finer than 2 px: below the low-pass's σ = 1 px
        return x - F.interpolate(F.interpolate(x, size=(36, 48), mode="area"), size=x.shape[-2:], mode="bicubic")

    def gap(a: torch.Tensor, b: torch.Tensor) -> float:
        return (a - b).abs().mean().item()

    assert gap(low(start), low(painted)) < 0.25 * gap(low(start), low(level.content))
    assert gap(high(start), high(level.content)) < 0.5 * gap(high(start), high(painted))


def test_init_style_starts_nearer_the_style_colours(pair) -> None:
    from stylo.metrics import color_distance

    content, style = pair
    out_content = Image.fromarray(run(BASE.replace(steps=1, scales=1), *pair).astype(np.uint8))
    out_style = Image.fromarray(run(BASE.replace(steps=1, scales=1, init="style"), *pair).astype(np.uint8))
    assert color_distance(out_style, style) < color_distance(out_content, style)


@pytest.mark.parametrize("resample", ["lanczos", "bicubic", "bilinear"])
def test_resample_is_the_filter_of_every_input(pair, resample: str) -> None:
    content, style = pair
    s = BASE.replace(resample=resample)
    level = optimize.prepare_level(content, [style], [None], (40, 30), 1.0, s, torch.device("cpu"))
    torch.testing.assert_close(level.content, to_tensor(resize(content, (40, 30), resample)))
    size = optimize.style_size_for(style, (40, 30), s, 1.0)
    torch.testing.assert_close(level.styles[0], to_tensor(resize(style, size, resample)))


def test_the_hand_over_adds_the_missing_detail(pair) -> None:
    content, style = pair
    coarse = optimize.prepare_level(content, [style], [None], (24, 18), 0.5, BASE, torch.device("cpu"))
    fine = optimize.prepare_level(content, [style], [None], (48, 36), 1.0, BASE, torch.device("cpu"))
    image = torch.rand(1, 3, 18, 24)
    out = optimize.upsample_with_detail(image, coarse.content, fine.content)

    def up(t: torch.Tensor) -> torch.Tensor:
        return F.interpolate(t, size=(36, 48), mode="bicubic", align_corners=False)

    torch.testing.assert_close(out, (up(image) + fine.content - up(coarse.content)).clamp(0, 1))


def test_the_hand_over_starts_the_next_level_at_a_lower_loss(pair) -> None:
    """The coarse result plus the content's missing detail scores better at full size than the coarse
    result merely upsampled: the next level starts lower."""
    content, style = pair
    net = load_backbone(last="relu5_1")
    s = BASE.replace(size=96, scales=1, steps=8)
    coarse_img = optimize.stylize(content, style, s.replace(size=48))
    coarse = optimize.prepare_level(content, [style], [None], (48, 36), 0.5, s, torch.device("cpu"))
    fine = optimize.prepare_level(content, [style], [None], (96, 72), 1.0, s, torch.device("cpu"))
    objective = Objective(net, compute_targets(net, s, fine.content, fine.styles, None), s, [1.0], None)
    x = to_tensor(coarse_img)
    with torch.no_grad():
        handed = objective(optimize.upsample_with_detail(x, coarse.content, fine.content)).total.item()
        plain = objective(F.interpolate(x, size=(72, 96), mode="bicubic", align_corners=False).clamp(0, 1))
    assert handed < 0.9 * plain.total.item()


def test_the_tv_term_is_in_the_objective(pair) -> None:
    content, style = pair
    net = load_backbone(last="relu5_1")
    s = BASE.replace(tv_weight=2.0)
    level = optimize.prepare_level(content, [style], [None], (48, 36), 1.0, s, torch.device("cpu"))
    objective = Objective(net, compute_targets(net, s, level.content, level.styles, None), s, [1.0], None)
    x = torch.rand(1, 3, 36, 48)
    with torch.no_grad():
        parts = objective(x)
    assert parts.tv.item() == pytest.approx(losses.total_variation(x).item())
    assert parts.total.item() == pytest.approx(parts.content.item() + 1e3 * parts.style.item() + 2.0 * parts.tv.item(),
                                               rel=1e-5)


def test_every_setting_reaches_the_manifest(tmp_path: Path, small_images) -> None:
    """The manifest read back from the PNG holds the settings the run was given, written out here by hand as a
    JSON file has them (lists for tuples), not taken from the Settings object."""
    from stylo.image import read_manifest
    from stylo.render import Job, render

    skip = ("precision", "style_layer_weights")  # bf16: slow; 5 weights: for the 5 default style layers
    given = {**BASE_ARGS, **{k: v for k, v in CASES.items() if k not in skip}}
    out = tmp_path / "o.png"
    render(Job(small_images[0], (small_images[1], small_images[1]), out, Settings(**given)))
    recorded = read_manifest(out)["settings"]
    expected = {k: list(v) if isinstance(v, tuple) else v for k, v in given.items()}
    assert expected["style_blend"] == [1.0, 3.0] and expected["size"] == 40 and expected["seed"] == 0
    assert {k: recorded[k] for k in expected} == expected
    assert set(recorded) == set(FIELDS)  # and the rest, at their defaults
    assert {k: recorded[k] for k in set(FIELDS) - set(expected)} == {
        k: list(v) if isinstance(v := FIELDS[k].default, tuple) else v for k in set(FIELDS) - set(expected)}
