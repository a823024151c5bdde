"""Stylize a clip: frame by frame through :func:`stylo.optimize.stylize_result`, each later frame starting
from the previous result warped by optical flow and held to it by the temporal loss (Ruder et al. 2016).

Every finished frame is saved as ``NNNNN.png`` in the frames folder at once (atomically): a run that was
killed starts again at the first missing frame, from the frame before it, and gets the same result. The folder
is keyed like a checkpoint (:func:`frames_key`, recorded in :data:`MANIFEST`): its frames are reused only by a
run with the same clip, styles and settings; a folder that holds another run's frames is refused, never cleared.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from stylo import __version__
from stylo.checkpoint import run_key
from stylo.config import Settings
from stylo.errors import StyloError
from stylo.events import FrameEvent, OnEvent, Preview, StepEvent
from stylo.files import read_bounded, shown
from stylo.image import atomic_write, save_png
from stylo.manifest import frame_manifest
from stylo.optimize import Hooks, Result, Step, VideoInputs, stylize_result
from stylo.plan import run_seed
from stylo.video.flow import warp_previous

LATER_FRAME_SCALES = 1  # later frames: a short run at the full size, from the warped previous result
MANIFEST = "stylo-frames.json"  # the frames folder's key
FRAME_NAME = re.compile(r"\d{5}\.png")
UNKEYED = ("max_memory", "tile")  # settings that change how a frame is computed, not its pixels


FrameDone = FrameEvent  # the name of a clip's per-frame progress before stylo.events


@dataclass(frozen=True)
class ClipLabels:
    """What a frame's manifest names: the clip, the styles, and the source frame of frame 0 (``--frames A:B``)."""

    clip: str = "clip"
    styles: tuple[str, ...] = ()
    first: int = 0


def frame_path(folder: Path, index: int) -> Path:
    return folder / f"{index:05d}.png"


def frames_key(frames: Sequence[Image.Image], styles: Sequence[Image.Image], settings: Settings,
               extra: Mapping[str, Any] | None = None) -> str:
    """What the frames of a folder depend on: the settings (the seed fixed as :func:`stylize_frames` fixes it),
    the styles' and the frames' pixels, ``extra`` (the frame range, the chunking) and stylo's version."""
    s = settings.replace(seed=run_seed(settings.seed, repeatable=True))
    s = s.replace(**{name: None for name in UNKEYED})
    parts = {"run": run_key(s, [*styles, *frames]), "frames": len(frames), "version": __version__,
             "extra": dict(extra or {})}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def check_folder(folder: Path, key: str) -> bool:
    """Whether ``folder`` is the frames folder of the run ``key`` (True: resume it) or holds no frames (False:
    free to take); a one-line error, before any compute, when it holds frames of another run or frames with no
    key. A stale key with no frames beside it (a run stopped before its first frame) is no data to keep."""
    manifest = folder / MANIFEST
    try:
        recorded = json.loads(read_bounded(manifest, "frames manifest")).get("key") if manifest.exists() else None
        has_frames = folder.is_dir() and any(FRAME_NAME.fullmatch(p.name) for p in
                                             (*folder.iterdir(), *folder.glob("chunks/*/*.png")))
    except (OSError, StyloError, ValueError, AttributeError):
        raise StyloError(f"cannot read the frames folder {shown(folder)}: delete it or choose another output"
                         ) from None
    if recorded == key:
        return True
    if has_frames:
        raise StyloError(f"the frames folder {shown(folder)} holds frames of another run (another clip, style or "
                         "settings); delete it or choose another output")
    return False


def claim_folder(folder: Path, key: str) -> None:
    """Make ``folder`` the frames folder of the run ``key``, as :func:`check_folder` allows: its key is written
    (atomically) before its first frame."""
    if check_folder(folder, key):
        return
    text = json.dumps({"key": key, "stylo": __version__}) + "\n"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / MANIFEST, lambda fh: fh.write(text.encode()))
    except OSError as exc:
        raise StyloError(f"cannot write frames to {shown(folder)}: {exc.strerror or exc}") from None


def later_settings(s: Settings) -> Settings:
    """The settings of every frame after the first: full size only (its start is the warped frame)."""
    return s.replace(scales=LATER_FRAME_SCALES)


def stylize_frames(frames: Sequence[Image.Image], styles: Sequence[Image.Image], settings: Settings, folder: Path,
                   on_event: OnEvent | None = None, should_stop: Callable[[], bool] | None = None,
                   key: str | None = None, labels: ClipLabels | None = None) -> list[Path]:
    """Stylize ``frames`` into ``folder`` (resuming what is there if it was made by the same run: ``key``, by
    default :func:`frames_key` of these frames, styles and settings); returns the frame files written so far.
    The seed is fixed across frames, so a resumed run repeats an uninterrupted one. Each frame computed reports
    its :class:`~stylo.events.Preview` and :class:`~stylo.events.StepEvent` s to ``on_event``, and every frame
    (computed or reused) a :class:`~stylo.events.FrameEvent`. Each frame is saved with its manifest
    (:func:`stylo.manifest.frame_manifest`: the settings with the seed, ``labels``, its index); a reused frame
    is never rewritten."""
    key = key or frames_key(frames, styles, settings)
    s = settings.replace(seed=run_seed(settings.seed, repeatable=True))
    labels = labels or ClipLabels(styles=tuple(f"style {k + 1}" for k in range(len(styles))))
    emit: OnEvent = on_event or (lambda event: None)

    def make(i: int, frame: Image.Image, previous: Image.Image | None) -> tuple[Image.Image, dict[str, Any]] | None:
        result = stylize_frame(frame, frames[i - 1] if i else None, previous, styles, s,
                               frame_hooks(emit, i, len(frames), should_stop))
        if result.interrupted:
            return None
        return result.image, frame_manifest(s, result, labels.clip, labels.styles, i, len(frames), labels.first + i)

    return keyed_frames(frames, folder, key, make, emit, should_stop)


FrameMaker = Callable[[int, Image.Image, Image.Image | None], tuple[Image.Image, dict[str, Any] | None] | None]


def keyed_frames(frames: Sequence[Image.Image], folder: Path, key: str, make: FrameMaker, emit: OnEvent,
                 should_stop: Callable[[], bool] | None = None) -> list[Path]:
    """The resumable frame loop of every clip path: frame ``i`` found in ``folder`` (the run ``key``'s, see
    :func:`check_folder`) is reused and never rewritten; a missing one is ``make(i, frame, previous output)`` →
    (picture, its manifest or None), or None when stopped, saved at once (the folder's key written with the first frame,
    so a refusal leaves nothing). A :class:`FrameEvent` per frame; returns the frame files written so far."""
    claimed = check_folder(folder, key)
    written: list[Path] = []
    previous: Image.Image | None = None
    computed, spent = 0, 0.0
    for i, frame in enumerate(frames):
        path = frame_path(folder, i)
        if path.exists():
            previous = Image.open(path).convert("RGB")
            written.append(path)
            emit(FrameEvent(i, len(frames), True, 0.0, computed / spent if spent else 0.0, 0.0, path))
            continue
        if should_stop is not None and should_stop():
            break
        start = time.perf_counter()
        made = make(i, frame, previous)
        if made is None:
            break
        if not claimed:
            claim_folder(folder, key)
            claimed = True
        save_png(made[0], path, made[1])
        written.append(path)
        previous = made[0]
        seconds = time.perf_counter() - start
        computed, spent = computed + 1, spent + seconds
        rate = computed / spent
        emit(FrameEvent(i, len(frames), False, seconds, rate, (len(frames) - i - 1) / rate, path))
    return written


def frame_hooks(emit: OnEvent, index: int, total: int, should_stop: Callable[[], bool] | None) -> Hooks:
    """The engine's hooks for frame ``index``: its starting picture and steps as events of that frame."""

    def on_step(step: Step) -> None:
        emit(StepEvent(step, index, total))

    def on_start(image: Image.Image) -> None:
        emit(Preview(image, index))

    return Hooks(on_step=on_step, on_start=on_start, should_stop=should_stop)


def stylize_frame(frame: Image.Image, last_frame: Image.Image | None, previous: Image.Image | None,
                  styles: Sequence[Image.Image], s: Settings, hooks: Hooks | None = None) -> Result:
    """One frame: the first on the full schedule; a later one from the warped previous result, with the
    temporal term where the flow holds. ``temporal_weight = 0`` is the baseline: every frame on its own."""
    hooks = hooks or Hooks()
    if last_frame is None or previous is None or s.temporal_weight == 0:
        return stylize_result(frame, list(styles), s, hooks)
    import torch

    from stylo.image import fit_long_side

    size = fit_long_side(frame.size, s.size)
    small = frame.resize(size, Image.Resampling.LANCZOS)
    warped, mask = warp_previous(previous, small, last_frame)
    start = Image.composite(warped, fresh_start(small, styles, s), Image.fromarray((mask * 255).astype("uint8")))
    video = VideoInputs(start=start, temporal=(warped, torch.from_numpy(mask)[None, None]))
    return stylize_result(frame, list(styles), later_settings(s), hooks, video=video)


def fresh_start(frame: Image.Image, styles: Sequence[Image.Image], s: Settings) -> Image.Image:
    """What a frame would start from on its own: where the previous frame cannot be warped (a region that
    came into view, an occlusion) the start is filled from this, not smeared from the border."""
    if s.init != "feedforward":
        return frame
    from stylo.feedforward import feedforward_image
    from stylo.optimize import blend_weights

    return feedforward_image(frame, styles, blend_weights(s, len(styles)))
