from __future__ import annotations

import pytest
import torch

from stylo import losses


def test_gram_matrix_matches_eq3_by_hand() -> None:
    f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [1.0, 0.0]]]])  # (1, 2, 2, 2)
    g = losses.gram_matrix(f)
    # rows: F_0 = [1, 2, 3, 4], F_1 = [0, 1, 1, 0]
    assert g.tolist() == [[[30.0, 5.0], [5.0, 2.0]]]
    assert torch.allclose(losses.gram_matrix(f, normalize=True), g / 4)


def test_content_loss_paper_is_half_sum_of_squares() -> None:
    f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    p = torch.tensor([[[[0.0, 2.0], [1.0, 7.0]]]])
    # differences 1, 0, 2, -3 → squares 1, 0, 4, 9
    assert losses.content_loss(f, p, "paper").item() == pytest.approx(0.5 * 14)
    assert losses.content_loss(f, p, "mean").item() == pytest.approx(14 / 4)


def test_style_layer_loss_paper_matches_eq4_by_hand() -> None:
    f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [1.0, 0.0]]]])
    s = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]], [[2.0, 0.0], [0.0, 2.0]]]])
    a = losses.style_target(s, "paper")  # F_0=[1,0,0,1], F_1=[2,0,0,2] → [[2,4],[4,8]]
    assert a.tolist() == [[[2.0, 4.0], [4.0, 8.0]]]
    # G - A = [[28, 1], [1, -6]] → Σ² = 784 + 1 + 1 + 36 = 822; N = 2, M = 4
    expected = 822 / (4 * 2**2 * 4**2)
    assert losses.style_layer_loss(f, a, "paper").item() == pytest.approx(expected)


def test_mean_and_paper_normalizations_map_exactly() -> None:
    torch.manual_seed(0)
    f, p = torch.rand(1, 8, 5, 6, dtype=torch.float64), torch.rand(1, 8, 5, 6, dtype=torch.float64)
    n, m = 8, 30
    paper_c, mean_c = losses.content_loss(f, p, "paper"), losses.content_loss(f, p, "mean")
    assert paper_c.item() == pytest.approx(n * m / 2 * mean_c.item())
    paper_s = losses.style_layer_loss(f, losses.style_target(p, "paper"), "paper")
    mean_s = losses.style_layer_loss(f, losses.style_target(p, "mean"), "mean")
    assert paper_s.item() == pytest.approx(mean_s.item() / 4)


def test_mean_normalization_is_size_independent_for_stationary_texture() -> None:
    torch.manual_seed(0)
    tile_a, tile_b = torch.rand(1, 4, 4, 4), torch.rand(1, 4, 4, 4)
    small_a, small_b = tile_a.repeat(1, 1, 2, 2), tile_b.repeat(1, 1, 2, 2)
    big_a, big_b = tile_a.repeat(1, 1, 8, 8), tile_b.repeat(1, 1, 8, 8)
    for norm, same in (("mean", True), ("paper", False)):
        small = losses.content_loss(small_a, small_b, norm).item()
        big = losses.content_loss(big_a, big_b, norm).item()
        assert (small == pytest.approx(big)) is same
    small_s = losses.style_layer_loss(small_a, losses.style_target(small_b))
    big_s = losses.style_layer_loss(big_a, losses.style_target(big_b))
    assert small_s.item() == pytest.approx(big_s.item(), rel=1e-5)


@pytest.mark.parametrize("norm", ["mean", "paper"])
def test_losses_pass_float64_gradcheck(norm: str) -> None:
    torch.manual_seed(0)
    f = torch.rand(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    p = torch.rand(1, 3, 4, 5, dtype=torch.float64)
    a = losses.style_target(torch.rand(1, 3, 4, 5, dtype=torch.float64), norm)
    assert torch.autograd.gradcheck(lambda x: losses.content_loss(x, p, norm), (f,))
    assert torch.autograd.gradcheck(lambda x: losses.style_layer_loss(x, a, norm), (f,))
    assert torch.autograd.gradcheck(losses.total_variation, (f,))


def test_content_gradient_is_eq2() -> None:
    f = torch.tensor([[[[1.0, -2.0]]]], requires_grad=True)
    p = torch.tensor([[[[0.5, 1.0]]]])
    losses.content_loss(f, p, "paper").backward()
    assert f.grad is not None and f.grad.tolist() == [[[[0.5, -3.0]]]]  # F − P


def test_total_variation_values() -> None:
    assert losses.total_variation(torch.full((1, 3, 8, 8), 0.7)).item() == 0.0
    stripes = torch.zeros(1, 1, 4, 4)
    stripes[..., 1::2] = 1.0  # every horizontal neighbour differs by 1, vertical ones not at all
    assert losses.total_variation(stripes).item() == pytest.approx(1.0)


def test_style_loss_weights_layers_and_total_loss_is_eq7() -> None:
    torch.manual_seed(0)
    feats = {"a": torch.rand(1, 2, 3, 3), "b": torch.rand(1, 4, 2, 2)}
    targets = {k: losses.style_target(torch.rand_like(v)) for k, v in feats.items()}
    ea = losses.style_layer_loss(feats["a"], targets["a"]).item()
    eb = losses.style_layer_loss(feats["b"], targets["b"]).item()
    got = losses.style_loss(feats, targets, {"a": 2.0, "b": 0.5}).item()
    assert got == pytest.approx(2 * ea + 0.5 * eb)
    one = torch.tensor(1.0)
    assert losses.total_loss(one * 2, one * 3, one * 5, 10.0, 100.0, 1000.0).item() == pytest.approx(5320.0)


def test_module_wrappers_match_functions() -> None:
    torch.manual_seed(0)
    f, p = torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4)
    assert losses.ContentLoss(p)(f).item() == pytest.approx(losses.content_loss(f, p).item())
    assert losses.StyleLoss(p)(f).item() == pytest.approx(losses.style_layer_loss(f, losses.style_target(p)).item())
    for norm in ("paper", "mean"):  # each wrapper keeps its normalization, for the target and the loss
        content = losses.ContentLoss(p, norm)(f).item()
        assert content == pytest.approx(losses.content_loss(f, p, norm).item())
        style = losses.StyleLoss(p, norm)(f).item()
        assert style == pytest.approx(losses.style_layer_loss(f, losses.style_target(p, norm), norm).item())
    assert losses.ContentLoss(p, "paper")(f).item() != pytest.approx(losses.ContentLoss(p, "mean")(f).item())
    assert losses.StyleLoss(p, "paper")(f).item() != pytest.approx(losses.StyleLoss(p, "mean")(f).item())


def test_gram_of_bf16_features_is_computed_in_fp32() -> None:
    f = torch.rand(1, 4, 8, 8).bfloat16()
    assert losses.gram_matrix(f).dtype == torch.float32


def moments(mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """The augmented Gram matrix / count of a Gaussian: [[Σ + μμᵀ, μ], [μᵀ, 1]]."""
    n = mean.shape[0]
    m = torch.ones(1, n + 1, n + 1, dtype=torch.float64)
    m[0, :n, :n] = cov + torch.outer(mean, mean)
    m[0, :n, n] = m[0, n, :n] = mean
    return m


def random_cov(n: int, seed: int) -> torch.Tensor:
    a = torch.randn(n, 2 * n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return a @ a.T / (2 * n)


def test_augmented_gram_holds_mean_and_covariance() -> None:
    f = torch.randn(1, 5, 7, 9, dtype=torch.float64) * 3 + 2
    mean, cov = losses.gaussian(losses.gram_matrix(losses.augment(f)))
    flat = f.reshape(5, -1)
    torch.testing.assert_close(mean[0], flat.mean(1))
    torch.testing.assert_close(cov[0], torch.cov(flat, correction=0))


def test_wasserstein_distance_of_independent_channels_is_the_closed_form() -> None:
    """Diagonal covariances: W₂² = Σ (μ_i − ν_i)² + (σ_i − τ_i)², here divided by N."""
    mu, nu = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64), torch.tensor([0.0, 1.0, 0.5], dtype=torch.float64)
    var, tar = torch.tensor([4.0, 1.0, 9.0], dtype=torch.float64), torch.tensor([1.0, 1.0, 0.25], dtype=torch.float64)
    target = losses.wasserstein_target(moments(nu, torch.diag(tar)))
    got = losses.wasserstein_distance(moments(mu, torch.diag(var)), target)
    expected = ((mu - nu) ** 2 + (var.sqrt() - tar.sqrt()) ** 2).sum() / 3
    assert got.item() == pytest.approx(expected.item(), rel=1e-9)


def test_wasserstein_distance_is_zero_only_for_the_same_gaussian_and_rotation_invariant() -> None:
    n = 6
    mean, cov = torch.randn(n, dtype=torch.float64), random_cov(n, 1)
    t_mean, t_cov = torch.randn(n, dtype=torch.float64), random_cov(n, 2)
    same = losses.wasserstein_distance(moments(mean, cov), losses.wasserstein_target(moments(mean, cov)))
    assert abs(same.item()) < 1e-9
    d = losses.wasserstein_distance(moments(mean, cov), losses.wasserstein_target(moments(t_mean, t_cov)))
    q, _ = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64))
    rotated = losses.wasserstein_distance(moments(q @ mean, q @ cov @ q.T),
                                          losses.wasserstein_target(moments(q @ t_mean, q @ t_cov @ q.T)))
    assert d.item() > 0.1 and rotated.item() == pytest.approx(d.item(), rel=1e-9)
    # only the covariance differs: the Bures term alone, positive
    cov_only = losses.wasserstein_distance(moments(mean, cov), losses.wasserstein_target(moments(mean, t_cov)))
    assert 0 < cov_only.item() < d.item()


def test_wasserstein_distance_gradient_passes_gradcheck() -> None:
    f = torch.randn(1, 4, 5, 6, dtype=torch.float64, requires_grad=True)
    style = torch.randn(1, 4, 6, 6, dtype=torch.float64)
    target = losses.wasserstein_target(losses.gram_matrix(losses.augment(style)))

    def distance(x: torch.Tensor) -> torch.Tensor:
        return losses.wasserstein_distance(losses.gram_matrix(losses.augment(x)), target)

    assert torch.autograd.gradcheck(distance, (f,))
