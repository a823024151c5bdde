"""The studio's job queue: one worker thread per device runs queued runs and trainings in order, each as a job
of :mod:`stylo.jobs` (a still, a clip, a learned style's painting or a training, through the same
:func:`~stylo.jobs.run_job` as the CLI), and publishes their events as the page's JSON events. Trainings and
paintings: :mod:`stylo.web.learning`."""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stylo.config import Settings
from stylo.errors import StyloError
from stylo.settings_io import from_mapping
from stylo.web.db import RunStore
from stylo.web.events import Events
from stylo.web.netdb import NetworkStore
from stylo.web.plan import Level, Speed, check_runnable, later_frame_seconds
from stylo.web.words import hide_paths, in_page_words

if TYPE_CHECKING:
    from PIL import Image

    from stylo.events import Event, FrameEvent
    from stylo.loop import Step

FRAME_INTERVAL_S = 0.5  # at most two preview frames a second
log = logging.getLogger("stylo.studio")


class JobQueue:
    """Runs and trainings are executed one at a time per worker; ``cancel`` stops a queued or running one."""

    def __init__(self, store: RunStore, data_dir: Path, events: Events, workers: int = 1, speed: Speed | None = None,
                 networks: NetworkStore | None = None):
        self.store, self.data, self.events = store, data_dir, events
        self.networks = networks or NetworkStore(store)
        self.speed = speed or Speed()
        self.queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
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
        self.queue.put(("run", run_id))

    def submit_learn(self, network_id: str) -> None:
        """Queue a training (new, or stopped and to be resumed: an earlier Cancel no longer applies)."""
        self.cancelled.discard(network_id)
        self.queue.put(("learn", network_id))

    def cancel(self, item_id: str) -> None:
        self.cancelled.add(item_id)

    def _work(self) -> None:
        from stylo.web.learning import execute_learn

        while True:
            entry = self.queue.get()
            if entry is None:
                return
            kind, item_id = entry
            try:
                if kind == "learn":
                    execute_learn(self, item_id)
                else:
                    self._execute(item_id)
            except StyloError as exc:
                self._failed(kind, item_id, error=in_page_words(exc))
            except Exception as exc:  # noqa: BLE001 - a worker must survive any one run
                log.exception("%s %s failed", kind, item_id)
                self._failed(kind, item_id, error=hide_paths(f"internal error: {type(exc).__name__}: {exc}"),
                             traceback=traceback.format_exc())

    def _failed(self, kind: str, item_id: str, **fields: Any) -> None:
        from stylo.web.learning import finish_learn

        if kind == "learn":
            finish_learn(self, item_id, status="failed", **fields)
        else:
            self.finish(item_id, status="failed", **fields)

    def finish(self, run_id: str, **fields: Any) -> None:
        self.store.update(run_id, **fields)
        self.events.publish(run_id, {"type": "end", **(self.store.get(run_id) or {})})

    def _levels(self, run: dict[str, Any], s: Settings) -> list[Level]:
        from PIL import Image

        with Image.open(self.data / "uploads" / run["content"]) as img:
            return check_runnable(s, img.size)

    def _execute(self, run_id: str) -> None:
        """A run as a job of :mod:`stylo.jobs` (a still, a clip, or a learned style's painting), its events published
        as the page's."""
        from stylo.jobs import StillJob, raise_failed, run_job
        from stylo.render import Rendered

        run = self.store.get(run_id)
        if run is None:
            return
        if run_id in self.cancelled:
            self.finish(run_id, status="cancelled")
            return
        s = from_mapping(run["settings"])
        levels = [] if run.get("network") else self._levels(run, s)
        self.store.update(run_id, status="running")
        self.events.publish(run_id, {"type": "start"})
        if run.get("network"):  # a learned style's run: one pass of its network
            from stylo.web.learning import execute_paint

            execute_paint(self, run_id, run)
            return
        if run.get("clip"):
            self._execute_clip(run_id, run, s, levels)
            return
        uploads, runs_dir = self.data / "uploads", self.data / "runs"
        progress = Progress(self, run_id)
        name = f"{run_id}.png"
        job = StillJob(uploads / run["content"], (uploads / run["style"],), runs_dir / name, s,
                       labels=(run["content_label"], run["style_label"]), evaluate=True)
        done = raise_failed(run_job(job, progress, lambda: run_id in self.cancelled)).outcome
        assert isinstance(done, Rendered)
        result = done.result
        if not result.interrupted:
            self.speed.record(levels, result.elapsed)
        self.finish(run_id, status="cancelled" if result.interrupted else "done", result=name, frame=name,
                     loss=result.loss, seconds=result.elapsed, step=result.steps, history=progress.history,
                     metrics=done.metrics, settings=s.replace(seed=result.seed).to_dict())

    def _execute_clip(self, run_id: str, run: dict[str, Any], s: Settings, levels: list[Level]) -> None:
        """A video run: a :class:`~stylo.jobs.ClipJob` (the clip path of ``stylo video``: temporal loss, frames
        with their manifests in a resumable frames folder, the MP4 at the clip's frame rate with its manifest
        beside it); the first stylized frame is the run's poster. The first frame runs the whole schedule and
        shows its steps; each later frame starts from the one before, warped, and takes about the same time."""
        import json
        import shutil
        from fractions import Fraction

        from stylo.events import ClipRendered
        from stylo.jobs import ClipJob, raise_failed, run_job

        clip_dir = self.data / "uploads" / "clips" / run["clip"]
        meta = json.loads((clip_dir / "clip.json").read_text())
        runs_dir = self.data / "runs"
        video, poster = f"{run_id}.mp4", f"{run_id}.png"
        job = ClipJob(clip_dir, (self.data / "uploads" / run["style"],), runs_dir / video, s, fps=Fraction(meta["fps"]),
                      labels=(run["content_label"], run["style_label"]), evaluate=True)
        clock = ClipClock(self.speed, s, levels, int(meta["frames"]))
        progress = Progress(self, run_id, clip=clock)
        done = raise_failed(run_job(job, progress, lambda: run_id in self.cancelled)).outcome
        assert isinstance(done, ClipRendered)
        if done.interrupted:
            self.finish(run_id, status="cancelled", step=len(done.frames))
            return
        shutil.copyfile(done.frames[0], runs_dir / poster)
        self.finish(run_id, status="done", result=poster, frame=poster, video=video, step=len(done.frames),
                     total_steps=done.total, seconds=done.seconds, metrics=done.metrics, settings=s.to_dict())


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

    def __call__(self, event: Event) -> None:
        """A job's event: the starting picture and the steps (of a clip: its first frame's), a clip's frames."""
        from stylo.events import FrameEvent, Preview, StepEvent

        if isinstance(event, Preview) and not event.frame:
            self.on_start(event.image)
        elif isinstance(event, StepEvent) and not event.frame:
            self.on_step(event.step)
        elif isinstance(event, FrameEvent) and self.clip is not None:
            self.on_frame(event)

    def on_frame(self, event: FrameEvent) -> None:
        """A clip's frame is done: the preview shows it, the clock learns its time; after the last, the video."""
        import shutil

        assert self.clip is not None and event.path is not None
        if not event.reused:
            self.clip.frame_done(event.index, event.seconds)
        shutil.copyfile(event.path, self.path)
        done = event.index + 1
        self.jobs.store.update(self.run_id, step=done, total_steps=event.total, frame=self.frame)
        self.jobs.events.publish(self.run_id, {"type": "frame", "frame": self.frame, "index": done,
                                               "total": event.total, "eta": self.clip.eta(done)})
        if done == event.total:  # what follows the last frame: the video, its manifest and the metric
            self.jobs.events.publish(self.run_id, {"type": "saving", "what": "video"})

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
