"""Ctrl-C and SIGTERM for the command line: stop at once while nothing is being optimized (loading, computing
targets, encoding), after the current step while steps are under way.

The engine polls ``should_stop()`` between steps. The first poll tells :class:`StopFlag` that steps are under way;
from then on a signal only sets the flag, and the engine stops after the step it is in and saves the image so far.
Before that (or after :meth:`StopFlag.immediate` is entered again) a signal raises :class:`KeyboardInterrupt`
at once, which also ends a blocking read. A second signal always raises at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class StopFlag:
    """Install with ``with StopFlag() as stop:``; pass ``stop.should_stop`` to the engine; ``stop.requested``
    says afterwards whether a signal came."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._stepping = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def should_stop(self) -> bool:
        """The engine's poll between steps: from now on a signal waits for the end of the current step."""
        self._stepping = True
        return self.event.is_set()

    @contextmanager
    def immediate(self) -> Iterator[None]:
        """Within this block (between frames, while encoding), a signal raises at once again."""
        stepping, self._stepping = self._stepping, False
        try:
            if self.event.is_set():
                raise KeyboardInterrupt
            yield
        finally:
            self._stepping = stepping

    def _handle(self, signum: int, frame: Any) -> None:
        first = not self.event.is_set()
        self.event.set()
        if not (first and self._stepping):
            raise KeyboardInterrupt
