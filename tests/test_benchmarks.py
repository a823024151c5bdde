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
    from stylo.config import from_mapping
    from stylo.image import fit_area, open_image, resize, save_png, to_tensor
    from stylo.objective import Objective, compute_targets

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
