"""The machine's side of a run (stylo.plan): settings never read the machine; the seed and the memory budget are
each decided in one function."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stylo import budget, plan
from stylo.config import Settings
from stylo.errors import StyloError

SRC = Path(__file__).resolve().parents[1] / "src" / "stylo"


def test_settings_are_the_same_on_every_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """A size that no 24 GB machine can hold untiled is still valid settings: only the plan reads the RAM."""

    def no_machine() -> int:
        raise AssertionError("Settings validation read the machine's memory")

    monkeypatch.setattr(budget, "physical_memory", no_machine)
    assert Settings(size=12000).size == 12000
    assert Settings(size=16384, max_memory="1G").max_memory == "1G"
    with pytest.raises(StyloError, match="at least 1G"):
        Settings(max_memory="10M")


def test_the_plan_refuses_a_size_that_does_not_fit_with_the_size_that_would() -> None:
    s = Settings(size=12000, max_memory="2G")
    with pytest.raises(StyloError, match=rf"at most {budget.max_side(2 * budget.GIB)} px") as info:
        plan.plan_run(s, (12000, 9000))
    assert info.value.settings == ("size", "max_memory")
    fits = plan.plan_run(Settings(size=512, max_memory="2G"), (1024, 768))
    assert [p.tile for p in fits.levels] == [None, None] and fits.budget == 2 * budget.GIB


def test_the_plan_holds_what_the_run_decides_before_its_first_step() -> None:
    """Device, precision, seed, levels, steps and each level's tiling: asked of the runtime, not of the settings."""
    s = Settings(size=512, scales=2, steps=7, coarse_steps=3, max_memory="1G", device="cpu", precision="fp32")
    run = plan.plan_run(s, (1000, 750), seed=42)
    assert (str(run.device), run.autocast, run.precision, run.seed) == ("cpu", None, "fp32", 42)
    assert run.sizes == [(256, 192), (512, 384)] and run.steps == [3, 7] and run.total_steps == 10
    assert run.minimum == 16 and run.bytes == max(p.bytes for p in run.levels) > budget.FIXED_BYTES
    tiled = plan.plan_run(s, (1000, 750), plan.Runtime("cpu", "bf16", "1G", tile=128))
    assert tiled.autocast is not None and [p.tile for p in tiled.levels] == [128, 128]
    assert plan.plan_run(s.replace(seed=None), (1000, 750), repeatable=True).seed == plan.REPEATABLE_SEED
    with pytest.raises(StyloError, match="content image at size 512 is too small: 512x5 px"):
        plan.plan_run(s, (4000, 40))


def test_a_seed_is_kept_fixed_for_repeatable_runs_and_drawn_otherwise() -> None:
    assert plan.run_seed(7) == 7 and plan.run_seed(7, repeatable=True) == 7
    assert plan.run_seed(None, repeatable=True) == plan.REPEATABLE_SEED
    drawn = {plan.run_seed(None) for _ in range(8)}
    assert len(drawn) > 1 and all(0 <= s < 2**31 for s in drawn)


def test_the_memory_budget_follows_max_memory_or_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    assert plan.memory_budget("3G") == 3 * budget.GIB
    monkeypatch.setattr(budget, "physical_memory", lambda: 10 * budget.GIB)
    assert plan.memory_budget(None) == 3 * budget.GIB  # 30 % of the RAM


def calls(pattern: str) -> list[str]:
    """The modules of src/stylo whose code (comments and docstrings aside) matches ``pattern``."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        code = "\n".join(line.split("#")[0] for line in path.read_text().splitlines())
        if re.search(pattern, code):
            found.append(str(path.relative_to(SRC)))
    return found


def test_the_seed_is_drawn_and_the_budget_computed_in_one_place_each() -> None:
    assert calls(r"secrets\.randbelow|random\.(randint|randrange|getrandbits)|torch\.seed\(") == ["plan.py"]
    assert calls(r"\bbudget_bytes\(") == ["budget.py", "plan.py"]  # its definition, and its one caller
    assert calls(r"seed\s*=\s*0\b|replace\(seed=0\)") == []
