"""The loss terms behind one interface (stylo.terms): the objective and its tiling are generic over them, so a term
the engine does not know is summed, weighted and tiled exactly like content and style."""

from __future__ import annotations

import pytest
import torch

from stylo import losses, terms
from stylo.config import Settings
from stylo.objective import Objective, compute_targets
from stylo.tiling import Tiling, owned_features

pytestmark = pytest.mark.exactness  # tiled and untiled float32 sums compared (run again under AVX2, Makefile)

H, W = 96, 112
S = Settings(precision="fp32", tv_weight=0.0)


class MeanActivation:
    """A feature term the engine does not know: (mean of relu2_1's features − ``target``)², its partials the sum and
    the count of the positions shown."""

    name = "mean_activation"
    layers = ("relu2_1",)

    def __init__(self, target: float):
        self.target = target

    def partials(self, feats, image, tile):
        f = feats["relu2_1"].float()
        return {"sum": f.sum(), "count": torch.tensor(float(f.numel()))}

    def loss(self, partials, image):
        return (partials["sum"] / partials["count"] - self.target) ** 2


def objective(tiny, tile: int | None, extra=()) -> Objective:
    torch.manual_seed(0)
    targets = compute_targets(tiny, S, torch.rand(1, 3, H, W), [torch.rand(1, 3, 64, 64)], None, [None])
    return Objective(tiny, targets, S, [1.0], None, tile, extra)


def loss_and_grad(obj: Objective, x: torch.Tensor) -> tuple[float, torch.Tensor]:
    x = x.clone().requires_grad_(True)
    total = obj(x).total
    (grad,) = torch.autograd.grad(total, x)
    return total.item(), grad


def test_an_added_feature_term_is_weighted_into_the_total(tiny) -> None:
    x = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(1))
    term = MeanActivation(0.5)
    plain, added = objective(tiny, None)(x).total, objective(tiny, None, [(term, 3.0)])(x).total
    feats = tiny(x, ("relu2_1",))
    expected = 3.0 * (feats["relu2_1"].mean() - 0.5) ** 2
    assert (added - plain).item() == pytest.approx(expected.item(), rel=1e-5) and expected.item() > 1e-6


def test_an_added_feature_term_is_tiled_exactly(tiny) -> None:
    """The two-pass tiled gradient of content + style + the new term is the untiled one."""
    x = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(2))
    extra = [(MeanActivation(0.5), 100.0)]
    whole, tiled = objective(tiny, None, extra), objective(tiny, 48, extra)
    assert tiled.tiling is not None and tiled.tiling.needed(x)
    (a, ga), (b, gb) = loss_and_grad(whole, x), loss_and_grad(tiled, x)
    assert b == pytest.approx(a, rel=1e-5)
    assert (gb - ga).abs().max().item() <= 3e-6 * ga.abs().max().item()
    without = loss_and_grad(objective(tiny, 48), x)[1]
    assert (without - gb).abs().max().item() > 100 * (gb - ga).abs().max().item()  # the term moves the gradient


def test_content_and_style_partials_add_up_over_tiles(tiny) -> None:
    obj = objective(tiny, None)
    x = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(3))
    feats = tiny(x, tuple(obj.layers))
    tiling = Tiling.for_layers(tiny.geometry, obj.layers, 48)
    for term in obj.feature_terms:
        whole = term.partials(feats, x, None)
        summed: dict = {}
        for tile, owned in owned_features(tiny, x, tiling, obj.layers, None):
            for key, g in term.partials(owned, x, tile).items():
                summed[key] = summed.get(key, 0) + g
        assert summed.keys() == whole.keys()
        for key in whole:
            assert torch.allclose(summed[key], whole[key], rtol=1e-5, atol=1e-5 * whole[key].abs().max().item())


def test_a_pixel_term_adds_its_weighted_loss(tiny) -> None:
    x = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(4))
    warped, mask = torch.rand(1, 3, H, W), (torch.rand(1, 1, H, W) > 0.5).float()
    plain = objective(tiny, None)(x).total
    held = objective(tiny, None, [(terms.Temporal(warped, mask), 7.0)])(x).total
    assert (held - plain).item() == pytest.approx(7.0 * losses.temporal_loss(x, warped, mask).item(), rel=1e-5)
    assert objective(tiny, None, [(terms.Temporal(warped, mask), 0.0)])(x).total.item() == plain.item()
