from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylo import optimize
from stylo.config import Settings
from stylo.errors import StyloError

TINY = Settings(size=64, steps=6, coarse_steps=3, scales=1, seed=3, precision="fp32", device="cpu", init="content",
                coarsest=16, tv_weight=0.0, style_weight=1e3)


def images(small_images: tuple[Path, Path]) -> tuple[Image.Image, Image.Image]:
    return Image.open(small_images[0]).convert("RGB"), Image.open(small_images[1]).convert("RGB")


def test_end_to_end_on_real_weights_loss_falls(small_images, vgg19) -> None:
    content, style = images(small_images)
    steps: list[optimize.Step] = []
    result = optimize.stylize_result(content, style, TINY, optimize.Hooks(on_step=steps.append), net=vgg19)
    assert result.image.size == (64, 48) and result.image.mode == "RGB"
    assert [s.step for s in steps] == list(range(1, 7)) and steps[-1].total_steps == 6
    assert result.loss < 0.5 * steps[0].loss  # the style term falls fast from the content image
    assert steps[0].content_loss < steps[-1].content_loss  # from the content image, drifting towards the style
    assert all(b.loss <= a.loss for a, b in zip(steps, steps[1:]))  # L-BFGS never raises the loss
    assert not result.interrupted and result.seed == 3 and result.precision == "fp32"
    assert steps[-1].image().size == (64, 48)


def test_multiscale_levels_are_coarse_to_fine(small_images, tiny) -> None:
    content, style = images(small_images)
    sizes: list[tuple[int, int]] = []
    result = optimize.stylize_result(content, style, TINY.replace(scales=2, size=96),
                                     optimize.Hooks(on_step=lambda s: sizes.append(s.size)), net=tiny)
    assert sizes[0] == (48, 36) and sizes[-1] == (96, 72) and len(sizes) == 3 + 6
    assert result.image.size == (96, 72)


def test_the_starting_picture_is_offered_once_before_the_first_step(small_images, tiny) -> None:
    content, style = images(small_images)
    events: list[tuple[str, object]] = []
    s = TINY.replace(scales=2, size=96, steps=2, coarse_steps=2)
    hooks = optimize.Hooks(on_step=lambda step: events.append(("step", step.step)),
                           on_start=lambda image: events.append(("start", image)))
    optimize.stylize_result(content, style, s, hooks, net=tiny)
    assert [kind for kind, _ in events] == ["start"] + ["step"] * 4
    start = events[0][1]
    assert isinstance(start, Image.Image) and start.size == (48, 36)  # the first level's start: here the photo
    expected = np.asarray(content.resize((48, 36), Image.Resampling.LANCZOS), dtype=float)
    assert np.abs(np.asarray(start, dtype=float) - expected).mean() < 1.0


def test_the_feedforward_start_is_the_preview(small_images, tiny) -> None:
    from stylo.feedforward import feedforward_image

    content, style = images(small_images)
    seen: list[Image.Image] = []
    s = TINY.replace(init="feedforward", init_lowpass=1, steps=1)
    optimize.stylize_result(content, style, s, optimize.Hooks(on_start=seen.append), net=tiny)
    size = seen[0].size
    styles = [style.resize(optimize.style_size_for(style, size, s, 1.0), Image.Resampling.LANCZOS)]
    painted = feedforward_image(content.resize(size, Image.Resampling.LANCZOS), styles, [1.0])
    photo = np.asarray(content.resize(size, Image.Resampling.LANCZOS), dtype=float)
    got = np.asarray(seen[0], dtype=float)
    assert np.abs(got - np.asarray(painted, dtype=float)).mean() < 3.0 < np.abs(got - photo).mean()


def test_scale_sizes() -> None:
    assert optimize.scale_sizes((512, 384), 3, 16) == [(128, 96), (256, 192), (512, 384)]
    assert optimize.scale_sizes((40, 20), 3, 16) == [(16, 16), (20, 16), (40, 20)]
    assert optimize.scale_sizes((16, 16), 4, 16) == [(16, 16)]
    assert optimize.scale_sizes((512, 384), 3, 16, coarsest=256) == [(256, 192), (512, 384)]
    assert optimize.scale_sizes((200, 100), 3, 16, coarsest=256) == [(200, 100)]  # the full size always runs


def test_skipped_levels_hand_their_steps_to_the_first_level_kept(small_images, tiny_everywhere) -> None:
    content, style = Image.open(small_images[0]), Image.open(small_images[1])
    s = Settings(size=64, scales=3, coarsest=32, steps=2, coarse_steps=3, seed=0, init="content")
    result = optimize.stylize_result(content, style, s)  # levels 16 px (left out), 32 and 64 px
    assert result.steps == 3 + 3 + 2
    single = optimize.stylize_result(content, style, s.replace(coarsest=64))  # only 64 px: all 3 levels' steps
    assert single.steps == 2 + 3 + 3


def test_stop_request_returns_current_image_at_full_size(small_images, tiny) -> None:
    content, style = images(small_images)
    calls = []
    hooks = optimize.Hooks(on_step=calls.append, should_stop=lambda: len(calls) >= 2)
    result = optimize.stylize_result(content, style, TINY.replace(scales=2, size=96), hooks, net=tiny)
    assert result.interrupted and result.steps == 2 and result.image.size == (96, 72)


def test_same_seed_same_image_and_noise_init_differs_by_seed(small_images, tiny_everywhere) -> None:
    content, style = images(small_images)
    s = TINY.replace(init="noise", steps=3)
    a = np.asarray(optimize.stylize(content, style, s))
    b = np.asarray(optimize.stylize(content, style, s))
    c = np.asarray(optimize.stylize(content, style, s.replace(seed=4)))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_two_identical_styles_equal_one(small_images, tiny) -> None:
    content, style = images(small_images)
    one = optimize.stylize_result(content, style, TINY, net=tiny)
    two = optimize.stylize_result(content, [style, style], TINY, net=tiny)
    assert two.loss == pytest.approx(one.loss, rel=1e-4)


@pytest.mark.parametrize(
    "changes",
    [
        {"optimizer": "adam", "lr": 0.01},  # the tiny backbone's loss is steeper in the pixels than VGG19's
        {"init": "style"},
        {"normalization": "paper", "content_weight": 1e-3, "style_weight": 1.0},
        {"tv_weight": 10.0},
        {"pooling": "avg"},
        {"style_size": 48, "resample": "bilinear"},
        {"precision": "bf16"},
        {"content_layers": ("relu2_2",), "style_layers": ("relu1_1",), "style_layer_weights": (1.0,)},
    ],
)
def test_every_option_optimizes(small_images, tiny_everywhere, changes: dict) -> None:
    content, style = images(small_images)
    history: list[float] = []
    result = optimize.stylize_result(content, style, TINY.replace(**changes),
                                     optimize.Hooks(on_step=lambda s: history.append(s.loss)))
    assert np.isfinite(result.loss) and min(history[1:]) < history[0]


def test_tensor_inputs_and_too_small_images(tiny_everywhere) -> None:
    torch.manual_seed(0)
    out = optimize.stylize(torch.rand(3, 40, 40), torch.rand(1, 3, 40, 40), TINY.replace(size=32, steps=1))
    assert out.size == (32, 32)
    with pytest.raises(StyloError, match="content image is too small: 1x1"):
        optimize.stylize(Image.new("RGB", (1, 1)), Image.new("RGB", (64, 64)), TINY)
    with pytest.raises(StyloError, match="at size 64"):
        optimize.stylize(Image.new("RGB", (400, 20)), Image.new("RGB", (64, 64)), TINY)
    with pytest.raises(StyloError, match="at least one style"):
        optimize.stylize(Image.new("RGB", (64, 64)), [], TINY)


def test_time_left_is_estimated_from_measured_steps_weighted_by_pixels(small_images, tiny) -> None:
    import math

    content, style = images(small_images)
    steps: list[optimize.Step] = []
    optimize.stylize_result(content, style, TINY.replace(scales=2, size=96, coarse_steps=4, steps=4),
                            optimize.Hooks(on_step=steps.append), net=tiny)
    level1 = [s for s in steps if s.scale == 1]
    assert all(math.isnan(s.eta) for s in level1[: optimize.ETA_MIN_STEPS - 1])  # "estimating…"
    measured = level1[optimize.ETA_MIN_STEPS - 1]
    assert measured.eta > 0 and math.isfinite(measured.eta)
    # the full-size level has 4× the pixels: its 4 steps weigh 4× a coarse step in the estimate
    per_step = (measured.elapsed - level1[0].elapsed) / (optimize.ETA_MIN_STEPS - 1)
    expected = (4 - optimize.ETA_MIN_STEPS) * per_step + 4 * per_step * 4
    assert measured.eta == pytest.approx(expected, rel=0.35)
    assert steps[-1].eta == pytest.approx(0.0, abs=1e-9)


def test_the_progress_line_says_estimating_before_it_knows(small_images) -> None:
    import io
    import math

    from stylo.progress import ProgressLine

    stream = io.StringIO()
    line = ProgressLine(stream)
    step = optimize.Step(1, 10, 1, 1, (8, 8), 1.0, 1.0, 1.0, 0.0, 0.1, math.nan, torch.zeros(1, 3, 8, 8))
    line(step)
    assert "estimating time left" in stream.getvalue()


def test_steps_per_level_give_the_skipped_levels_steps_to_the_first_kept() -> None:
    s = Settings(steps=5, coarse_steps=3, scales=3)
    assert optimize.steps_per_level(s, 3) == [3, 3, 5]
    assert optimize.steps_per_level(s, 2) == [3 + 3, 5]  # one level left out: its steps go to the first kept
    assert optimize.steps_per_level(s, 1) == [5 + 3 + 3]
