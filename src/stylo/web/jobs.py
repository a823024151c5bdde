"""The studio's job queue: one worker thread per device runs queued runs in order through
:func:`stylo.render.render` and publishes their progress."""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from stylo.config import from_mapping
from stylo.errors import StyloError
from stylo.web.db import RunStore
from stylo.web.events import Events

FRAME_INTERVAL_S = 0.5  # at most two preview frames a second
log = logging.getLogger("stylo.studio")


class JobQueue:
    """Runs are executed one at a time per worker; ``cancel`` stops a queued or running one."""

    def __init__(self, store: RunStore, data_dir: Path, events: Events, workers: int = 1):
        self.store, self.data, self.events = store, data_dir, events
        self.queue: queue.Queue[str | None] = queue.Queue()
        self.cancelled: set[str] = set()
        self.threads = [threading.Thread(target=self._work, daemon=True, name=f"stylo-worker-{i}")
                        for i in range(workers)]
        self.ready = threading.Event()  # set once the network is loaded: the first run is not slowed by it

    def start(self) -> None:
        threading.Thread(target=self._warm, daemon=True, name="stylo-warm-up").start()
        for t in self.threads:
            t.start()

    def _warm(self) -> None:
        """Load the default network (and its weights) before the first run asks for it."""
        from stylo.config import Settings
        from stylo.optimize import backbone_for

        try:
            backbone_for(Settings())
        except Exception:  # noqa: BLE001 - the first run reports the same problem to its user
            log.exception("could not load the network at start-up")
        finally:
            self.ready.set()

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
            except StyloError as exc:
                self._finish(run_id, status="failed", error=str(exc))
            except Exception as exc:  # noqa: BLE001 - a worker must survive any one run
                log.exception("run %s failed", run_id)
                self._finish(run_id, status="failed", error=f"internal error: {type(exc).__name__}: {exc}",
                             traceback=traceback.format_exc())

    def _finish(self, run_id: str, **fields: Any) -> None:
        self.store.update(run_id, **fields)
        self.events.publish(run_id, {"type": "end", **(self.store.get(run_id) or {})})

    def _execute(self, run_id: str) -> None:
        from PIL import Image

        from stylo.image import save_png
        from stylo.optimize import Step
        from stylo.render import Job, render

        run = self.store.get(run_id)
        if run is None:
            return
        if run_id in self.cancelled:
            self._finish(run_id, status="cancelled")
            return
        s = from_mapping(run["settings"])
        self.store.update(run_id, status="running")
        self.events.publish(run_id, {"type": "start"})
        if run.get("clip"):
            self._execute_clip(run_id, run, s)
            return
        uploads, runs_dir = self.data / "uploads", self.data / "runs"
        frame = f"{run_id}-frame.png"  # the picture so far: the starting sketch, then the steps
        last_frame = [0.0]
        history: list[float] = []

        def on_step(step: Step) -> None:
            history.append(step.loss)
            now = time.monotonic()
            event: dict[str, Any] = {"type": "step", "step": step.step, "total": step.total_steps,
                                     "loss": step.loss, "content": step.content_loss, "style": step.style_loss,
                                     "level": step.scale, "levels": step.scales,
                                     "eta": None if math.isnan(step.eta) else step.eta}
            if now - last_frame[0] >= FRAME_INTERVAL_S or step.step == step.total_steps:
                last_frame[0] = now
                save_png(step.image(), runs_dir / frame)
                event["frame"] = frame
                self.store.update(run_id, step=step.step, total_steps=step.total_steps, loss=step.loss,
                                  frame=frame, history=history)
            self.events.publish(run_id, event)

        def on_start(image: Image.Image) -> None:  # the starting picture: shown at once, then refined
            save_png(image, runs_dir / frame)
            self.store.update(run_id, frame=frame)
            self.events.publish(run_id, {"type": "preview", "frame": frame})

        name = f"{run_id}.png"
        job = Job(uploads / run["content"], (uploads / run["style"],), runs_dir / name, s,
                  labels=(run["content_label"], run["style_label"]))
        done = render(job, on_step, lambda: run_id in self.cancelled, evaluate=True, on_start=on_start)
        result = done.result
        self._finish(run_id, status="cancelled" if result.interrupted else "done", result=name, frame=name,
                     loss=result.loss, seconds=result.elapsed, step=result.steps, history=history,
                     metrics=done.metrics, settings=s.replace(seed=result.seed).to_dict())

    def _execute_clip(self, run_id: str, run: dict[str, Any], s: Any) -> None:
        """A video run: every frame of the clip through stylo.video (temporal loss, per-frame files), then
        the MP4 at the clip's frame rate; the first stylized frame is the run's poster."""
        import json
        import shutil
        from fractions import Fraction

        from stylo.image import open_image
        from stylo.video.flow import warping_error
        from stylo.video.io import read_clip, write_video
        from stylo.video.pipeline import FrameDone, stylize_frames

        clip_dir = self.data / "uploads" / "clips" / run["clip"]
        meta = json.loads((clip_dir / "clip.json").read_text())
        frames = read_clip(clip_dir).frames
        style = self.data / "uploads" / run["style"]
        runs_dir = self.data / "runs"
        folder = runs_dir / f"{run_id}_frames"
        styles = [open_image(style, "style image")]
        started = time.monotonic()

        def on_frame(done: FrameDone) -> None:
            frame = f"{run_id}-frame.png"
            shutil.copyfile(folder / f"{done.index:05d}.png", runs_dir / frame)
            self.store.update(run_id, step=done.index + 1, total_steps=done.total, frame=frame)
            self.events.publish(run_id, {"type": "frame", "frame": frame, "index": done.index + 1,
                                         "total": done.total, "fps": done.fps, "eta": done.eta})

        written = stylize_frames(frames, styles, s, folder, on_frame, lambda: run_id in self.cancelled)
        if len(written) < len(frames):
            self._finish(run_id, status="cancelled", step=len(written))
            return
        video, poster = f"{run_id}.mp4", f"{run_id}.png"
        from PIL import Image

        outputs = [Image.open(p).convert("RGB") for p in written]
        write_video(outputs, runs_dir / video, Fraction(meta["fps"]))
        shutil.copyfile(written[0], runs_dir / poster)
        small = [f.resize(outputs[0].size) for f in frames]
        self._finish(run_id, status="done", result=poster, frame=poster, video=video, step=len(written),
                     total_steps=len(frames), seconds=time.monotonic() - started,
                     metrics={"warping_error": warping_error(small, outputs)}, settings=s.to_dict())
