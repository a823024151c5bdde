"""The studio's job queue: one worker thread per device runs queued runs in order and publishes progress."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Any

from stylo.config import from_mapping
from stylo.errors import StyloError
from stylo.web.db import RunStore

FRAME_INTERVAL_S = 0.5  # at most two preview frames a second


class Events:
    """Fan-out of progress events to the streams that listen to a run."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.listeners: dict[str, list[queue.Queue[dict[str, Any]]]] = {}

    def subscribe(self, run_id: str) -> queue.Queue[dict[str, Any]]:
        q: queue.Queue[dict[str, Any]] = queue.Queue()
        with self.lock:
            self.listeners.setdefault(run_id, []).append(q)
        return q

    def unsubscribe(self, run_id: str, q: queue.Queue[dict[str, Any]]) -> None:
        with self.lock:
            if q in self.listeners.get(run_id, []):
                self.listeners[run_id].remove(q)

    def publish(self, run_id: str, event: dict[str, Any]) -> None:
        with self.lock:
            targets = list(self.listeners.get(run_id, []))
        for q in targets:
            q.put(event)


class JobQueue:
    """Runs are executed one at a time per worker; ``cancel`` stops a queued or running one."""

    def __init__(self, store: RunStore, data_dir: Path, events: Events, workers: int = 1):
        self.store, self.data, self.events = store, data_dir, events
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.cancelled: set[str] = set()
        self.threads = [threading.Thread(target=self._work, daemon=True, name=f"stylo-worker-{i}")
                        for i in range(workers)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        for _ in self.threads:
            self.queue.put(None)

    def submit(self, run_id: str) -> None:
        self.queue.put(run_id)

    def cancel(self, run_id: str) -> None:
        self.cancelled.add(run_id)

    def _work(self) -> None:
        while True:
            run_id = self.queue.get()
            if run_id is None:
                return
            try:
                self._execute(run_id)
            except Exception as exc:  # noqa: BLE001 - a worker must survive any one run
                self._finish(run_id, status="failed", error=f"{type(exc).__name__}: {exc}")

    def _finish(self, run_id: str, **fields: Any) -> None:
        self.store.update(run_id, **fields)
        self.events.publish(run_id, {"type": "end", **(self.store.get(run_id) or {})})

    def _execute(self, run_id: str) -> None:
        from stylo.image import open_image, save_png
        from stylo.manifest import build_manifest
        from stylo.metrics import evaluate
        from stylo.optimize import Step, stylize_result

        run = self.store.get(run_id)
        if run is None:
            return
        if run_id in self.cancelled:
            self._finish(run_id, status="cancelled")
            return
        s = from_mapping(run["settings"])
        self.store.update(run_id, status="running")
        self.events.publish(run_id, {"type": "start"})
        uploads = self.data / "uploads"
        content = open_image(uploads / run["content"], "content image")
        style = open_image(uploads / run["style"], "style image")
        runs_dir = self.data / "runs"
        last_frame = [0.0]
        history: list[float] = []

        def on_step(step: Step) -> None:
            history.append(step.loss)
            now = time.monotonic()
            event: dict[str, Any] = {"type": "step", "step": step.step, "total": step.total_steps,
                                     "loss": step.loss, "content": step.content_loss, "style": step.style_loss,
                                     "level": step.scale, "levels": step.scales, "eta": step.eta}
            if now - last_frame[0] >= FRAME_INTERVAL_S or step.step == step.total_steps:
                last_frame[0] = now
                frame = f"{run_id}-frame.png"
                save_png(step.image(), runs_dir / frame)
                event["frame"] = frame
                self.store.update(run_id, step=step.step, total_steps=step.total_steps, loss=step.loss,
                                  frame=frame, history=history)
            self.events.publish(run_id, event)

        try:
            result = stylize_result(content, style, s, on_step, lambda: run_id in self.cancelled)
        except StyloError as exc:
            self._finish(run_id, status="failed", error=str(exc))
            return
        name = f"{run_id}.png"
        save_png(result.image, runs_dir / name,
                 build_manifest(s, result, run["content_label"], [run["style_label"]]))
        metrics = evaluate(result.image, content, style)
        status = "cancelled" if result.interrupted else "done"
        self._finish(run_id, status=status, result=name, frame=name, loss=result.loss, seconds=result.elapsed,
                     step=result.steps, history=history, metrics=metrics.flat(),
                     settings=s.replace(seed=result.seed).to_dict())
