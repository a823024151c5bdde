"""The exact tiled objective (stylo.tiling, stylo.objective): tiles partition the image and every feature map,
the tiled gradient is the untiled one, and a tiled run follows the untiled run's loss curve."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from stylo import objective as objective_module
from stylo import optimize
from stylo.config import Settings
from stylo.layers import GATYS_STYLE_LAYERS, halo, stride
from stylo.objective import Objective, compute_targets
from stylo.tiling import Tiling, cuts, tile_grid

pytestmark = pytest.mark.exactness  # run again under ONEDNN_MAX_CPU_ISA=AVX2 on AVX-512 CPUs (Makefile)

H, W = 110, 150  # not multiples of 16: the last row and column of tiles are ragged
TILE = 48


@given(length=st.integers(1, 700), tile=st.integers(16, 300))
@settings(max_examples=200, deadline=None)
def test_cuts_split_a_side_on_the_grid_in_parts_no_longer_than_the_tile(length: int, tile: int) -> None:
    c = cuts(length, tile // 16 * 16 or 16, 16)
    assert c[0] == 0 and c[-1] == length and c == sorted(set(c))
    assert all(x % 16 == 0 for x in c[1:-1])
    assert all(b - a <= (tile // 16 * 16 or 16) + 16 for a, b in zip(c, c[1:]))


@given(h=st.integers(16, 400), w=st.integers(16, 400), tile=st.sampled_from([16, 32, 48, 96, 160]))
@settings(max_examples=100, deadline=None)
def test_owned_positions_partition_every_feature_map(h: int, w: int, tile: int) -> None:
    margin = halo("vgg19", GATYS_STYLE_LAYERS)
    tiles = tile_grid(h, w, tile, margin, 16)
    for step in (1, 2, 4, 8, 16):
        count = torch.zeros(h // step, w // step)
        for t in tiles:
            assert 0 <= t.cy0 <= t.y0 < t.y1 <= t.cy1 <= h and 0 <= t.cx0 <= t.x0 < t.x1 <= t.cx1 <= w
            assert t.cy0 % 16 == 0 and t.cx0 % 16 == 0  # windows keep the pooling grid
            t.region(count, step).add_(1)
            window = torch.zeros((t.cy1 - t.cy0) // step, (t.cx1 - t.cx0) // step)
            assert t.owned(window, step).shape == t.region(count, step).shape
        assert bool((count == 1).all())


def test_halo_is_the_reach_of_the_convolutions_on_the_pooling_grid() -> None:
    # relu5_1: 2 convs at stride 1, 2 at 2, 4 at 4, 4 at 8, 1 at 16 → 70 px, rounded up to 80 on its 16 px grid
    assert halo("vgg19", ("relu5_1",)) == 80
    assert halo("vgg19", ("relu4_2", "relu1_1")) == 40
    assert halo("vgg19", ("relu1_1",)) == 1
    assert stride("vgg19", "relu3_1") == 4


CASES = {
    "content": Settings(style_layers=(), content_layers=("relu4_2", "relu2_2")),
    "style": Settings(content_layers=(), style_layers=GATYS_STYLE_LAYERS),
    "paper": Settings(normalization="paper", style_weight=1e-3),
    "masked": Settings(),
    "tv": Settings(tv_weight=1e5),
    "wasserstein": Settings(style_loss="wasserstein"),
    "wasserstein masked": Settings(style_loss="wasserstein"),
}


# On the tiny backbone without TV (TV's exact local gradient would hide the network's): the loss after each of 5
# L-BFGS steps, relative, and the mean |difference| of the two 8-bit results in levels. Two float32 kernel orders:
# 1.3e-4 and 9e-5 levels (AVX2 and ONEDNN_MAX_CPU_ISA=AVX alike); a 16 px halo: 1.3e-2 and 0.022 levels.
TRAJECTORY_RTOL = 3e-3
PIXEL_MEAN_BAR = 0.01
FEATURE_RTOL = 1e-5  # relative to a tensor's largest value: 50× the float32 rounding measured between kernels


def assert_close_to_scale(actual: torch.Tensor, expected: torch.Tensor, rtol: float) -> None:
    """``actual`` equals ``expected`` to ``rtol`` of ``expected``'s largest magnitude, element by element."""
    scale = float(expected.abs().max())
    error = float((actual - expected).abs().max())
    assert error <= rtol * scale, f"max error {error:.3g} is {error / scale:.3g} of the scale {scale:.3g}"


def objective_pair(vgg19, case: str) -> tuple[Objective, Objective, torch.Tensor]:
    torch.manual_seed(0)
    s = CASES[case]
    content = torch.rand(1, 3, H, W)
    styles = [torch.rand(1, 3, 96, 130)]
    masks: list[torch.Tensor | None] = [None]
    if case.endswith("masked"):
        mask = torch.zeros(1, 1, H, W)
        mask[..., :, :70] = 1
        styles, masks = [styles[0], torch.rand(1, 3, 80, 80)], [mask, 1 - mask]
    blend = [1 / len(styles)] * len(styles)
    untiled = compute_targets(vgg19, s, content, styles, None, masks)
    tiled = compute_targets(vgg19, s, content, styles, None, masks, tile=TILE)
    # Both sides are float32 sums in different orders (oneDNN picks other kernels for a tile than for the whole
    # image, and others again on AVX-512): they agree to a few units of float32 rounding of each tensor's own
    # scale (2e-7 of the maximum measured with ONEDNN_MAX_CPU_ISA=AVX), never to an absolute 1e-4 on features of
    # order 1e4. A halo too narrow breaks them by far more (test_a_halo_too_narrow_breaks_the_agreement).
    for name in untiled.content:
        assert_close_to_scale(tiled.content[name], untiled.content[name], FEATURE_RTOL)
    for a, b in zip(untiled.style_grams, tiled.style_grams):
        for name in a:
            assert_close_to_scale(b[name], a[name], FEATURE_RTOL)
    return (Objective(vgg19, untiled, s, blend, None), Objective(vgg19, tiled, s, blend, None, tile=TILE),
            torch.rand(1, 3, H, W))


def loss_and_grad(objective: Objective, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    v = x.clone().requires_grad_(True)
    parts = objective(v)
    (grad,) = torch.autograd.grad(parts.total, v)
    return parts.total.item(), grad


@pytest.mark.parametrize("case", sorted(CASES))
def test_tiled_gradient_is_the_untiled_gradient(vgg19, case: str) -> None:
    # VGG19: the bars are its measured float32 spread (the tiny network's random weights round 5× worse; in float64
    # both agree to 1e-14)
    untiled, tiled, x = objective_pair(vgg19, case)
    assert tiled.tiling is not None and len(tiled.tiling.tiles(x)) == 12  # 3 rows × 4 columns of 48 px
    loss0, grad0 = loss_and_grad(untiled, x)
    loss1, grad1 = loss_and_grad(tiled, x)
    assert loss1 == pytest.approx(loss0, rel=1e-5)
    # the bar is 1e-4; float rounding gives about 1e-6, a halo of 48 px instead of 80 already 7e-6; the
    # Wasserstein loss's eigendecomposition amplifies the float32 rounding of the summed moments (about 6e-6)
    bar = 2e-5 if case.startswith("wasserstein") else 3e-6
    assert float((grad1 - grad0).norm() / grad0.norm()) <= bar


def test_a_halo_too_narrow_breaks_the_agreement(vgg19, monkeypatch) -> None:
    """The test above can fail: with too little context the tiles' edge features are wrong (the deepest
    positions' outer context counts little: 64 px of the 80 still agree to 1e-6, 48 to 7e-6, 16 to 0.2)."""
    monkeypatch.setattr(Tiling, "for_layers", classmethod(
        lambda cls, geometry, names, tile: cls(TILE, 16, 16,
                                               {n: geometry.stride(n) for n in names})))
    untiled, tiled, x = objective_pair_unchecked(vgg19)
    _, grad0 = loss_and_grad(untiled, x)
    _, grad1 = loss_and_grad(tiled, x)
    assert float((grad1 - grad0).norm() / grad0.norm()) > 1e-3


def objective_pair_unchecked(vgg19) -> tuple[Objective, Objective, torch.Tensor]:
    torch.manual_seed(0)
    s = CASES["style"]
    targets = compute_targets(vgg19, s, torch.rand(1, 3, H, W), [torch.rand(1, 3, 96, 130)], None, [None])
    return Objective(vgg19, targets, s, [1.0], None), Objective(vgg19, targets, s, [1.0], None, tile=TILE), \
        torch.rand(1, 3, H, W)


def test_the_network_only_ever_sees_tile_windows(tiny, monkeypatch) -> None:
    """Both passes run the network on tile windows (owned pixels plus halo), never on the whole image."""
    torch.manual_seed(0)
    s = CASES["style"]
    h, w = 256, 288
    targets = compute_targets(tiny, s, torch.rand(1, 3, h, w), [torch.rand(1, 3, 96, 96)], None, [None])
    tiled = Objective(tiny, targets, s, [1.0], None, tile=64)
    x = torch.rand(1, 3, h, w)
    assert tiled.tiling is not None
    windows = [(t.cy1 - t.cy0, t.cx1 - t.cx0) for t in tiled.tiling.tiles(x)]
    seen: list[tuple[int, int]] = []
    real = objective_module.features

    def spy(net, image, names, autocast):
        seen.append(tuple(image.shape[-2:]))
        return real(net, image, names, autocast)

    monkeypatch.setattr(objective_module, "features", spy)
    monkeypatch.setattr("stylo.tiling.activations", spy)
    loss_and_grad(tiled, x)
    assert sorted(seen) == sorted(windows * 2)  # each tile once per pass
    assert max(a * b for a, b in seen) <= (64 + 2 * 80) ** 2 < h * w


def test_a_tiled_run_follows_the_untiled_loss_curve(small_images, tiny_everywhere) -> None:
    content = Image.open(optimize.__file__.replace("src/stylo/optimize.py", "samples/tubingen.jpg"))
    style = Image.open(small_images[1])
    # exactness is fp32's; no TV, whose exact local gradient would hide the tiny network's
    base = Settings(size=384, scales=1, steps=5, seed=0, init="content", precision="fp32", tv_weight=0)
    plain = optimize.stylize_result(content, style, base)
    tiled = optimize.stylize_result(content, style, base.replace(tile=192))
    assert len(plain.history) == len(tiled.history) == 5
    # Two valid float32 kernel orders start a few rounding units apart and L-BFGS's line search amplifies that step
    # by step (docs/benchmarks.md, "Round 3: tolerances"); the gradient itself is checked to 3e-6 above.
    for a, b in zip(plain.history, tiled.history):
        assert b == pytest.approx(a, rel=TRAJECTORY_RTOL)
    assert plain.history[-1] < plain.history[0]
    a8, b8 = (np.asarray(r.image, dtype=np.int16) for r in (plain, tiled))
    assert np.abs(a8 - b8).mean() < PIXEL_MEAN_BAR


def test_a_tile_larger_than_the_image_is_the_untiled_path(tiny) -> None:
    s = Settings()
    targets = compute_targets(tiny, s, torch.rand(1, 3, 64, 64), [torch.rand(1, 3, 64, 64)], None, [None])
    objective = Objective(tiny, targets, s, [1.0], None, tile=512)
    assert objective.tiling is not None and not objective.tiling.needed(torch.rand(1, 3, 64, 64))
    assert tiny.geometry.min_side(GATYS_STYLE_LAYERS) == objective.tiling.grid


def test_masks_colour_control_blends_and_frames_work_tiled(tmp_path, small_images, tiny_everywhere) -> None:
    """The whole pipeline through the CLI, tiled and untiled: the same picture, and --save-every's frames."""
    from stylo.cli import main

    from .conftest import SAMPLES

    mask = SAMPLES / "tubingen_sky_mask.png"
    common = [str(small_images[0]), str(small_images[1]), str(SAMPLES / "the_scream.jpg"), "--masks", str(mask),
              "--preserve-color", "luminance", "--size", "112", "--scales", "2", "--coarsest", "16", "--steps", "3",
              "--coarse-steps", "2", "--seed", "0", "--init", "content", "--precision", "fp32", "--tv-weight", "0",
              "--quiet"]
    plain, tiled = tmp_path / "plain.png", tmp_path / "tiled.png"
    assert main(["run", *common, "-o", str(plain)]) == 0
    assert main(["run", *common, "-o", str(tiled), "--tile", "64", "--save-every", "2"]) == 0
    a = np.asarray(Image.open(plain), dtype=np.int16)
    b = np.asarray(Image.open(tiled), dtype=np.int16)
    assert np.abs(a - b).mean() < PIXEL_MEAN_BAR
    assert sorted(p.name for p in (tmp_path / "tiled_frames").iterdir()) == ["step00002.png", "step00004.png"]
