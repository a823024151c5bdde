"""The benchmark scripts keep working, and stylo's objective equals pastiche's (what vs_pastiche relies on)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import pastiche_objective  # noqa: E402
import step_cost  # noqa: E402


def test_stylo_configured_as_pastiche_scores_like_pastiche(tmp_path: Path, small_images) -> None:
    from stylo.backbones import load_backbone
    from stylo.image import fit_area, open_image, resize, save_png, to_tensor
    from stylo.objective import Objective, compute_targets
    from stylo.settings_io import from_mapping

    content_path, style_path = small_images
    pixels = 64 * 48
    w, h = pastiche_objective.pastiche_size(content_path, pixels)
    s = from_mapping(pastiche_objective.PASTICHE_AS_STYLO).replace(precision="fp32")
    content, style = open_image(content_path), open_image(style_path)
    c = to_tensor(resize(content, (w, h), "bilinear"))
    st = to_tensor(resize(style, fit_area(style.size, w * h), "bilinear"))
    net = load_backbone()
    objective = Objective(net, compute_targets(net, s, c, [st], None), s, [1.0], None)
    torch.manual_seed(0)
    image = (c + 0.1 * torch.randn_like(c)).clamp(0, 1)
    png = tmp_path / "x.png"
    from stylo.image import to_pil

    save_png(to_pil(image), png)
    ours = objective(to_tensor(open_image(png))).total.item()
    theirs = pastiche_objective.pastiche_loss(content_path, style_path, png, pixels)
    assert ours == pytest.approx(theirs, rel=1e-4)


def test_step_cost_script_runs(capsys) -> None:
    assert step_cost.main(["--width", "32", "--height", "32", "--repeat", "1", "--peak-size", "256"]) == 0
    out = capsys.readouterr().out
    assert "fp32" in out and "bf16" in out and "GFLOP" in out


def test_flop_count_of_vgg19() -> None:
    # conv1_1 alone at 1x1: 2·3·64·9 FLOPs
    assert step_cost.conv_gflop(1, 1, "conv1_1") == pytest.approx(2 * 3 * 64 * 9 / 1e9)


def test_highres_script_prints_untiled_and_tiled_rows(capsys) -> None:
    import highres

    assert highres.main(["--sizes", "160", "--max-memory", "2G"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 160 |")]
    assert [r.split("|")[2].strip().split(":")[0] for r in rows] == ["untiled", "tiled"]
    for row in rows:
        rss, per_step = (float(v) for v in row.split("|")[3:5])
        assert 0.2 < rss < 2 and per_step > 0


def _farthest_from_one(cell: str) -> float:
    """``"0.75–0.80"`` → 0.25: how far the range's worse end lies from a ratio of 1."""
    return max(abs(float(v) - 1) for v in cell.strip(" |").split("–"))


def test_pooling_script_fits_factors_that_bring_the_activations_to_max_poolings(capsys) -> None:
    import pooling

    assert pooling.main(["--size", "96"]) == 0
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.startswith(("| avg", "| l2"))]
    assert [(r[0], r[1]) for r in rows] == [("| avg", "none"), ("| avg", "stylo"), ("| l2", "none"),
                                            ("| l2", "stylo")]
    for unscaled, scaled in ((rows[0], rows[1]), (rows[2], rows[3])):
        for before, after in zip(unscaled[2:], scaled[2:]):
            assert _farthest_from_one(after) < _farthest_from_one(before)


def test_levers_script_scores_every_lever(capsys) -> None:
    import levers

    assert levers.main(["--pairs", "tubingen-starry", "--size", "64", "--steps", "2"]) == 0  # samples/ only (CI)
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.startswith("| tubingen-starry")]
    assert [r[1] for r in rows] == list(levers.LEVERS)
    assert all(float(r[2]) > 0 and float(r[3]) > 0 for r in rows)
    assert len({r[3] for r in rows}) == len(rows)  # each lever gives its own picture


def _gain(m, d: torch.Tensor) -> float:
    """The Rayleigh quotient dᵀMd / dᵀd."""
    return float(torch.dot(d, m(d)) / torch.dot(d, d))


def test_multiresolution_preconditioner_is_symmetric_and_boosts_smooth_directions() -> None:
    import levers

    shape = torch.Size((1, 3, 20, 28))
    m = levers.multiresolution(shape)
    u, v = torch.randn(shape.numel()), torch.randn(shape.numel())
    torch.testing.assert_close(torch.dot(m(u), v), torch.dot(u, m(v)), rtol=1e-4, atol=1e-3)
    flat, noise = torch.ones(shape.numel()), torch.randn(shape.numel())
    assert _gain(m, flat) > 10 * _gain(m, noise)


def test_preview_latency_script_times_the_preview_before_the_first_step(capsys) -> None:
    import preview_latency

    assert preview_latency.main(["--size", "64", "--steps", "1"]) == 0
    words = capsys.readouterr().out.split()
    seconds = {words[i]: float(words[i + 1]) for i in range(0, len(words), 3)}
    assert list(seconds)[:3] == ["start", "preview", "step"] and seconds["preview"] <= seconds["step"]


def test_frontier_time_to_loss_and_a_tiny_run(tmp_path: Path, small_images, tiny_everywhere, capsys) -> None:
    import csv

    import frontier
    from PIL import Image

    times, losses = [1.0, 2.0, 3.0, 4.0], [10.0, 8.0, 4.0, 2.0]
    assert frontier.time_to_loss(times, losses, 6.0) == pytest.approx(2.5)  # halfway from 8 to 4
    assert frontier.time_to_loss(times, losses, 4.0) == pytest.approx(3.0)
    assert frontier.time_to_loss(times, losses, 12.0) == pytest.approx(1.0)  # the first step already
    assert frontier.time_to_loss(times, losses, 1.0) is None
    assert frontier.time_to_loss([1.0, 2.0, 3.0], [5.0, 3.0, 1.0], 4.0) == pytest.approx(1.5)
    assert frontier.time_to_loss([1.0, 2.0, 3.0], [5.0, 5.0, 3.0], 5.0) == pytest.approx(1.0)  # reached means ≤
    assert frontier.speedup_at_equal_loss(times, losses, 6.0, 0.5) == (pytest.approx(5.0), False)
    assert frontier.speedup_at_equal_loss(times, losses, 1.0, 0.5) == (pytest.approx(8.0), True)  # lower bound
    runs = [(2.0, 9.0, 3.0), (0.5, 2.0, 7.0), (1.0, 4.0, 5.0)]
    assert frontier.smallest_reaching(runs, 5.0) == (1.0, 4.0)
    assert frontier.smallest_reaching(runs, 1.0) is None
    assert frontier.budget_steps(6, 12, 0.25) == (2, 3) and frontier.budget_steps(6, 12, 0.01) == (1, 1)
    ran: list[float] = []

    def fake(factor: float) -> frontier.Run:  # a budget's loss falls as its factor grows
        ran.append(factor)
        return frontier.Run(f"x{factor:g}", "1", factor, 10.0 / factor, 0.0, 0.0, "fp32")

    assert [f for f, _ in frontier.until_reached([4.0, 1.0, 8.0, 2.0], fake, 4.0)] == [1.0, 2.0, 4.0]
    assert ran == [1.0, 2.0, 4.0]  # x8 is never run: x4 already reaches the loss 4
    assert [f for f, _ in frontier.until_reached([1.0, 2.0], fake, 1.0)] == [1.0, 2.0]  # none reaches: all run

    images = (Image.open(small_images[0]).convert("RGB"), Image.open(small_images[1]).convert("RGB"))
    out = tmp_path / "results.csv"
    argv = ["--size", "64", "--plain-steps", "8", "--budgets", "0.5,2", "--no-metrics", "--no-cache",
            "--every-budget", "--out", str(out)]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the tiny network's convolutions are too small to share; shared cores made it 100× slower
    try:
        assert frontier.main(argv, images=images) == 0
    finally:
        torch.set_num_threads(threads)
    text = capsys.readouterr().out
    assert "precision auto ->" in text and "CPU:" in text
    assert [line.split(" | ")[0] for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:] \
        == ["| plain-photo", "| plain-noise", "| default", "| budget x0.5", "| budget x2"]
    assert "given-given: speedup_vs_photo " in text and "stylo_time_to_plain8 " in text
    curves = list(csv.DictReader(out.open()))
    summary = next(csv.DictReader(out.with_name("results-summary.csv").open()))
    for name, column in (("plain-photo", "speedup_vs_photo"), ("plain-noise", "speedup_vs_noise")):
        plain = [r for r in curves if r["run"] == name]
        assert len(plain) == 8 and all(r["scale"] == r["scales"] == "1" and r["width"] == "64" for r in plain)
        seconds, loss = [float(r["seconds"]) for r in plain], [float(r["loss"]) for r in plain]
        assert seconds == sorted(seconds) and loss == sorted(loss, reverse=True)  # L-BFGS never raises the loss
        expected, _ = frontier.speedup_at_equal_loss(seconds, loss, float(summary["default_loss"]),
                                                     float(summary["default_s"]))
        assert float(summary[column]) == pytest.approx(expected)
    assert sum(r["run"] == "budget x2" for r in curves) == 2 * sum(r["run"] == "default" for r in curves)
