"""The studio's learned styles as jobs of :mod:`stylo.jobs`, run by its :class:`~stylo.web.jobs.JobQueue`:

* a training (:class:`~stylo.jobs.LearnJob`): each :class:`~stylo.events.LearnEvent` becomes the page's ``learn``
  event (step of total, loss, time left); Cancel stops it, and the library writes the network so far and a
  checkpoint beside it: the training is ``interrupted`` and Resume queues the same job with ``resume=True``,
  which continues from the checkpoint's step;
* a painting (:class:`~stylo.jobs.PaintJob`, no refinement): a still in one pass of the network, saved like
  every run.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stylo.settings_io import from_mapping
from stylo.web.netdb import checkpoint_of, network_path, public_network

if TYPE_CHECKING:
    from stylo.events import Event
    from stylo.jobs import LearnJob
    from stylo.web.jobs import JobQueue

CHECKPOINT_SECONDS = 30.0  # a training the server loses (killed, restarted) resumes from at most this far back


def learn_job(data_dir: Path, network: dict[str, Any], resume: bool) -> LearnJob:
    """The library's job for a stored training: its style upload, its settings and learn settings, its file."""
    from stylo.jobs import LearnJob
    from stylo.learn.train import LearnSettings

    return LearnJob((data_dir / "uploads" / network["style"],), network_path(data_dir, network["id"]),
                    from_mapping(network["settings"]), LearnSettings(**network["learn"]), resume=resume,
                    checkpoint_every=CHECKPOINT_SECONDS)


def stopped_status(data_dir: Path, network_id: str) -> str:
    """A training stopped before it ran: resumable if an earlier session left a checkpoint."""
    return "interrupted" if checkpoint_of(network_path(data_dir, network_id)).is_file() else "cancelled"


def finish_learn(jobs: JobQueue, network_id: str, **fields: Any) -> None:
    jobs.networks.update(network_id, **fields)
    record = jobs.networks.get(network_id) or {"id": network_id, "status": "failed", "style": ""}
    jobs.events.publish(network_id, {"type": "end", **public_network(record, jobs.data)})


def execute_learn(jobs: JobQueue, network_id: str) -> None:
    """A stored training as a :class:`~stylo.jobs.LearnJob`: resumed when its checkpoint is there."""
    from stylo.jobs import raise_failed, run_job
    from stylo.learn.train import LearnResult

    network = jobs.networks.get(network_id)
    if network is None:
        return
    if network_id in jobs.cancelled:
        finish_learn(jobs, network_id, status=stopped_status(jobs.data, network_id))
        return
    resume = checkpoint_of(network_path(jobs.data, network_id)).is_file()
    job = learn_job(jobs.data, network, resume)
    jobs.networks.update(network_id, status="running", error=None)
    jobs.events.publish(network_id, {"type": "start", "resume": resume, "step": network["step"]})
    progress = LearnProgress(jobs, network_id, list(network["history"]) if resume else [])
    done = raise_failed(run_job(job, progress, lambda: network_id in jobs.cancelled)).outcome
    assert isinstance(done, LearnResult)
    finish_learn(jobs, network_id, status="interrupted" if done.interrupted else "done", step=done.steps,
                 total_steps=job.learn.steps, history=progress.history,
                 seconds=float(network["seconds"] or 0) + done.elapsed)


class LearnProgress:
    """A training's steps as the page's ``learn`` events and the stored step, total and loss."""

    def __init__(self, jobs: JobQueue, network_id: str, history: list[float]):
        self.jobs, self.network_id, self.history = jobs, network_id, history

    def __call__(self, event: Event) -> None:
        from stylo.events import LearnEvent

        if not isinstance(event, LearnEvent):
            return
        step = event.step
        self.history.append(step.loss)
        self.jobs.networks.update(self.network_id, step=step.step, total_steps=step.total_steps, loss=step.loss)
        eta = None if math.isnan(step.eta) else step.eta
        self.jobs.events.publish(self.network_id, {"type": "learn", "step": step.step, "total": step.total_steps,
                                                   "loss": step.loss, "eta": eta, "elapsed": step.elapsed})


def execute_paint(jobs: JobQueue, run_id: str, run: dict[str, Any]) -> None:
    """A learned style's run: a :class:`~stylo.jobs.PaintJob` (one pass, no refinement), the network's picture
    shown as the run's preview, the PNG with its manifest in the gallery."""
    from stylo.events import Painted
    from stylo.jobs import PaintJob, raise_failed, run_job
    from stylo.web.jobs import Progress

    s = from_mapping(run["settings"])
    name = f"{run_id}.png"
    job = PaintJob(jobs.data / "uploads" / run["content"], network_path(jobs.data, run["network"]),
                   jobs.data / "runs" / name, s, refine=0, labels=(run["content_label"],))
    done = raise_failed(run_job(job, Progress(jobs, run_id), lambda: run_id in jobs.cancelled)).outcome
    assert isinstance(done, Painted)
    jobs.finish(run_id, status="done", result=name, frame=name, step=0, total_steps=0,
                 seconds=float(done.manifest.get("elapsed_s", 0.0)), settings=s.to_dict())
