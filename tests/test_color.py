from __future__ import annotations

import torch

from stylo import color


def test_yiq_round_trip_and_luminance_of_white() -> None:
    torch.manual_seed(0)
    x = torch.rand(1, 3, 5, 7)
    assert torch.allclose(color.yiq_to_rgb(color.rgb_to_yiq(x)), x, atol=1e-5)
    white = torch.ones(1, 3, 1, 1)
    assert torch.allclose(color.rgb_to_yiq(white).flatten(), torch.tensor([1.0, 0.0, 0.0]), atol=1e-3)


def test_match_luminance_takes_the_contents_mean_and_deviation() -> None:
    torch.manual_seed(0)
    style, content = torch.rand(1, 1, 8, 8) * 0.3, torch.rand(1, 1, 6, 6) * 0.8 + 0.1
    matched = color.match_luminance(style, content)
    assert torch.allclose(matched.mean(), content.mean(), atol=1e-5)
    assert torch.allclose(matched.std(), content.std(), atol=1e-5)


def test_recombine_keeps_the_contents_chroma() -> None:
    torch.manual_seed(0)
    stylized, content = torch.rand(1, 3, 4, 4) * 0.2 + 0.4, torch.rand(1, 3, 4, 4) * 0.2 + 0.4  # in gamut
    out = color.recombine(stylized, content)
    assert torch.allclose(color.rgb_to_yiq(out)[:, 1:], color.rgb_to_yiq(content)[:, 1:], atol=1e-4)
    assert torch.allclose(color.luminance(out), color.luminance(stylized).clamp(0, 1), atol=0.05)


def test_sqrtm_squares_back_and_inverts() -> None:
    a = torch.tensor([[2.0, 0.5, 0.1], [0.5, 1.0, 0.2], [0.1, 0.2, 0.5]], dtype=torch.float64)
    r = color.sqrtm(a)
    assert torch.allclose(r @ r, a, atol=1e-10)
    assert torch.allclose(color.sqrtm(a, inverse=True) @ r, torch.eye(3, dtype=torch.float64), atol=1e-10)


def test_histogram_matching_gives_the_style_the_contents_mean_and_covariance() -> None:
    g = torch.Generator().manual_seed(0)
    style = torch.rand(1, 3, 16, 16, generator=g) * torch.tensor([0.9, 0.2, 0.3]).view(1, 3, 1, 1)
    content = torch.rand(1, 3, 12, 12, generator=g) * 0.4 + 0.3
    content[:, 2] = content[:, 0] * 0.5 + 0.2  # correlated channels
    out = color.match_histogram(style, content, clamp=False)
    mu_o, cov_o = color.mean_cov(out)
    mu_c, cov_c = color.mean_cov(content)
    assert torch.allclose(mu_o, mu_c, atol=1e-5) and torch.allclose(cov_o, cov_c, atol=1e-5)
    clamped = color.match_histogram(style, content)
    assert clamped.min() >= 0 and clamped.max() <= 1
