"""The memory budget (stylo.budget): how a level is run within it, and that a run stays within it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from stylo.budget import GIB, HISTORIES, budget_bytes, max_side, plan

MARGIN = 80
ROOT = Path(__file__).resolve().parents[1]
PLENTY = 64 * GIB  # a budget that holds any level here untiled


# The child reports its own high-water mark (VmHWM, reset at exec): wait4's ru_maxrss would include the memory of
# the forked parent (the test process, 1 GB into the suite) before the exec.
PEAK = ("import sys; from stylo.cli import main; code = main(sys.argv[1:]); "
        "print([line for line in open('/proc/self/status') if line.startswith('VmHWM')][0]); sys.exit(code)")


def peak_rss(*flags: str) -> int:
    """Peak RSS in bytes of ``stylo run`` on the bundled samples: full size only, 1 step, fp32."""
    argv = [sys.executable, "-c", PEAK, "run", str(ROOT / "samples" / "tubingen.jpg"),
            str(ROOT / "samples" / "starry_night.jpg"), "--scales", "1", "--steps", "1", "--init", "content",
            "--precision", "fp32", "--quiet", *flags]
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    match = re.search(r"VmHWM:\s+(\d+) kB", done.stdout)
    assert match, done.stdout
    return int(match.group(1)) * 1024


def test_a_level_that_fits_runs_untiled_with_the_full_history() -> None:
    p = plan(512, 384, 4 * GIB, MARGIN)
    assert p is not None and p.tile is None and p.history == HISTORIES[0] and p.cost == 1.0


def test_the_untiled_estimate_is_measured_peak_memory_within_a_factor(tmp_path: Path) -> None:
    """Two real untiled runs (the samples are 4:3): the estimate covers the measured peak RSS and is at most
    twice it, and its growth per pixel (the activations' share) is within a factor of 2 of the measured growth.
    (Measured on a 2-core CPU: 0.40 GiB at 192 px, 0.65 GiB at 384 px, 3.2 kB more a pixel.)"""
    measured, estimated = {}, {}
    for side in (192, 384):
        measured[side] = peak_rss("-o", str(tmp_path / f"{side}.png"), "--size", str(side))
        level = plan(side, side * 3 // 4, PLENTY, MARGIN)
        assert level is not None and level.tile is None
        estimated[side] = level.bytes
    assert measured[384] <= estimated[384] <= 2 * measured[384], (measured, estimated)
    growth = (estimated[384] - estimated[192]) / (measured[384] - measured[192])
    assert 0.5 <= growth <= 2, (growth, measured, estimated)


def test_the_untiled_estimate_holds_at_least_the_activations_and_the_history() -> None:
    """From first principles, a megapixel untiled: the backward pass keeps every conv output of VGG19 up to
    relu5_1 (fp32; channels per pixel 2·64 + 2·128/4 + 4·256/16 + 4·512/64 + 512/256 = 290, i.e. 1160 bytes a
    pixel) and L-BFGS keeps 20 pairs of RGB fp32 images (480 bytes a pixel): at least 1.64 kB a pixel."""
    small, large = (plan(side, side, PLENTY, MARGIN) for side in (1000, 2000))
    assert small is not None and large is not None and small.tile is None and large.tile is None
    assert small.history == large.history == 20
    per_pixel = (large.bytes - small.bytes) / (2000**2 - 1000**2)
    assert 1160 + 480 <= per_pixel <= 4 * (1160 + 480), per_pixel


@pytest.mark.parametrize(("budget_gib", "side"), [(3, 2048), (7.2, 4096), (16, 4096)])
def test_a_print_size_level_is_tiled_within_the_budget(budget_gib: float, side: int) -> None:
    budget = int(budget_gib * GIB)
    w, h = side, side * 3 // 4
    p = plan(w, h, budget, MARGIN)
    assert p is not None and p.tile is not None and p.tile % 16 == 0
    assert p.bytes <= budget  # the plan's own estimate fits what it was given
    # at least the L-BFGS history and the image and its gradient, RGB fp32, at full size
    assert p.bytes >= w * h * 3 * 4 * (2 * p.history + 2)
    assert p.cost > 4 / 3  # a second forward pass and the halo
    bigger = plan(w, h, 2 * budget, MARGIN)
    assert bigger is not None and (bigger.tile or 10**9) >= p.tile and bigger.history >= p.history


def test_more_budget_never_makes_a_plan_worse() -> None:
    """Monotonic in the budget (faster or the same) and in the image (a larger one never fits where a smaller
    one does not)."""
    previous = None
    for gib in (1, 1.5, 2, 3, 4, 6, 8, 12, 16, 32, 64):
        p = plan(3000, 2000, int(gib * GIB), MARGIN)
        if previous is not None:
            assert p is not None and p.cost <= previous.cost and p.history >= previous.history, (gib, p, previous)
        previous = p or previous
        fits = [plan(s, s, int(gib * GIB), MARGIN) is not None for s in range(256, 20000, 256)]
        assert fits == sorted(fits, reverse=True), gib  # all that fit come first


def test_the_default_budget_is_a_safe_share_of_this_machines_memory() -> None:
    with open("/proc/meminfo") as fh:
        total = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemTotal:"))
    budget = budget_bytes(None)
    assert budget == GIB if total < 4 * GIB else 0.2 * total <= budget <= 0.5 * total
    on_gpu = budget_bytes(None, device_memory=80 * GIB)  # a GPU's memory, not the RAM, bounds a run on it
    assert 16 * GIB <= on_gpu <= 40 * GIB
    assert 2 * budget_bytes(None, device_memory=40 * GIB) == pytest.approx(on_gpu, rel=1e-6)
    assert budget_bytes("3G") == 3 * GIB


def test_a_given_tile_is_kept_and_a_hopeless_budget_refused() -> None:
    p = plan(2048, 1536, 3 * GIB, MARGIN, tile=256)
    assert p is not None and p.tile == 256 and p.bytes <= 3 * GIB
    assert plan(8192, 8192, 2 * GIB, MARGIN) is None
    assert plan(300, 200, 2 * GIB, MARGIN, tile=512) is not None  # a tile larger than the image: untiled


def test_a_size_beyond_the_budget_is_refused_with_the_size_that_fits(tmp_path: Path, small_images) -> None:
    """The refusal names a size, and that size is right: a square of it fits the budget, 10 % more does not."""
    out = tmp_path / "x.png"
    r = subprocess.run([sys.executable, "-m", "stylo", "run", str(small_images[0]), str(small_images[1]),
                        "-o", str(out), "--size", "9000", "--max-memory", "3G"], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    match = re.search(r"at most (\d+) px", r.stderr)
    assert match, r.stderr
    fits = int(match.group(1))
    assert 1000 < fits < 9000 and fits == max_side(3 * GIB)
    assert plan(fits, fits, 3 * GIB, MARGIN) is not None and plan(fits * 11 // 10, fits * 11 // 10, 3 * GIB,
                                                                  MARGIN) is None
    assert not out.exists()


def test_a_run_stays_within_a_small_budget(tmp_path: Path) -> None:
    """A 768 px run needs about 1.8 GB untiled (measured peak RSS, docs/benchmarks.md); with --max-memory 1.2G
    it is tiled, and its measured peak stays under 1.2 GiB."""
    assert plan(768, 576, int(1.2 * GIB), MARGIN).tile is not None  # type: ignore[union-attr]
    out = tmp_path / "x.png"
    peak = peak_rss("-o", str(out), "--size", "768", "--max-memory", "1.2G")
    assert peak < 1.2 * GIB
    assert out.exists()
