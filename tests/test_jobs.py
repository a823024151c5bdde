"""The job and event model (stylo.jobs, stylo.events): the events of a still and of a clip, in order; Failed on bad
input; the manifests of a clip's frames and of its video; the CLI's consumers. On the tiny backbone."""

from __future__ import annotations

import io
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylo.cli import main
from stylo.config import Settings
from stylo.errors import StyloError
from stylo.events import ClipRendered, Done, Failed, FrameEvent, Preview, StepEvent
from stylo.image import read_manifest
from stylo.jobs import ClipJob, StillJob, run_job, run_jobs
from stylo.render import Rendered

from .conftest import SAMPLES, require

STILL = Settings(size=48, steps=3, coarse_steps=2, scales=2, seed=3, precision="fp32")
CLIP = Settings(size=48, steps=2, coarse_steps=2, scales=2, seed=5, precision="fp32")
FLAGS = ["--size", "48", "--steps", "2", "--coarse-steps", "2", "--scales", "2", "--seed", "5", "--quiet"]


def kinds(events: list[object]) -> list[str]:
    return [type(e).__name__ for e in events]


def frames_folder(path: Path, n: int = 3) -> Path:
    """A pan over the Tübingen sample, as a folder of PNG frames."""
    path.mkdir()
    src = Image.open(SAMPLES / "tubingen.jpg").convert("RGB")
    for i in range(n):
        src.crop((6 * i, 40, 6 * i + 64, 88)).save(path / f"{i:03d}.png")
    return path


def test_a_still_reports_its_preview_its_steps_then_done(tmp_path: Path, small_images, tiny_everywhere) -> None:
    events: list[object] = []
    job = StillJob(small_images[0], (small_images[1],), tmp_path / "out.png", STILL)
    outcome = run_job(job, events.append)
    assert kinds(events) == ["Preview", *["StepEvent"] * 5, "Done"] and events[-1] is outcome
    assert isinstance(outcome, Done) and outcome.job is job and not outcome.interrupted
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [e.step.step for e in steps] == [1, 2, 3, 4, 5] and {e.frame for e in steps} == {None}
    assert [e.step.total_steps for e in steps] == [5] * 5 and steps[-1].step.scale == steps[-1].step.scales
    preview = events[0]
    assert isinstance(preview, Preview) and preview.frame is None and preview.image.mode == "RGB"
    rendered = outcome.outcome
    assert isinstance(rendered, Rendered) and rendered.output == job.output and rendered.metrics == {}
    assert read_manifest(job.output)["seed"] == 3 and rendered.result.steps == 5
    assert np.array_equal(np.asarray(Image.open(job.output)), np.asarray(rendered.result.image))


def test_a_stopped_still_is_done_and_interrupted(tmp_path: Path, small_images, tiny_everywhere) -> None:
    events: list[object] = []
    job = StillJob(small_images[0], (small_images[1],), tmp_path / "out.png", STILL, evaluate=True)
    outcome = run_job(job, events.append, should_stop=lambda: sum(isinstance(e, StepEvent) for e in events) >= 2)
    assert kinds(events) == ["Preview", "StepEvent", "StepEvent", "Done"]
    assert isinstance(outcome, Done) and outcome.interrupted
    assert isinstance(outcome.outcome, Rendered) and outcome.outcome.metrics == {}  # an interrupted run is not scored


@pytest.mark.parametrize("which", ["content", "style", "output"])
def test_bad_input_is_failed_before_anything_is_written(tmp_path: Path, small_images, which: str) -> None:
    content, style, out = small_images[0], small_images[1], tmp_path / "out.png"
    if which == "content":
        content = tmp_path / "missing.png"
    elif which == "style":
        style = tmp_path / "style.png"
        style.write_bytes(b"not an image")
    else:
        out = small_images[0]  # the output would overwrite the content
    before = content.read_bytes() if content.exists() else None
    events: list[object] = []
    outcome = run_job(StillJob(content, (style,), out, STILL), events.append)
    assert kinds(events) == ["Failed"] and events[0] is outcome
    assert isinstance(outcome, Failed) and isinstance(outcome.error, StyloError)
    message = {"content": "content image", "style": "style image is not a readable image",
               "output": "is one of the inputs"}[which]
    assert message in str(outcome.error) and "\n" not in str(outcome.error)
    assert not (tmp_path / "out.png").exists()
    assert (content.read_bytes() if content.exists() else None) == before


def test_a_batch_is_a_list_of_jobs_and_one_failure_stops_none(tmp_path: Path, small_images, tiny_everywhere) -> None:
    jobs = [StillJob(tmp_path / "missing.png", (small_images[1],), tmp_path / "a.png", STILL),
            StillJob(small_images[0], (small_images[1],), tmp_path / "b.png", STILL)]
    done: list[object] = []
    outcomes = run_jobs(jobs, lambda e: done.append(e) if isinstance(e, (Done, Failed)) else None)
    assert kinds(outcomes) == ["Failed", "Done"] and done == outcomes
    assert not (tmp_path / "a.png").exists() and (tmp_path / "b.png").is_file()


def test_a_clip_reports_the_first_frames_steps_then_each_frame_then_done(tmp_path: Path, tiny_everywhere) -> None:
    require("cv2")
    source = frames_folder(tmp_path / "clip")
    events: list[object] = []
    job = ClipJob(source, (SAMPLES / "starry_night.jpg",), tmp_path / "out", CLIP)
    outcome = run_job(job, events.append)
    assert isinstance(outcome, Done) and events[-1] is outcome and not outcome.interrupted
    first = 4  # the first frame: 2 levels of 2 steps; each later frame: 2 steps at the full size
    assert kinds(events) == ["Preview", *["StepEvent"] * first, "FrameEvent",
                             "Preview", "StepEvent", "StepEvent", "FrameEvent",
                             "Preview", "StepEvent", "StepEvent", "FrameEvent", "Done"]
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert [(e.frame, e.frames, e.step.step) for e in steps[:first + 1]] == [
        (0, 3, 1), (0, 3, 2), (0, 3, 3), (0, 3, 4), (1, 3, 1)]
    frames = [e for e in events if isinstance(e, FrameEvent)]
    assert [(f.index, f.total, f.reused) for f in frames] == [(0, 3, False), (1, 3, False), (2, 3, False)]
    assert all(f.seconds > 0 and f.fps > 0 for f in frames) and frames[-1].eta == 0
    clip = outcome.outcome
    assert isinstance(clip, ClipRendered) and clip.video is None and clip.total == 3
    assert list(clip.frames) == [f.path for f in frames] == sorted((tmp_path / "out").glob("*.png"))

    again: list[object] = []  # a rerun reuses every frame: no steps, no rewrite
    stamps = [p.stat().st_mtime_ns for p in clip.frames]
    assert isinstance(run_job(job, again.append), Done)
    assert kinds(again) == ["FrameEvent"] * 3 + ["Done"]
    assert all(e.reused for e in again if isinstance(e, FrameEvent))
    assert [p.stat().st_mtime_ns for p in clip.frames] == stamps


def test_each_frame_carries_a_manifest_that_repeats_the_clip(tmp_path: Path, tiny_everywhere) -> None:
    require("cv2")
    source = frames_folder(tmp_path / "clip")
    job = ClipJob(source, (SAMPLES / "starry_night.jpg",), tmp_path / "out", CLIP.replace(seed=None), first=0,
                  labels=("holiday.mp4", "starry"))
    outcome = run_job(job)
    assert isinstance(outcome, Done) and isinstance(outcome.outcome, ClipRendered)
    paths = outcome.outcome.frames
    manifests = [read_manifest(p) for p in paths]
    assert [m["frame"] for m in manifests] == [0, 1, 2] and {m["frames"] for m in manifests} == {3}
    assert [m["source_frame"] for m in manifests] == [0, 1, 2]
    from stylo import __version__
    from stylo.plan import REPEATABLE_SEED

    for m in manifests:
        assert m["seed"] == REPEATABLE_SEED == m["settings"]["seed"]  # the seed the frames actually used
        assert m["content"] == "holiday.mp4" and m["styles"] == ["starry"] and m["stylo_version"] == __version__
        assert m["settings"]["scales"] == 2 and m["settings"]["size"] == 48  # the clip's, not a later frame's
    # `stylo run --config-from` a frame repeats the clip's settings and seed
    still = tmp_path / "still.png"
    assert main(["run", str(paths[1]), str(SAMPLES / "starry_night.jpg"), "-o", str(still),
                 "--config-from", str(paths[1]), "--quiet"]) == 0
    repeated = read_manifest(still)
    assert repeated["seed"] == REPEATABLE_SEED
    assert {k: v for k, v in repeated["settings"].items() if k != "precision"} == \
        {k: v for k, v in manifests[1]["settings"].items() if k != "precision"}


def test_a_clips_video_carries_its_manifest_beside_it(tmp_path: Path, tiny_everywhere) -> None:
    require("av")
    require("cv2")
    source = frames_folder(tmp_path / "clip", 4)
    out = tmp_path / "out.mp4"
    job = ClipJob(source, (SAMPLES / "starry_night.jpg",), out, CLIP, first=1, fps=Fraction(12), evaluate=True)
    outcome = run_job(job)
    assert isinstance(outcome, Done) and isinstance(outcome.outcome, ClipRendered)
    clip = outcome.outcome
    assert clip.video == out and out.is_file() and clip.folder == tmp_path / "out_frames"
    sidecar = json.loads((tmp_path / "out.json").read_text())
    assert sidecar == clip.manifest
    assert sidecar["frames"] == 3 and sidecar["first_frame"] == 1 and sidecar["fps"] == "12"
    assert sidecar["seed"] == 5 and sidecar["settings"]["seed"] == 5 and sidecar["content"] == "clip"
    assert sidecar["styles"] == ["starry_night.jpg"] and sidecar["metrics"]["warping_error"] >= 0
    assert [read_manifest(p)["source_frame"] for p in clip.frames] == [1, 2, 3]
    from stylo.video.io import read_clip

    assert len(read_clip(out).frames) == 3


def test_a_clip_on_bad_input_is_failed_and_writes_nothing(tmp_path: Path) -> None:
    require("av")
    require("cv2")
    bogus = tmp_path / "clip.mp4"
    bogus.write_bytes(b"not a video")
    events: list[object] = []
    outcome = run_job(ClipJob(bogus, (SAMPLES / "starry_night.jpg",), tmp_path / "out.mp4", CLIP), events.append)
    assert kinds(events) == ["Failed"] and isinstance(outcome, Failed)
    assert "cannot read video" in str(outcome.error)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
    style = tmp_path / "in.json"  # a style image named like the video's manifest: it would be replaced
    style.write_bytes((SAMPLES / "starry_night.jpg").read_bytes())
    outcome = run_job(ClipJob(frames_folder(tmp_path / "c"), (style,), tmp_path / "in.mp4", CLIP))
    assert isinstance(outcome, Failed) and "in.json is one of the inputs" in str(outcome.error)
    assert style.read_bytes() == (SAMPLES / "starry_night.jpg").read_bytes() and not (tmp_path / "in_frames").exists()


def test_chunks_assemble_frames_with_their_manifests_renumbered(tmp_path: Path, tiny_everywhere) -> None:
    require("cv2")
    from stylo.video.chunks import assemble, chunk_folder, plan_chunks
    from stylo.video.pipeline import ClipLabels, stylize_frames

    source = frames_folder(tmp_path / "clip", 4)
    frames = [Image.open(p).convert("RGB") for p in sorted(source.iterdir())]
    style = Image.open(SAMPLES / "starry_night.jpg").convert("RGB")
    folder = tmp_path / "out"
    chunks = plan_chunks(4, 2, 1)  # (0, 0, 2), (1, 2, 4)
    for c in chunks:
        stylize_frames(frames[c.start:c.end], [style], CLIP, chunk_folder(folder, c.index),
                       labels=ClipLabels("clip.mp4", ("starry",), 10 + c.start))
    written = assemble(folder, chunks, first=10)
    manifests = [read_manifest(p) for p in written]
    assert [(m["frame"], m["frames"], m["source_frame"]) for m in manifests] == [
        (0, 4, 10), (1, 4, 11), (2, 4, 12), (3, 4, 13)]
    assert {m["content"] for m in manifests} == {"clip.mp4"}
    stamps = [p.stat().st_mtime_ns for p in written]
    assert assemble(folder, chunks, first=10) == written  # assembled frames are kept, not rewritten
    assert [p.stat().st_mtime_ns for p in written] == stamps


def test_the_progress_line_shows_step_events_only(tmp_path: Path, small_images, tiny_everywhere) -> None:
    from stylo.progress import ProgressLine

    stream = io.StringIO()
    line = ProgressLine(stream)
    outcome = run_job(StillJob(small_images[0], (small_images[1],), tmp_path / "o.png", STILL), line)
    assert isinstance(outcome, Done)
    lines = stream.getvalue().splitlines()
    assert [ln.split()[1] for ln in lines] == ["1/5", "2/5", "3/5", "4/5", "5/5"]  # every step of 5 (5 // 10 = 0)
    assert all(ln.startswith("step ") for ln in lines)


def test_the_video_command_prints_a_line_per_frame_event(tmp_path: Path, capsys, tiny_everywhere) -> None:
    require("av")
    require("cv2")
    source = frames_folder(tmp_path / "clip")
    argv = ["video", str(source), str(SAMPLES / "starry_night.jpg"), "-o", str(tmp_path / "o.mp4"),
            *[f for f in FLAGS if f != "--quiet"]]
    assert main(argv) == 0
    err = capsys.readouterr().err.splitlines()
    assert [e.split(":")[0] for e in err[:3]] == ["frame 1/3", "frame 2/3", "frame 3/3"] and len(err) == 4
    assert err[-1].startswith("stylo: wrote") and (tmp_path / "o.json").is_file()
    assert main(argv) == 0
    again = capsys.readouterr().err.splitlines()
    assert again[:3] == [f"frame {i}/3: from an earlier run" for i in (1, 2, 3)]
