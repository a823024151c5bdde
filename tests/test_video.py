"""Video (Ruder et al. 2016) on a synthetic clip whose flow is known: a pan over the Tübingen sample."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylo.cli import main
from stylo.config import Settings
from stylo.events import StepEvent

from .conftest import SAMPLES, require

require("av")
require("cv2")

from stylo.video import flow  # noqa: E402
from stylo.video.encode import write_video  # noqa: E402
from stylo.video.io import read_clip  # noqa: E402
from stylo.video.pipeline import FrameDone, stylize_frames  # noqa: E402

PAN = 6  # px per frame, to the right
CLIP = Settings(size=96, seed=0, coarse_steps=4, steps=4, precision="fp32")


def pan(n: int, width: int = 160, height: int = 120) -> list[Image.Image]:
    src = Image.open(SAMPLES / "tubingen.jpg").convert("RGB")
    return [src.crop((PAN * i, 40, PAN * i + width, 40 + height)) for i in range(n)]


@pytest.fixture(scope="module")
def style() -> Image.Image:
    return Image.open(SAMPLES / "starry_night.jpg").convert("RGB")


def test_dis_flow_recovers_a_known_pan_to_a_pixel() -> None:
    a, b = pan(2)
    backward = flow.optical_flow(b, a)  # each pixel of b came from PAN px further right in a
    interior = backward[16:-16, 16:-16]
    error = np.sqrt((interior[..., 0] - PAN) ** 2 + interior[..., 1] ** 2)
    assert error.mean() < 1.0 and np.median(error) < 0.5


def test_warping_brings_the_previous_frame_onto_the_next() -> None:
    a, b = pan(2)
    moved, mask = flow.warp_previous(a, b, a)
    diff = np.abs(np.asarray(moved, dtype=float) - np.asarray(b, dtype=float))[8:-8, 8:-16]
    assert diff.mean() < 6  # 0–255 units
    assert mask[8:-8, 8:-16].mean() > 0.9  # the interior can be trusted
    assert mask[:, -PAN:].mean() < 0.5  # the strip that came into view cannot


def grey(level: int, size: tuple[int, int] = (160, 120)) -> Image.Image:
    return Image.new("RGB", size, (level, level, level))


def brighter(img: Image.Image, by: int) -> Image.Image:
    return Image.fromarray(np.clip(np.asarray(img, dtype=np.int16) + by, 0, 255).astype(np.uint8))


def test_the_warping_error_of_a_still_clip_is_zero_and_of_a_jump_its_square() -> None:
    still = pan(1) * 3
    assert flow.warping_error(still, still) == pytest.approx(0.0, abs=1e-9)
    # a still scene whose stylized frames jump by 50 grey levels: each pixel differs by 50/255, squared
    jumps = [grey(100), grey(150), grey(100)]
    assert flow.warping_error(still, jumps) == pytest.approx((50 / 255) ** 2, rel=1e-4)
    assert flow.warping_error(still[:2], jumps[:2]) == pytest.approx((50 / 255) ** 2, rel=1e-4)


def test_the_warping_error_follows_the_motion_and_sees_flicker() -> None:
    frames = pan(4)
    steady = flow.warping_error(frames, frames)  # the pan itself: each frame is the last one moved
    unmoved = np.mean([np.mean((np.asarray(a, dtype=float) / 255 - np.asarray(b, dtype=float) / 255) ** 2)
                       for a, b in zip(frames, frames[1:])])
    assert 0 < steady < 0.05 * unmoved, (steady, unmoved)  # the frames are compared after the flow, not before
    flicker = [brighter(f, 40 * (i % 2)) for i, f in enumerate(frames)]
    assert flow.warping_error(frames, flicker) > 0.8 * (40 / 255) ** 2 > 10 * steady


def test_temporal_loss_halves_the_warping_error_at_the_same_style(tmp_path: Path, style: Image.Image) -> None:
    from stylo.metrics import evaluate

    frames = pan(4)
    results = {}
    for weight in (CLIP.temporal_weight, 0.0):
        paths = stylize_frames(frames, [style], CLIP.replace(temporal_weight=weight), tmp_path / str(weight))
        outs = [Image.open(p).convert("RGB") for p in paths]
        style_d = np.mean([evaluate(o, f, style).style_distance_sum for o, f in zip(outs, frames)])
        results[weight] = (flow.warping_error(frames, outs), style_d)
    (temporal, temporal_style), (baseline, baseline_style) = results[CLIP.temporal_weight], results[0.0]
    assert temporal <= 0.5 * baseline, results
    assert temporal_style <= 1.2 * baseline_style, results


def test_a_rerun_computes_only_the_missing_frames_and_repeats_them(tmp_path: Path, style: Image.Image) -> None:
    frames = pan(3)
    folder = tmp_path / "frames"
    first = stylize_frames(frames, [style], CLIP, folder)
    kept = np.asarray(Image.open(first[-1]))
    first[-1].unlink()  # as if killed before the last frame was saved
    stamps = [p.stat().st_mtime_ns for p in first[:-1]]
    events: list[object] = []
    again = stylize_frames(frames, [style], CLIP, folder, events.append)
    seen = [e for e in events if isinstance(e, FrameDone)]
    assert [d.reused for d in seen] == [True, True, False] and [d.index for d in seen] == [0, 1, 2]
    assert [d.path for d in seen] == again == first
    assert np.array_equal(np.asarray(Image.open(again[-1])), kept)  # the same frame as the uninterrupted run
    assert [p.stat().st_mtime_ns for p in again[:-1]] == stamps  # reused frames are not rewritten
    assert seen[-1].fps > 0 and seen[-1].eta == 0
    steps = [e for e in events if isinstance(e, StepEvent)]  # only the frame computed reports steps
    assert {e.frame for e in steps} == {2} and [e.step.step for e in steps] == list(range(1, CLIP.steps + 1))
    assert events.index(seen[-1]) > events.index(steps[-1])  # the frame is reported after its steps


def make_clip(path: Path, frames: list[Image.Image], fps: int, audio: bool) -> None:
    import av

    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = frames[0].width, frames[0].height, "yuv420p"
        sound = out.add_stream("aac", rate=44100) if audio else None
        for img in frames:
            for packet in video.encode(av.VideoFrame.from_image(img)):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if sound is not None:
            samples = int(44100 * len(frames) / fps)
            tone = (0.2 * np.sin(2 * math.pi * 440 * np.arange(samples) / 44100)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(tone[None], format="fltp", layout="mono")
            frame.sample_rate = 44100
            for packet in sound.encode(frame):
                out.mux(packet)
            for packet in sound.encode():
                out.mux(packet)


def test_decode_encode_keeps_frames_rate_and_audio(tmp_path: Path) -> None:
    import av

    source = tmp_path / "in.mp4"
    make_clip(source, pan(5), 12, audio=True)
    clip = read_clip(source)
    assert len(clip.frames) == 5 and clip.fps == Fraction(12) and clip.has_audio
    out = tmp_path / "out.mp4"
    write_video(clip.frames, out, clip.fps, audio_from=source)
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio, "the audio was not copied"
        assert container.streams.video[0].average_rate == 12
    assert len(read_clip(out).frames) == 5


def test_the_video_command_and_the_flicker_metric(tmp_path: Path, capsys) -> None:
    source = tmp_path / "in.mp4"
    make_clip(source, pan(4), 8, audio=False)
    out = tmp_path / "out.mp4"
    code = main(["video", str(source), str(SAMPLES / "starry_night.jpg"), "-o", str(out), "--size", "64",
                 "--steps", "2", "--coarse-steps", "2", "--seed", "0", "--frames", "1:4"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "frame 3/3" in err and "frames/s" in err and "s left" in err
    assert len(read_clip(out).frames) == 3 and len(list((tmp_path / "out_frames").glob("*.png"))) == 3
    assert main(["eval", "--video", str(source), str(out), str(SAMPLES / "starry_night.jpg")]) == 0
    printed = capsys.readouterr().out
    steady = re_number(printed, "warping_error")
    outputs = read_clip(out).frames
    assert steady == pytest.approx(flow.warping_error(read_clip(source).frames[:3], outputs), rel=1e-4, abs=1e-7)
    assert re_number(printed, "style_distance") > 0
    flickering = tmp_path / "flicker.mp4"  # the same clip, every other frame 40 grey levels brighter
    write_video([brighter(f, 40 * (i % 2)) for i, f in enumerate(outputs)], flickering, Fraction(8))
    assert main(["eval", "--video", str(source), str(flickering)]) == 0
    assert re_number(capsys.readouterr().out, "warping_error") > max(3 * steady, 0.5 * (40 / 255) ** 2)


def re_number(text: str, key: str) -> float:
    import re

    match = re.search(rf"^{key} ([0-9.e+-]+)$", text, re.M)
    assert match, text
    return float(match.group(1))


def test_bad_video_input_exits_2(tmp_path: Path, capsys) -> None:
    bogus = tmp_path / "clip.mp4"
    bogus.write_bytes(b"not a video")
    for argv in (["video", str(bogus), str(SAMPLES / "starry_night.jpg"), "-o", str(tmp_path / "o.mp4")],
                 ["video", str(tmp_path / "missing.mp4"), str(SAMPLES / "starry_night.jpg"), "-o", "o.mp4"],
                 ["video", str(bogus), str(SAMPLES / "starry_night.jpg"), "-o", str(bogus)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("stylo: ") and err.count("\n") == 1


def video_argv(source: Path, out: Path, *extra: str) -> list[str]:
    return ["video", str(source), str(SAMPLES / "starry_night.jpg"), "-o", str(out), "--size", "64", "--steps", "2",
            "--coarse-steps", "2", "--seed", "0", *extra]


def test_sigkill_mid_clip_then_a_rerun_recomputes_only_the_missing_frames(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    source = tmp_path / "in"
    source.mkdir()
    for i, frame in enumerate(pan(5)):
        frame.save(source / f"{i:03d}.png")
    whole = tmp_path / "whole"  # in a process of its own like the killed run and the rerun: the same threads and flags
    reference = subprocess.run([sys.executable, "-m", "stylo", *video_argv(source, whole, "--quiet")],
                               capture_output=True, text=True)
    assert reference.returncode == 0, reference.stderr

    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "stylo", *video_argv(source, out)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("*.png"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = sorted(out.glob("*.png"))
    assert 2 <= len(kept) < 5
    stamps = {p: p.stat().st_mtime_ns for p in kept}
    rerun = subprocess.run([sys.executable, "-m", "stylo", *video_argv(source, out)], capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stderr.count("from an earlier run") == len(kept)
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # not rewritten
    for mine, reference in zip(sorted(out.glob("*.png")), sorted(whole.glob("*.png")), strict=True):
        assert np.array_equal(np.asarray(Image.open(mine)), np.asarray(Image.open(reference)))


def test_fps_sets_the_output_rate(tmp_path: Path) -> None:
    import av

    source = tmp_path / "in.mp4"
    make_clip(source, pan(3), 8, audio=False)
    out = tmp_path / "out.mp4"
    assert main(video_argv(source, out, "--fps", "24", "--quiet")) == 0
    with av.open(str(out)) as container:
        assert container.streams.video[0].average_rate == 24


def test_chunks_overlap_and_cross_fade() -> None:
    from stylo.video.chunks import crossfade_weight, plan_chunks

    chunks = plan_chunks(10, 4, 2)
    assert [(c.start, c.own, c.end) for c in chunks] == [(0, 0, 4), (2, 4, 8), (6, 8, 10)]
    assert [crossfade_weight(chunks[1], f) for f in (2, 3)] == [1 / 3, 2 / 3]


def test_a_ray_chunked_run_matches_the_local_run(tmp_path: Path) -> None:
    require("ray")
    source = tmp_path / "in"
    source.mkdir()
    frames = pan(24, 96, 72)
    for i, frame in enumerate(frames):
        frame.save(source / f"{i:03d}.png")
    local, spread = tmp_path / "local", tmp_path / "ray"
    small = ("--quiet", "--size", "48")
    assert main(video_argv(source, local, *small)) == 0
    assert main(video_argv(source, spread, *small, "--executor", "ray", "--workers", "2", "--chunk", "12",
                           "--overlap", "6")) == 0
    outs = {name: [Image.open(p).convert("RGB") for p in sorted(folder.glob("*.png"))]
            for name, folder in (("local", local), ("ray", spread))}
    assert len(outs["local"]) == len(outs["ray"]) == 24
    assert len(list((spread / "chunks" / "001").glob("*.png"))) == 18  # the second chunk began 6 frames early
    errors = {name: flow.warping_error([f.resize(o[0].size) for f in frames], o) for name, o in outs.items()}
    assert abs(errors["ray"] - errors["local"]) <= 0.1 * errors["local"], errors
