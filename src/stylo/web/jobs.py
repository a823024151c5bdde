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
from typing import TYPE_CHECKING, Any

from stylo.config import Settings, from_mapping
from stylo.errors import StyloError
from stylo.web.db import RunStore
from stylo.web.events import Events
from stylo.web.plan import Level, Speed, check_runnable, later_frame_seconds
from stylo.web.words import hide_paths, in_page_words

if TYPE_CHECKING:
    from PIL import Image

    from stylo.optimize import Step

FRAME_INTERVAL_S = 0.5  # at most two preview frames a second
log = logging.getLogger("stylo.studio")


class JobQueue:
    """Runs are executed one at a time per worker; ``cancel`` stops a queued or running one."""

    def __init__(self, store: RunStore, data_dir: Path, events: Events, workers: int = 1, speed: Speed | None = None):
        self.store, self.data, self.events = store, data_dir, events
        self.speed = speed or Speed()
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
                self._finish(run_id, status="failed", error=in_page_words(exc))
            except Exception as exc:  # noqa: BLE001 - a worker must survive any one run
                log.exception("run %s failed", run_id)
                self._finish(run_id, status="failed", error=hide_paths(f"internal error: {type(exc).__name__}: {exc}"),
                             traceback=traceback.format_exc())

    def _finish(self, run_id: str, **fields: Any) -> None:
        self.store.update(run_id, **fields)
        self.events.publish(run_id, {"type": "end", **(self.store.get(run_id) or {})})

    def _levels(self, run: dict[str, Any], s: Settings) -> list[Level]:
        from PIL import Image

        with Image.open(self.data / "uploads" / run["content"]) as img:
            return check_runnable(s, img.size)

    def _execute(self, run_id: str) -> None:
        from stylo.render import Job, render

        run = self.store.get(run_id)
        if run is None:
            return
        if run_id in self.cancelled:
            self._finish(run_id, status="cancelled")
            return
        s = from_mapping(run["settings"])
        levels = self._levels(run, s)
        self.store.update(run_id, status="running")
        self.events.publish(run_id, {"type": "start"})
        if run.get("clip"):
            self._execute_clip(run_id, run, s, levels)
            return
        uploads, runs_dir = self.data / "uploads", self.data / "runs"
        progress = Progress(self, run_id)
        name = f"{run_id}.png"
        job = Job(uploads / run["content"], (uploads / run["style"],), runs_dir / name, s,
                  labels=(run["content_label"], run["style_label"]))
        done = render(job, progress.on_step, lambda: run_id in self.cancelled, evaluate=True,
                      on_start=progress.on_start)
        result = done.result
        if not result.interrupted:
            self.speed.record(levels, result.elapsed)
        self._finish(run_id, status="cancelled" if result.interrupted else "done", result=name, frame=name,
                     loss=result.loss, seconds=result.elapsed, step=result.steps, history=progress.history,
                     metrics=done.metrics, settings=s.replace(seed=result.seed).to_dict())

    def _execute_clip(self, run_id: str, run: dict[str, Any], s: Settings, levels: list[Level]) -> None:
        """A video run: every frame of the clip through stylo.video (temporal loss), then the MP4 at the clip's
        frame rate; the first stylized frame is the run's poster. The first frame runs the whole schedule and
        shows its steps; each later frame starts from the one before, warped, and takes about the same time."""
        import json
        import shutil
        from fractions import Fraction

        from stylo.image import open_image, save_png
        from stylo.optimize import Hooks, stylize_result
        from stylo.video.flow import warping_error
        from stylo.video.io import read_clip, write_video
        from stylo.video.pipeline import stylize_frame

        clip_dir = self.data / "uploads" / "clips" / run["clip"]
        meta = json.loads((clip_dir / "clip.json").read_text())
        frames = read_clip(clip_dir).frames
        styles = [open_image(self.data / "uploads" / run["style"], "style image")]
        runs_dir = self.data / "runs"
        folder = runs_dir / f"{run_id}_frames"
        folder.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        stop = lambda: run_id in self.cancelled  # noqa: E731
        clock = ClipClock(self.speed, s, levels, len(frames))
        progress = Progress(self, run_id, clip=clock)
        outputs: list[Image.Image] = []
        for i, frame in enumerate(frames):
            began = time.monotonic()
            if i == 0:
                hooks = Hooks(on_step=progress.on_step, on_start=progress.on_start, should_stop=stop)
                result = stylize_result(frame, styles, s, hooks)
            else:
                result = stylize_frame(frame, frames[i - 1], outputs[-1], styles, s, stop)
            if result.interrupted:
                self._finish(run_id, status="cancelled", step=i)
                return
            save_png(result.image, folder / f"{i:05d}.png")
            outputs.append(result.image)
            clock.frame_done(i, time.monotonic() - began)
            shutil.copyfile(folder / f"{i:05d}.png", runs_dir / progress.frame)
            self.store.update(run_id, step=i + 1, total_steps=len(frames), frame=progress.frame)
            self.events.publish(run_id, {"type": "frame", "frame": progress.frame, "index": i + 1,
                                         "total": len(frames), "eta": clock.eta(i + 1)})
        self.events.publish(run_id, {"type": "saving", "what": "video"})
        video, poster = f"{run_id}.mp4", f"{run_id}.png"
        write_video(outputs, runs_dir / video, Fraction(meta["fps"]))
        shutil.copyfile(folder / "00000.png", runs_dir / poster)
        small = [f.resize(outputs[0].size) for f in frames]
        self._finish(run_id, status="done", result=poster, frame=poster, video=video, step=len(outputs),
                     total_steps=len(frames), seconds=time.monotonic() - started,
                     metrics={"warping_error": warping_error(small, outputs)}, settings=s.to_dict())


class ClipClock:
    """The time left of a clip run. The first frame runs every level (its own steps give its time left); each
    later frame runs ``steps`` at the full size: estimated from the server's speed until one has been timed,
    then from the mean of those timed (the first frame's time says little about them)."""

    def __init__(self, speed: Speed, s: Settings, levels: list[Level], frames: int):
        self.speed, self.settings, self.levels, self.frames = speed, s, levels, frames
        self.later: list[float] = []

    def later_seconds(self) -> float:
        if self.later:
            return sum(self.later) / len(self.later)
        return later_frame_seconds(self.settings, self.levels, self.speed.per_unit())

    def frame_done(self, index: int, seconds: float) -> None:
        if index == 0:
            self.speed.record(self.levels, seconds)
        else:
            self.later.append(seconds)

    def eta(self, done: int, first_left: float | None = None) -> float | None:
        """Seconds left with ``done`` frames finished (``first_left``: of the first frame, while it runs)."""
        if done == 0 and first_left is None:
            return None
        return (first_left or 0.0) + (self.frames - max(done, 1)) * self.later_seconds()


class Progress:
    """A run's progress as events and stored fields: the starting picture, then the steps (with a preview
    at most every FRAME_INTERVAL_S), then "saving" after the last step, until the run's end is published."""

    def __init__(self, jobs: JobQueue, run_id: str, clip: ClipClock | None = None):
        self.jobs, self.run_id, self.clip = jobs, run_id, clip
        self.frame = f"{run_id}-frame.png"  # the picture so far: the starting sketch, then the steps
        self.path = jobs.data / "runs" / self.frame
        self.history: list[float] = []
        self.last = 0.0

    def on_start(self, image: Image.Image) -> None:  # the starting picture: shown at once, then refined
        from stylo.image import save_png

        save_png(image, self.path)
        self.jobs.store.update(self.run_id, frame=self.frame)
        self.jobs.events.publish(self.run_id, {"type": "preview", "frame": self.frame})

    def on_step(self, step: Step) -> None:
        from stylo.image import save_png

        self.history.append(step.loss)
        now, last = time.monotonic(), step.step == step.total_steps
        eta = None if math.isnan(step.eta) else step.eta
        event: dict[str, Any] = {"type": "step", "step": step.step, "total": step.total_steps, "loss": step.loss,
                                 "content": step.content_loss, "style": step.style_loss, "level": step.scale,
                                 "levels": step.scales, "eta": eta, "width": step.size[0], "height": step.size[1]}
        if self.clip is not None:  # the first frame of a clip
            event.update(index=0, frames=self.clip.frames, eta=self.clip.eta(0, eta))
        if now - self.last >= FRAME_INTERVAL_S or last:
            self.last = now
            save_png(step.image(), self.path)
            event["frame"] = self.frame
            if self.clip is None:
                self.jobs.store.update(self.run_id, step=step.step, total_steps=step.total_steps, loss=step.loss,
                                       frame=self.frame, history=self.history)
            else:
                self.jobs.store.update(self.run_id, frame=self.frame)
        self.jobs.events.publish(self.run_id, event)
        if last and self.clip is None:  # what follows the last step: the PNG with its manifest, the metrics
            self.jobs.events.publish(self.run_id, {"type": "saving", "what": "image"})
