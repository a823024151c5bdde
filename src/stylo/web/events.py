"""Fan-out of a run's progress events from the worker threads to the event streams (asyncio), with a cap on
open streams so that idle browsers cannot exhaust the server."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

MAX_STREAMS = 32  # open event streams at once, over all runs
STREAM_SECONDS = 600.0  # a stream closes after this; the browser's EventSource reconnects by itself
KEEPALIVE_SECONDS = 15.0


class TooManyStreams(Exception):
    pass


class Events:
    """``subscribe`` (in the event loop) gives an asyncio queue; ``publish`` (from any thread) feeds it."""

    def __init__(self, max_streams: int = MAX_STREAMS) -> None:
        self.lock = threading.Lock()
        self.max_streams = max_streams
        self.listeners: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]]] = {}

    @property
    def open_streams(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.listeners.values())

    def subscribe(self, run_id: str) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        with self.lock:
            if sum(len(v) for v in self.listeners.values()) >= self.max_streams:
                raise TooManyStreams
            self.listeners.setdefault(run_id, []).append((asyncio.get_running_loop(), q))
        return q

    def unsubscribe(self, run_id: str, q: asyncio.Queue[dict[str, Any]]) -> None:
        with self.lock:
            entries = self.listeners.get(run_id, [])
            self.listeners[run_id] = [e for e in entries if e[1] is not q]
            if not self.listeners[run_id]:
                del self.listeners[run_id]

    def publish(self, run_id: str, event: dict[str, Any]) -> None:
        with self.lock:
            targets = list(self.listeners.get(run_id, [])) + list(self.listeners.get("*", []))
        for loop, q in targets:
            try:
                loop.call_soon_threadsafe(q.put_nowait, {**event, "run": run_id})
            except RuntimeError:  # that stream's loop has closed
                continue
