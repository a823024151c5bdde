"""A terminal progress line fed by a job's :class:`~stylo.events.StepEvent` s (or the engine's
:class:`~stylo.loop.Step` s), on stderr only."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any, TextIO

from stylo.events import Event, LearnEvent, StepEvent
from stylo.loop import Step


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    minutes, sec = divmod(seconds, 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{sec:02d}" if minutes >= 60 else f"{minutes}:{sec:02d}"


def format_step(step: Step) -> str:
    """One line: step, level and size, loss parts, time spent and left."""
    w, h = step.size
    return (
        f"step {step.step}/{step.total_steps}  level {step.scale}/{step.scales} {w}x{h}  "
        f"loss {step.loss:.4g} (content {step.content_loss:.3g}, style {step.style_loss:.3g})  "
        f"{format_duration(step.elapsed)} elapsed, "
        + ("estimating time left" if math.isnan(step.eta) else f"{format_duration(step.eta)} left")
    )


class ProgressLine:
    """Rewrites one line on a terminal; elsewhere (logs, pipes) prints about ten lines per run. ``format`` turns a
    step into its line: :func:`format_step` for the engine's steps; anything with ``step`` and ``total_steps``
    (``stylo learn``'s steps) through :meth:`show` with its own format."""

    def __init__(self, stream: TextIO | None = None, format: Callable[[Any], str] = format_step):
        self.stream = stream or sys.stderr
        self.format = format
        self.tty = self.stream.isatty()
        self.width = 0

    def __call__(self, event: Event | Step) -> None:
        """Show a step (a :class:`StepEvent`'s or a :class:`LearnEvent`'s, or a :class:`Step`); other events are
        not steps."""
        if isinstance(event, (StepEvent, LearnEvent)):
            self.show(event.step)
        elif isinstance(event, Step):
            self.show(event)

    def show(self, step: Any) -> None:
        line = self.format(step)
        if self.tty:
            self.stream.write("\r" + line.ljust(self.width))
            self.width = len(line)
        elif step.step == 1 or step.step % max(1, step.total_steps // 10) == 0 or step.step == step.total_steps:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.width:
            self.stream.write("\n")
            self.stream.flush()
