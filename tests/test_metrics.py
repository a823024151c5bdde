from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageChops

from stylo import metrics


def test_identical_images_have_zero_distances_and_ssim_one(small_images, vgg19) -> None:
    content = Image.open(small_images[0]).convert("RGB")
    m = metrics.evaluate(content, content, content, net=vgg19)
    assert m.ssim == pytest.approx(1.0)
    assert m.content_distance == pytest.approx(0.0, abs=1e-6)
    assert m.style_distance_sum == pytest.approx(0.0, abs=1e-6) and max(m.style_distance.values()) < 1e-3
    assert m.color_distance == pytest.approx(0.0, abs=1e-9)
    assert set(m.flat()) >= {"ssim", "content_distance", "style_distance_sum", "color_distance", "style_relu3_1"}


def test_known_colour_shift_moves_the_colour_distance_by_its_size() -> None:
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(2000, 3))
    assert metrics.sliced_wasserstein(pts, pts) == pytest.approx(0.0)
    # shifting every sample by d moves each 1-D projection by d·cos: the mean over directions is about 0.5·|d|
    shifted = metrics.sliced_wasserstein(pts, pts + np.array([3.0, 0.0, 0.0]), projections=400)
    assert shifted == pytest.approx(3.0 * 0.5, rel=0.1)


def test_brighter_image_is_further_in_colour_and_ssim_drops_with_noise(small_images) -> None:
    content = Image.open(small_images[0]).convert("RGB")
    brighter = ImageChops.add(content, Image.new("RGB", content.size, (40, 40, 40)))
    assert metrics.color_distance(brighter, content) > metrics.color_distance(content, content) + 5
    noise = np.asarray(content, dtype=float) + np.random.default_rng(0).normal(0, 40, (content.height,
                                                                                         content.width, 3))
    noisy = Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8))
    assert metrics.ssim_luminance(noisy, content) < 0.8


def test_stylization_moves_towards_the_style(small_images, vgg19, tmp_path: Path) -> None:
    from stylo import Settings, stylize

    content, style = (Image.open(p).convert("RGB") for p in small_images)
    out = stylize(content, style, Settings(size=64, steps=10, scales=1, seed=0))
    before = metrics.evaluate(content.resize(out.size), content, style, net=vgg19)
    after = metrics.evaluate(out, content, style, net=vgg19)
    assert after.style_distance_sum < before.style_distance_sum
    assert after.ssim < before.ssim and after.content_distance > before.content_distance
