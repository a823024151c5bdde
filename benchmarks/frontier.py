"""Time to quality: how long the peers' plain algorithm needs to reach the loss of stylo's default, in stylo's own
objective, on the look panel.

    python benchmarks/frontier.py --size 256 [--plain-steps 300] [--pairs 10] [--budgets 0.25,0.5,2,4,8]

For each pair of the look panel (benchmarks/look.py) at ``--size``, every run under the objective of stylo's
default settings (same weights, layers, TV and normalization, seed ``--seed``):

* **plain-photo**: the peers' plain algorithm, L-BFGS at the full size only from the photo (pastiche, the fast
  peers): ``init="content", scales=1, steps=--plain-steps``;
* **plain-noise**: the same from noise, as neural-style starts: ``init="noise"``;
* **default**: stylo's default run (feed-forward start, coarse to fine);
* **budget x F**: the default with ``steps`` and ``coarse_steps`` multiplied by each factor of ``--budgets``
  (those above 1 in ascending order, until the first that reaches the plain runs' lower final loss;
  ``--every-budget`` runs them all).

Every step's wall time, loss and (unweighted) content, style and TV terms are logged (``--out``, one row per
step; rows of a coarse level, ``scale < scales``, are losses at that level's size, not comparable to the full-size
ones; beside it ``*-runs.csv``, one row per run, and ``*-summary.csv``, one row per pair). The plain runs
step at the full size, so their per-step loss is the full-size objective; stylo's runs are compared by their
final full-size loss (``Result.loss``) and time (``Result.elapsed``). Printed per pair: a table of the runs and

    speedup_vs_photo X.X speedup_vs_noise Y.Y stylo_time_to_plain300 Z s

where a speedup is the time the plain run needs to reach the default's loss ÷ the default's time (linearly
interpolated between the two steps around the crossing, which favours the plain run; ``>X.X`` is a lower bound:
the plain run did not reach it in its steps), and ``stylo_time_to_plain300`` the time of the smallest budget whose
loss is at most the lower of the two plain runs' final losses. Times exclude loading the networks (VGG19 and the
feed-forward network are loaded and warmed up by a one-step run before each pair's timed runs); run it alone on
the machine.

What this measures and what ``benchmarks/vs_pastiche.py`` does not: the algorithms, on equal terms — the same
implementation, the same objective (stylo's), the same warm process. vs_pastiche.py measures something else and
stays: whole processes of the two tools (start-up included), i.e. implementation speed per step against pastiche,
scored in pastiche's own objective.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from PIL import Image

from stylo.config import Settings
from stylo.device import cpu_has_bf16, resolve_device, resolve_precision
from stylo.loop import Hooks, Step
from stylo.optimize import stylize_result

sys.path.insert(0, str(Path(__file__).resolve().parent))
from look import PANEL, content_image, style_image  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUDGETS = (0.25, 0.5, 2.0, 4.0, 8.0)
GOAL, AIM = 3.0, 10.0  # the bar for the speedup at equal loss, and its aim


@dataclass(frozen=True)
class Point:
    """One step of a run, as logged."""

    step: int
    scale: int
    scales: int
    width: int
    height: int
    seconds: float
    loss: float
    content: float
    style: float
    tv: float


@dataclass
class Run:
    """One run: its name, its steps per level, its final full-size losses and time, its curve."""

    name: str
    steps: str
    seconds: float
    loss: float
    content: float
    style: float
    precision: str
    curve: list[Point] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def full_size(self) -> list[Point]:
        """The steps at the full size (all of a plain run's)."""
        return [p for p in self.curve if p.scale == p.scales]


# --- pure helpers -------------------------------------------------------------------------------------------------

def first_reaching(losses: Sequence[float], target: float) -> int | None:
    """The index of the first loss ≤ ``target``, or None."""
    return next((i for i, loss in enumerate(losses) if loss <= target), None)


def time_to_loss(times: Sequence[float], losses: Sequence[float], target: float) -> float | None:
    """When a run whose step ``i`` ended at ``times[i]`` with ``losses[i]`` first reached ``target``: linearly
    interpolated between the step before and the first step at or below it (the first step's own time if that
    one already is); None if no step reaches it."""
    if len(times) != len(losses):
        raise ValueError(f"{len(times)} times for {len(losses)} losses")
    i = first_reaching(losses, target)
    if i is None:
        return None
    if i == 0:
        return times[0]
    t0, t1, l0, l1 = times[i - 1], times[i], losses[i - 1], losses[i]
    return t0 + (t1 - t0) * (l0 - target) / (l0 - l1)


def speedup_at_equal_loss(times: Sequence[float], losses: Sequence[float], target: float, seconds: float
                          ) -> tuple[float, bool]:
    """(the plain run's time to reach ``target`` ÷ ``seconds``, whether that is only a lower bound: the plain run
    never reached ``target``, and its whole time is used)."""
    t = time_to_loss(times, losses, target)
    return ((times[-1] if t is None else t) / seconds, t is None)


def smallest_reaching(runs: Sequence[tuple[float, float, float]], target: float) -> tuple[float, float] | None:
    """Of ``(budget factor, seconds, loss)`` runs, the (factor, seconds) of the smallest budget whose loss ≤
    ``target``; None if none does."""
    ok = sorted((f, s) for f, s, loss in runs if loss <= target)
    return ok[0] if ok else None


def budget_steps(steps: int, coarse_steps: int, factor: float) -> tuple[int, int]:
    """``steps`` and ``coarse_steps`` scaled by ``factor``, at least one each."""
    return max(1, round(steps * factor)), max(1, round(coarse_steps * factor))


def ratio_text(value: float, lower_bound: bool) -> str:
    return f"{'>' if lower_bound else ''}{value:.1f}"


def steps_text(curve: Sequence[Point]) -> str:
    """Steps per level, coarse to fine: ``12+6``."""
    counts: dict[int, int] = {}
    for p in curve:
        counts[p.scale] = counts.get(p.scale, 0) + 1
    return "+".join(str(counts[k]) for k in sorted(counts)) or "0"


# --- runs ----------------------------------------------------------------------------------------------------------

def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_has_avx512() -> bool:
    try:
        return " avx512f" in Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore")
    except OSError:
        return False


def precision_name(s: Settings) -> str:
    dtype = resolve_precision(s.precision, resolve_device(s.device))
    return "fp32" if dtype is None else str(dtype).removeprefix("torch.").replace("bfloat16", "bf16")


def header(s: Settings) -> str:
    return (f"# CPU: {cpu_name()}, {torch.get_num_threads()} threads, avx512_bf16/amx: "
            f"{'yes' if cpu_has_bf16() else 'no'}; torch {torch.__version__}; precision {s.precision} -> "
            f"{precision_name(s)}; size {s.size}; seed {s.seed}")


def run(name: str, content: Image.Image, style: Image.Image, s: Settings, metrics: bool) -> Run:
    """One timed run of ``s``, every step logged."""
    curve: list[Point] = []

    def log(step: Step) -> None:
        curve.append(Point(step.step, step.scale, step.scales, step.size[0], step.size[1], step.elapsed,
                           step.loss, step.content_loss, step.style_loss, step.tv_loss))

    result = stylize_result(content, style, s, Hooks(on_step=log))
    out = Run(name, steps_text(curve), result.elapsed, result.loss, result.content_loss, result.style_loss,
              result.precision, curve)
    if metrics:
        from stylo.metrics import evaluate

        m = evaluate(result.image, content, style)
        out.metrics = {"content_distance": m.content_distance, "style_distance": m.style_distance_sum,
                       "color_distance": m.color_distance}
    return out


def cached_plain(name: str, content: Image.Image, style: Image.Image, s: Settings, metrics: bool,
                 cache: Path | None, key: str) -> Run:
    """A plain run, reused from ``cache`` when the same settings, pair, machine and precision ran it before."""
    if cache is None:
        return run(name, content, style, s, metrics)
    ident = [key, s.to_dict(), cpu_name(), torch.get_num_threads(), torch.__version__, precision_name(s), metrics]
    if cpu_has_avx512():  # another kernel family, another timing (the CPU's name alone may not tell)
        ident.append("avx512")
    path = cache / f"{key}-{name}-{hashlib.sha256(json.dumps(ident).encode()).hexdigest()[:12]}.json"
    if path.exists():
        data = json.loads(path.read_text())
        data["curve"] = [Point(**p) for p in data["curve"]]
        return Run(**data)
    result = run(name, content, style, s, metrics)
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(result)))
    return result


@dataclass(frozen=True)
class PairResult:
    pair: str
    runs: list[Run]  # plain-photo, plain-noise, default, budgets
    budgets: list[tuple[float, Run]]  # (factor, run), the default (1.0) included

    def run(self, name: str) -> Run:
        return next(r for r in self.runs if r.name == name)


def until_reached(factors: Sequence[float], run_factor: Callable[[float], Run], target: float
                  ) -> list[tuple[float, Run]]:
    """Runs of the budgets ``factors`` in ascending order, up to and including the first whose loss is at most
    ``target`` (the larger ones cannot be the smallest budget that reaches it, so they are not run)."""
    done: list[tuple[float, Run]] = []
    for factor in sorted(factors):
        done.append((factor, run_factor(factor)))
        if done[-1][1].loss <= target:
            break
    return done


def bench_pair(pair: tuple[str, str], s: Settings, plain_steps: int, budgets: Sequence[float], metrics: bool,
               cache: Path | None, images: tuple[Image.Image, Image.Image] | None = None,
               every_budget: bool = False) -> PairResult:
    """The plain runs first (their lower final loss is the target), then the default, the budgets below it, and
    the budgets above it in ascending order until one reaches the target (all of them with ``every_budget``)."""
    key = f"{pair[0]}-{pair[1]}"
    content, style = images or (content_image(pair[0]), style_image(pair[1]))
    stylize_result(content, style, s.replace(steps=1, coarse_steps=1))  # loads and warms the networks
    plain = s.replace(scales=1, steps=plain_steps)
    photo = cached_plain("plain-photo", content, style, plain.replace(init="content"), metrics, cache, key)
    noise = cached_plain("plain-noise", content, style, plain.replace(init="noise"), metrics, cache, key)
    target = -math.inf if every_budget else min(photo.loss, noise.loss)

    def budget(factor: float) -> Run:
        if factor == 1.0:
            return run("default", content, style, s, metrics)
        steps, coarse = budget_steps(s.steps, s.coarse_steps, factor)
        return run(f"budget x{factor:g}", content, style, s.replace(steps=steps, coarse_steps=coarse), metrics)

    scaled = [(f, budget(f)) for f in sorted(f for f in budgets if f < 1.0)]
    scaled += until_reached(sorted({1.0, *(f for f in budgets if f > 1.0)}), budget, target)
    default = next(r for f, r in scaled if f == 1.0)
    return PairResult(key, [photo, noise, default, *(r for f, r in scaled if f != 1.0)], scaled)


# --- report --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Summary:
    pair: str
    default_s: float
    default_loss: float
    photo_loss: float
    photo_s: float
    noise_loss: float
    noise_s: float
    speedup_vs_photo: float
    photo_lower_bound: bool
    speedup_vs_noise: float
    noise_lower_bound: bool
    plain_loss: float  # the lower of the two plain runs' final losses
    stylo_time_to_plain: float | None
    budget_to_plain: float | None

    def line(self, plain_steps: int, largest: float) -> str:
        if self.stylo_time_to_plain is None:
            reach = f"not reached at the largest budget (x{largest:g})"
        else:
            reach = f"{self.stylo_time_to_plain:.1f} s (budget x{self.budget_to_plain:g})"
        return (f"speedup_vs_photo {ratio_text(self.speedup_vs_photo, self.photo_lower_bound)} "
                f"speedup_vs_noise {ratio_text(self.speedup_vs_noise, self.noise_lower_bound)} "
                f"stylo_time_to_plain{plain_steps} {reach}")


def summarize(result: PairResult) -> Summary:
    photo, noise, default = result.run("plain-photo"), result.run("plain-noise"), result.run("default")
    speedups = []
    for plain in (photo, noise):
        points = plain.full_size
        speedups.append(speedup_at_equal_loss([p.seconds for p in points], [p.loss for p in points],
                                              default.loss, default.seconds))
    target = min(photo.loss, noise.loss)
    reach = smallest_reaching([(f, r.seconds, r.loss) for f, r in result.budgets], target)
    return Summary(result.pair, default.seconds, default.loss, photo.loss, photo.seconds, noise.loss, noise.seconds,
                   *speedups[0], *speedups[1], target, reach[1] if reach else None, reach[0] if reach else None)


def table(result: PairResult) -> str:
    extra = sorted({k for r in result.runs for k in r.metrics})
    cols = ["run", "steps", "seconds", "loss", "content", "style", *extra]
    lines = [" | ".join(cols), " | ".join("---" for _ in cols)]
    for r in result.runs:
        cells = [r.name, r.steps, f"{r.seconds:.1f}", f"{r.loss:.4g}", f"{r.content:.4g}", f"{r.style:.4g}",
                 *(f"{r.metrics.get(k, float('nan')):.4g}" for k in extra)]
        lines.append(" | ".join(cells))
    return "\n".join(f"| {line} |" for line in lines)


def write_csvs(out: Path, results: Sequence[PairResult], summaries: Sequence[Summary]) -> list[Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    runs_path, summary_path = out.with_name(f"{out.stem}-runs.csv"), out.with_name(f"{out.stem}-summary.csv")
    with out.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["pair", "run", *Point.__dataclass_fields__])
        for result in results:
            for r in result.runs:
                w.writerows([result.pair, r.name, *asdict(p).values()] for p in r.curve)
    with runs_path.open("w", newline="") as f:
        extra = sorted({k for res in results for r in res.runs for k in r.metrics})
        w = csv.writer(f)
        w.writerow(["pair", "run", "steps", "seconds", "loss", "content", "style", "precision", *extra])
        for result in results:
            for r in result.runs:
                w.writerow([result.pair, r.name, r.steps, r.seconds, r.loss, r.content, r.style, r.precision,
                            *(r.metrics.get(k, "") for k in extra)])
    with summary_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(Summary.__dataclass_fields__))
        w.writerows(list(asdict(s).values()) for s in summaries)
    return [out, runs_path, summary_path]


def verdict(summaries: Sequence[Summary]) -> str:
    """The issue's done-when over the pairs: the default's loss costs the plain runs ≥ 3× its time (aim 10×)."""
    worst = [min(s.speedup_vs_photo, s.speedup_vs_noise) for s in summaries]
    met = sum(w >= GOAL for w in worst)
    aimed = sum(w >= AIM for w in worst)
    short = [f"{s.pair} {w:.1f}" for s, w in zip(summaries, worst) if w < GOAL]
    return (f"done-when (speedup >= {GOAL:g} vs both plain runs): {met}/{len(worst)} pairs, >= {AIM:g} on "
            f"{aimed}/{len(worst)}; lowest {min(worst):.1f}" + (f"; short: {', '.join(short)}" if short else ""))


def parse_budgets(text: str) -> tuple[float, ...]:
    try:
        factors = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"budgets must be numbers joined by commas, got {text!r}") from None
    if not factors or any(f <= 0 for f in factors):
        raise argparse.ArgumentTypeError("budgets must be positive factors")
    return factors


def main(argv: list[str] | None = None, images: tuple[Image.Image, Image.Image] | None = None) -> int:
    """``images`` (tests): one (content, style) pair used in place of the panel's."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--plain-steps", type=int, default=300)
    p.add_argument("--pairs", type=int, default=len(PANEL), help="N pairs of the look panel (from --skip on)")
    p.add_argument("--skip", type=int, default=0, metavar="K",
                   help="start at the panel's pair K + 1 (two processes, each pinned to its own core, share a panel)")
    p.add_argument("--budgets", type=parse_budgets, default=DEFAULT_BUDGETS,
                   help="factors on the default's steps and coarse_steps, e.g. 0.25,0.5,2,4,8 (the default, 1, "
                        "always runs)")
    p.add_argument("--every-budget", action="store_true",
                   help="run every budget; by default those above the smallest that reaches the plain runs' "
                        "loss are skipped")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    p.add_argument("--no-metrics", action="store_true", help="skip stylo.metrics' distances of the final images")
    p.add_argument("--cache", type=Path, default=ROOT / "bench-out" / "frontier" / "plain",
                   help="plain runs kept by settings, pair and machine (their hour is not redone)")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--out", type=Path, default=ROOT / "bench-out" / "frontier" / "results.csv")
    args = p.parse_args(argv)
    s = Settings(size=args.size, seed=args.seed, precision=args.precision)
    pairs = PANEL[args.skip: args.skip + args.pairs] if images is None else [("given", "given")]
    print(header(s), flush=True)
    results, summaries = [], []
    for pair in pairs:
        result = bench_pair(pair, s, args.plain_steps, args.budgets, not args.no_metrics,
                            None if args.no_cache else args.cache, images, args.every_budget)
        summary = summarize(result)
        results.append(result)
        summaries.append(summary)
        print(f"\n## {result.pair} ({args.size} px)\n\n{table(result)}\n")
        print(f"{result.pair}: {summary.line(args.plain_steps, max(args.budgets + (1.0,)))}", flush=True)
    print()
    print(verdict(summaries))
    for path in write_csvs(args.out, results, summaries):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
