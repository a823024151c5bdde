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
    from stylo.optimize import level_plans, scale_sizes

    s = Settings(size=12000, max_memory="2G")
    with pytest.raises(StyloError, match=rf"at most {budget.max_side(2 * budget.GIB)} px") as info:
        level_plans(s, scale_sizes((12000, 9000), 2, 16, 256), plan_device())
    assert info.value.settings == ("size", "max_memory")
    assert level_plans(Settings(size=512, max_memory="2G"), [(512, 384)], plan_device())[0].tile is None


def plan_device():
    import torch

    return torch.device("cpu")


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
