"""The memory budget (stylo.budget): how a level is run within it, and that a run stays within it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stylo.budget import GIB, HISTORIES, budget_bytes, max_side, physical_memory, plan, tiled_bytes, untiled_bytes

MARGIN = 80


def test_a_level_that_fits_runs_untiled_with_the_full_history() -> None:
    p = plan(512, 384, 4 * GIB, MARGIN)
    assert p is not None and p.tile is None and p.history == HISTORIES[0] and p.cost == 1.0


@pytest.mark.parametrize("budget_gib", [3, 7.2, 16])
def test_a_print_size_level_is_tiled_within_the_budget(budget_gib: float) -> None:
    budget = int(budget_gib * GIB)
    p = plan(4096, 3072, budget, MARGIN)
    if max_side(budget) < 4096:
        assert p is None
        return
    assert p is not None and p.tile is not None and p.tile % 16 == 0
    assert untiled_bytes(4096 * 3072) > budget >= p.bytes == tiled_bytes(4096 * 3072, p.history, p.tile, MARGIN)
    assert p.cost > 4 / 3  # a second forward pass and the halo
    bigger = plan(4096, 3072, 2 * budget, MARGIN)
    assert bigger is not None and (bigger.tile or 10**9) >= p.tile and bigger.history >= p.history


def test_the_default_budget_tiles_a_4096_print_on_this_machine() -> None:
    budget = budget_bytes(None)
    assert budget == int(physical_memory() * 0.3) or budget == GIB
    if physical_memory() >= 20 * GIB:
        assert max_side(budget) >= 4096


def test_a_given_tile_is_kept_and_a_hopeless_budget_refused() -> None:
    p = plan(2048, 1536, 3 * GIB, MARGIN, tile=256)
    assert p is not None and p.tile == 256
    assert plan(8192, 8192, 2 * GIB, MARGIN) is None
    assert plan(300, 200, 2 * GIB, MARGIN, tile=512) is not None  # a tile larger than the image: untiled


def test_a_size_beyond_the_budget_is_refused_with_the_size_that_fits(tmp_path: Path, small_images) -> None:
    out = tmp_path / "x.png"
    r = subprocess.run([sys.executable, "-m", "stylo", "run", str(small_images[0]), str(small_images[1]),
                        "-o", str(out), "--size", "9000", "--max-memory", "3G"], capture_output=True, text=True)
    assert r.returncode == 2 and f"at most {max_side(3 * GIB)} px" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_a_run_stays_within_a_small_budget(tmp_path: Path) -> None:
    """Peak RSS of a subprocess from wait4: a 768 px run needs 1.8 GB untiled; with --max-memory 1.2G it is
    tiled and stays under 1.2 GiB."""
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "x.png"
    argv = [sys.executable, "-m", "stylo", "run", str(root / "samples" / "tubingen.jpg"),
            str(root / "samples" / "starry_night.jpg"), "-o", str(out), "--size", "768", "--scales", "1",
            "--steps", "1", "--init", "content", "--max-memory", "1.2G", "--quiet"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, proc.stderr.read() if proc.stderr else ""
    peak = usage.ru_maxrss * 1024
    assert untiled_bytes(768 * 576) > 1.2 * GIB > peak
    assert out.exists()
