"""Gatys et al. 2017 controls on real weights: colour, blends, style scale, spatial masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylo import color, losses, optimize
from stylo.config import Settings
from stylo.errors import StyloError
from stylo.image import to_tensor

S = Settings(size=64, steps=12, coarse_steps=3, scales=1, seed=3, precision="fp32", device="cpu", init="content",
             style_weight=1e3, tv_weight=0.0)


def load(small_images: tuple[Path, Path]) -> tuple[Image.Image, Image.Image]:
    return Image.open(small_images[0]).convert("RGB"), Image.open(small_images[1]).convert("RGB")


def stripes() -> Image.Image:
    arr = np.zeros((64, 64, 3), dtype=np.uint8)
    arr[:, ::8] = (255, 40, 40)
    arr[:, 1::8] = (255, 40, 40)
    arr[:, 2::8] = (255, 255, 255)
    return Image.fromarray(arr)


def dots() -> Image.Image:
    rng = np.random.default_rng(0)
    arr = np.full((64, 64, 3), (20, 30, 120), dtype=np.uint8)
    arr[rng.random((64, 64)) > 0.9] = (120, 255, 120)
    return Image.fromarray(arr)


def test_luminance_mode_keeps_the_contents_chroma(small_images, vgg19) -> None:
    content, style = load(small_images)
    out = optimize.stylize_result(content, style, S.replace(preserve_color="luminance"), net=vgg19).image
    plain = optimize.stylize_result(content, style, S, net=vgg19).image
    target = to_tensor(content.resize(out.size, Image.Resampling.LANCZOS))
    iq_out, iq_plain = color.rgb_to_yiq(to_tensor(out))[:, 1:], color.rgb_to_yiq(to_tensor(plain))[:, 1:]
    iq_content = color.rgb_to_yiq(target)[:, 1:]
    assert (iq_out - iq_content).abs().mean() < 0.01  # only clamping and 8-bit rounding differ
    assert (iq_plain - iq_content).abs().mean() > 3 * (iq_out - iq_content).abs().mean()
    assert (to_tensor(out) - target).abs().mean() > 0.02  # and it was stylized


def test_histogram_mode_changes_the_style_colours_to_the_contents(small_images, vgg19) -> None:
    content, _ = load(small_images)
    level = optimize.prepare_level(content, [stripes()], [None], (64, 48), 1.0,
                                   S.replace(preserve_color="histogram"), torch.device("cpu"))
    mu_s, cov_s = color.mean_cov(level.styles[0])
    mu_c, cov_c = color.mean_cov(level.content)
    assert torch.allclose(mu_s, mu_c, atol=0.03) and torch.allclose(cov_s, cov_c, atol=0.01)
    out = optimize.stylize(content, stripes(), S.replace(preserve_color="histogram"))
    red_excess = np.asarray(out, dtype=float)[..., 0].mean() - np.asarray(content, dtype=float)[..., 0].mean()
    assert abs(red_excess) < 25  # the stripes' red did not come through


def test_blend_one_zero_reproduces_the_single_style(small_images, vgg19) -> None:
    content, style = load(small_images)
    single = optimize.stylize_result(content, style, S, net=vgg19)
    blended = optimize.stylize_result(content, [style, dots()], S.replace(style_blend=(1.0, 0.0)), net=vgg19)
    assert blended.image.tobytes() == single.image.tobytes()
    mixed = optimize.stylize_result(content, [style, dots()], S.replace(style_blend=(3.0, 7.0)), net=vgg19)
    assert mixed.image.tobytes() != single.image.tobytes()


def test_style_scale_resizes_each_style(small_images) -> None:
    content, style = load(small_images)
    level = optimize.prepare_level(content, [style, style], [None, None], (64, 48), 1.0,
                                   S.replace(style_scale=(1.0, 0.5)), torch.device("cpu"))
    a, b = (t.shape[-1] * t.shape[-2] for t in level.styles)
    assert a == pytest.approx(64 * 48, rel=0.05) and b == pytest.approx(64 * 48 / 4, rel=0.1)


def region_gram_distance(image: Image.Image, style: Image.Image, region: slice, vgg19) -> float:
    """Distance between the scale-free (unit Frobenius norm) relu1_1 Gram matrices of a region and a style."""
    feats = vgg19(to_tensor(image)[..., region], ["relu1_1"])["relu1_1"]
    g = losses.gram_matrix(feats, normalize=True)
    a = losses.gram_matrix(vgg19(to_tensor(style), ["relu1_1"])["relu1_1"], normalize=True)
    return (g / g.norm() - a / a.norm()).norm().item()


def colour_distance(image: Image.Image, style: Image.Image, region: slice) -> float:
    mean = np.asarray(image, dtype=float)[:, region].reshape(-1, 3).mean(0)
    return float(np.linalg.norm(mean - np.asarray(style, dtype=float).reshape(-1, 3).mean(0)))


def test_masked_regions_follow_their_own_style(small_images, vgg19) -> None:
    content, _ = load(small_images)
    mask = np.zeros((48, 64), dtype=np.uint8)
    mask[:, :32] = 255  # left half: stripes; right half: dots
    settings = S.replace(steps=30, content_weight=0.1)
    out = optimize.stylize(content, [stripes(), dots()], settings, masks=[Image.fromarray(mask)])
    left, right = slice(0, 28), slice(36, 64)
    for region, own, other in ((left, stripes(), dots()), (right, dots(), stripes())):
        assert region_gram_distance(out, own, region, vgg19) < region_gram_distance(out, other, region, vgg19)
        assert colour_distance(out, own, region) < colour_distance(out, other, region)


def test_protected_region_keeps_the_content(small_images, vgg19) -> None:
    content, style = load(small_images)
    mask = np.full((48, 64), 255, dtype=np.uint8)
    mask[:, 40:] = 0  # protect the right part
    out = np.asarray(optimize.stylize(content, style, S, masks=[Image.fromarray(mask)]), dtype=int)
    ref = np.asarray(content.resize((64, 48), Image.Resampling.LANCZOS), dtype=int)
    assert np.abs(out[:, 42:] - ref[:, 42:]).max() <= 1  # untouched (8-bit rounding)
    assert np.abs(out[:, :36] - ref[:, :36]).mean() > 5  # stylized


def test_bad_control_arguments() -> None:
    img = Image.new("RGB", (64, 64))
    with pytest.raises(StyloError, match="2 style_blend weights given for 1 style"):
        optimize.stylize(img, img, S.replace(style_blend=(1.0, 2.0)))
    with pytest.raises(StyloError, match="3 masks given for 2 styles"):
        optimize.stylize(img, [img, img], S, masks=[img, img, img])
    with pytest.raises(StyloError, match="must not all be 0"):
        Settings(style_blend=(0.0, 0.0))
    with pytest.raises(StyloError, match="style_scale must be between"):
        Settings(style_scale=(0.0,))
