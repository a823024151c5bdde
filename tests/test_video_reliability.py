"""``stylo video`` against hostile input (issue #21): input folders as frames folders, frames of another run,
failed writes, oversized clips, FIFOs, bad rates and containers, SIGTERM. Bad input exits 2 with one line before
any compute and changes nothing; a failed write exits 1 and keeps the old file."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from stylo.cli import main
from stylo.errors import RunError, StyloError

from .conftest import SAMPLES, require

require("av")
require("cv2")

from stylo.video import encode as video_encode  # noqa: E402
from stylo.video import io as video_io  # noqa: E402
from stylo.video.encode import write_video  # noqa: E402
from stylo.video.io import parse_fps, probe_clip, read_clip  # noqa: E402

from .test_video import make_clip, pan  # noqa: E402

TINY = ["--size", "32", "--steps", "1", "--scales", "1", "--init", "content", "--seed", "0", "--quiet"]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes: what "nothing changed" compares."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def frames_folder_of(folder: Path, n: int = 3, size: tuple[int, int] = (48, 32)) -> Path:
    folder.mkdir(parents=True)
    for i, frame in enumerate(pan(n, *size)):
        frame.save(folder / f"{i:05d}.png")
    return folder


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("stylo: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's errors (exit 2)
        return int(exc.code or 0)


@pytest.fixture(scope="module")
def style_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("style") / "style.png"
    Image.open(SAMPLES / "starry_night.jpg").convert("RGB").resize((48, 32)).save(path)
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, style_file: Path) -> Path:
    """A finished tiny run: ``clip/`` (3 frames), ``out.mp4`` and ``out_frames/``; copied by the tests that
    need one, so they reuse its frames instead of computing."""
    root = tmp_path_factory.mktemp("finished")
    frames_folder_of(root / "clip")
    assert main(["video", str(root / "clip"), str(style_file), "-o", str(root / "out.mp4"), *TINY]) == 0
    return root


def copy_of(finished: Path, tmp_path: Path) -> Path:
    shutil.copytree(finished, tmp_path / "run")
    return tmp_path / "run"


# 2. the frames folder is the input folder, inside it, or holds the input ------------------------------------

def test_the_frames_folder_may_not_be_the_input_folder_or_inside_it(tmp_path: Path, style_file: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    clip = frames_folder_of(tmp_path / "pan_frames")
    other = frames_folder_of(tmp_path / "work" / "shots" / "clip")
    before, before_other = snapshot(tmp_path / "pan_frames"), snapshot(tmp_path / "work")
    cases = [(clip, tmp_path / "pan.mp4", "is the input folder"),  # pan_frames/ derived from pan.mp4
             (clip, clip / "sub", "inside the input folder"),
             (clip, clip / "styled.mp4", "inside the input folder"),
             (other, tmp_path / "work" / "shots", "inside the frames folder"),
             (other, tmp_path / "work", "inside the frames folder")]
    for source, out, words in cases:
        assert exit_code(["video", str(source), str(style_file), "-o", str(out), *TINY]) == 2, out
        assert words in one_line(capsys)
    assert snapshot(tmp_path / "pan_frames") == before and snapshot(tmp_path / "work") == before_other
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pan_frames", "work"]  # nothing written


# 3. frames are keyed: another clip, style or setting is refused, the same run resumes ------------------------

def test_frames_of_another_run_are_refused_and_kept(finished: Path, tmp_path: Path, style_file: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    run = copy_of(finished, tmp_path)
    kept = snapshot(run)
    other_clip = frames_folder_of(tmp_path / "other", size=(40, 32))
    other_style = tmp_path / "style2.png"
    Image.open(SAMPLES / "tubingen.jpg").convert("RGB").resize((48, 32)).save(other_style)
    out = str(run / "out.mp4")
    for argv in (["video", str(run / "clip"), str(style_file), "-o", out, *TINY, "--style-weight", "5"],
                 ["video", str(run / "clip"), str(other_style), "-o", out, *TINY],
                 ["video", str(other_clip), str(style_file), "-o", out, *TINY],
                 ["video", str(run / "clip"), str(style_file), "-o", out, *TINY, "--frames", "1:3"],
                 ["video", str(run / "clip"), str(style_file), "-o", out, *TINY, "--temporal-weight", "0"]):
        assert exit_code(argv) == 2, argv
        assert "holds frames of another run" in one_line(capsys)
    assert snapshot(run) == kept  # nothing deleted, nothing rewritten
    # the same run resumes from its frames (a machine setting such as the memory budget is not part of the key)
    assert main(["video", str(run / "clip"), str(style_file), "-o", out, *TINY[:-1], "--max-memory", "2G"]) == 0
    assert capsys.readouterr().err.count("from an earlier run") == 3
    assert snapshot(run / "out_frames") == snapshot(finished / "out_frames")


def test_a_folder_of_frames_from_no_known_run_is_refused(tmp_path: Path, style_file: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    clip = frames_folder_of(tmp_path / "clip")
    mine = frames_folder_of(tmp_path / "mine")  # someone's own frames, no stylo manifest
    before = snapshot(mine)
    assert exit_code(["video", str(clip), str(style_file), "-o", str(mine), *TINY]) == 2
    assert "holds frames of another run" in one_line(capsys)
    assert snapshot(mine) == before


def test_a_run_refused_by_the_engine_leaves_no_frames_folder(tmp_path: Path, style_file: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The key is written with the first frame, so a refusal (here a size too small for the network) leaves
    nothing that would make the corrected run look like another run's."""
    clip = frames_folder_of(tmp_path / "clip")
    out = tmp_path / "out.mp4"
    assert exit_code(["video", str(clip), str(style_file), "-o", str(out), *TINY, "--size", "20"]) == 2
    assert "too small" in one_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip"]
    (tmp_path / "out_frames").mkdir()  # a key left by a run stopped before its first frame is no data to keep
    (tmp_path / "out_frames" / "stylo-frames.json").write_text('{"key": "0123"}')
    assert exit_code(["video", str(clip), str(style_file), "-o", str(out), *TINY, "--frames", "0:1"]) == 0
    assert len(read_clip(out).frames) == 1


# 4. the video is written atomically: a failed write keeps the old file ---------------------------------------

@contextmanager
def file_size_limit() -> Iterator[None]:
    """Writes past 2 KB fail with EFBIG, as they would with ENOSPC on a full disk. The limit holds for the whole
    process, so it is lifted inside the test, before pytest writes its report (to a log file larger than that)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2048, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_a_video_write_that_fails_keeps_the_old_file(tmp_path: Path, finished: Path) -> None:
    frames = [Image.open(p).convert("RGB") for p in sorted((finished / "out_frames").glob("*.png"))] * 4
    out = tmp_path / "out.mp4"
    shutil.copyfile(finished / "out.mp4", out)
    old = out.read_bytes()
    with pytest.raises(RunError, match="cannot write the video .*: File too large"), file_size_limit():
        write_video(frames, out, Fraction(8))
    assert out.read_bytes() == old and os.listdir(tmp_path) == ["out.mp4"]  # no temporary file left


def test_a_full_disk_midway_keeps_the_old_video(tmp_path: Path, finished: Path, style_file: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    run = copy_of(finished, tmp_path)
    old, old_manifest = (run / "out.mp4").read_bytes(), (run / "out.json").read_bytes()
    real_write = video_encode._CheckedWrites.write
    calls = []

    class FullDisk:
        def __init__(self, fh: Any):
            self.fh = fh

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name: str) -> Any:
            return getattr(self.fh, name)

    def fill_up(self: Any, data: bytes) -> int:  # the disk fills up at the encoder's third write
        calls.append(len(data))
        if len(calls) == 3:
            self.fh = FullDisk(self.fh)
        return real_write(self, data)

    monkeypatch.setattr(video_encode._CheckedWrites, "write", fill_up)
    assert main(["video", str(run / "clip"), str(style_file), "-o", str(run / "out.mp4"), *TINY]) == 1
    err = one_line(capsys)
    assert "No space left on device" in err and "frames are kept in" in err
    assert (run / "out.mp4").read_bytes() == old and (run / "out.json").read_bytes() == old_manifest
    assert sorted(p.name for p in run.iterdir()) == ["clip", "out.json", "out.mp4", "out_frames"]


# 6. a clip's size is checked from its header before decoding, and on every frame ----------------------------

@pytest.fixture(scope="module")
def huge_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One black frame of 8192x8000 px (65.5 MP, over the decoder's 64 MP): a few KB of H.264."""
    path = tmp_path_factory.mktemp("huge") / "huge.mp4"
    script = ("import av, sys\n"
              "with av.open(sys.argv[1], 'w') as out:\n"
              "    s = out.add_stream('libx264', rate=24)\n"
              "    s.width, s.height, s.pix_fmt, s.options = 8192, 8000, 'yuv420p', {'preset': 'ultrafast'}\n"
              "    f = av.VideoFrame(8192, 8000, 'yuv420p')\n"
              "    for p in f.planes: p.update(bytes(p.buffer_size))\n"
              "    for packet in [*s.encode(f), *s.encode()]: out.mux(packet)\n")
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=120)
    return path


class NoDecoding:
    """``av.open`` whose containers refuse to decode: proves that a refusal came from the header alone."""

    def __init__(self, real: Any):
        self.real = real

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        container = self.real(*args, **kwargs)

        class Guarded:
            def __getattr__(self, name: str) -> Any:
                if name in ("decode", "demux"):
                    raise AssertionError("a frame was decoded before the size check")
                return getattr(container, name)

            def __enter__(self) -> Guarded:
                return self

            def __exit__(self, *exc: object) -> None:
                container.close()

        return Guarded()


def test_a_huge_clip_is_refused_from_its_header(huge_clip: Path, monkeypatch: pytest.MonkeyPatch,
                                                style_file: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import av

    monkeypatch.setattr(av, "open", NoDecoding(av.open))
    with pytest.raises(StyloError, match="8192x8000 px") as caught:
        probe_clip(huge_clip, name="holiday.mp4")
    assert "holiday.mp4" in str(caught.value) and str(huge_clip.parent) not in str(caught.value)
    with pytest.raises(StyloError, match="holiday.mp4.*too large|too large.*holiday.mp4"):
        read_clip(huge_clip, name="holiday.mp4")
    assert exit_code(["video", str(huge_clip), str(style_file), "-o", str(tmp_path / "o.mp4"), *TINY]) == 2
    assert "too large" in one_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_frames_times_pixels_are_bounded_from_the_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import av

    source = tmp_path / "in.mp4"
    make_clip(source, pan(4, 64, 48), 8, audio=False)
    info = probe_clip(source)
    assert (info.width, info.height, info.frames, info.fps, info.has_audio) == (64, 48, 4, 8, False)
    monkeypatch.setattr(av, "open", NoDecoding(av.open))
    with pytest.raises(StyloError, match="4 frames of 64x48 px"):
        probe_clip(source, max_total_pixels=4 * 64 * 48 - 1)
    with pytest.raises(StyloError, match="too large to decode safely: 64x48"):
        read_clip(source, max_pixels=64 * 48 - 1)
    with pytest.raises(StyloError, match="2 frames of 64x48"):  # the range counts, not the whole clip
        read_clip(source, 1, 3, max_total_pixels=2 * 64 * 48 - 1)


def test_a_lying_header_is_caught_while_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "in.mp4"
    make_clip(source, pan(4, 64, 48), 8, audio=False)
    header = video_io._header

    def lying(container: Any, name: str, *args: Any) -> Any:  # a header that passes every bound
        return header(container, name, 0, None, 10, 10**9, 10**12)

    monkeypatch.setattr(video_io, "_header", lying)
    with pytest.raises(StyloError, match="too large to decode safely: 64x48"):
        read_clip(source, max_pixels=64 * 48 - 1)
    with pytest.raises(StyloError, match="3 frames of 64x48"):  # stops at the first frame past the bound
        read_clip(source, max_total_pixels=3 * 64 * 48 - 1)
    folder = frames_folder_of(tmp_path / "frames", 4, (64, 48))
    with pytest.raises(StyloError, match="3 frames of 64x48"):
        read_clip(folder, max_total_pixels=3 * 64 * 48 - 1)
    assert len(read_clip(source, max_total_pixels=4 * 64 * 48).frames) == 4


# 11. only regular files are opened: a FIFO is refused at once ------------------------------------------------

@pytest.fixture
def unblock() -> Iterator[list[Path]]:
    """FIFOs listed here are opened for writing after 15 s, so that a test that blocks on one fails, not hangs."""
    fifos: list[Path] = []
    done = threading.Event()

    def watchdog() -> None:
        if not done.wait(15):
            for fifo in fifos:
                try:
                    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                except OSError:
                    pass

    thread = threading.Thread(target=watchdog, daemon=True)
    thread.start()
    yield fifos
    done.set()
    thread.join()


def test_a_fifo_as_clip_frame_or_style_is_refused_at_once(tmp_path: Path, style_file: Path, unblock: list[Path],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "clip.mp4"
    os.mkfifo(fifo)
    folder = frames_folder_of(tmp_path / "clip")
    (folder / "00001.png").unlink()
    os.mkfifo(folder / "00001.png")
    style_fifo = tmp_path / "style.png"
    os.mkfifo(style_fifo)
    unblock.extend([fifo, folder / "00001.png", style_fifo])
    started = time.monotonic()
    for source in (fifo, folder):
        assert exit_code(["video", str(source), str(style_file), "-o", str(tmp_path / "o.mp4"), *TINY]) == 2
        assert "not a regular file" in one_line(capsys)
    (folder / "00001.png").unlink()
    pan(2, 48, 32)[1].save(folder / "00001.png")
    assert exit_code(["video", str(folder), str(style_fifo), "-o", str(tmp_path / "o.mp4"), *TINY]) == 2
    assert "not a regular file" in one_line(capsys)
    with pytest.raises(StyloError, match="not a regular file"):
        probe_clip(fifo)
    assert time.monotonic() - started < 10
    assert not (tmp_path / "o.mp4").exists() and not (tmp_path / "o_frames").exists()


# 18. containers and frame rates ------------------------------------------------------------------------------

@pytest.mark.parametrize("fps", ["-5", "1/0", "0", "1000000000", "nan", "inf", "abc", "241", "1/2000"])
def test_a_bad_fps_is_refused_when_the_flags_are_parsed(fps: str, tmp_path: Path, style_file: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    clip = frames_folder_of(tmp_path / "clip")
    assert exit_code(["video", str(clip), str(style_file), "-o", str(tmp_path / "o.mp4"), *TINY, "--fps", fps]) == 2
    assert "fps" in one_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip"]


def test_fps_values() -> None:
    assert parse_fps("24") == 24 and parse_fps("29.97") == Fraction(2997, 100)
    assert parse_fps("30000/1001") == Fraction(30000, 1001) and parse_fps("0.5") == Fraction(1, 2)
    assert parse_fps("23.976023976") == Fraction(24000, 1001)  # rounded to a rate a container can carry


def test_unsupported_containers_and_rates_are_refused_before_compute(tmp_path: Path, style_file: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    clip = frames_folder_of(tmp_path / "clip")
    for out, extra in (("o.avi", []), ("o.gif", ["--fps", "60"]), ("o.mp4/", [])):
        target = tmp_path / out
        if out.endswith("/"):
            target.mkdir()
        assert exit_code(["video", str(clip), str(style_file), "-o", str(target), *TINY, *extra]) == 2, out
        one_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip", "o.mp4"]
    assert list((tmp_path / "o.mp4").iterdir()) == []


@pytest.mark.parametrize("suffix,codec", [(".gif", "gif"), (".webm", "vp9"), (".mkv", "h264"), (".mov", "h264")])
def test_gif_webm_mkv_and_mov_outputs(suffix: str, codec: str, finished: Path, tmp_path: Path,
                                      style_file: Path) -> None:
    import av

    run = copy_of(finished, tmp_path)
    out = run / f"out{suffix}"  # its frames folder is out_frames/ again: the finished frames are reused
    assert main(["video", str(run / "clip"), str(style_file), "-o", str(out), *TINY, "--fps", "10"]) == 0
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == codec
    assert len(read_clip(out).frames) == 3


def test_webm_and_gif_audio(tmp_path: Path) -> None:
    """A .webm gets the clip's AAC audio re-encoded as Opus (WebM takes no AAC); an .mp4 copies it as is."""
    import av

    source = tmp_path / "in.mp4"
    make_clip(source, pan(3, 64, 48), 8, audio=True)
    frames = read_clip(source).frames
    for suffix, audio in ((".webm", ["opus"]), (".mp4", ["aac"]), (".gif", [])):
        write_video(frames, tmp_path / f"o{suffix}", Fraction(8), audio_from=source)
        with av.open(str(tmp_path / f"o{suffix}")) as container:
            assert [s.codec_context.name for s in container.streams.audio] == audio


# 21. SIGTERM: exit 130 with one line; the finished frames stay and a rerun resumes ---------------------------

def test_sigterm_mid_clip_exits_130_and_keeps_the_finished_frames(tmp_path: Path, style_file: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    clip = frames_folder_of(tmp_path / "clip")
    out = tmp_path / "out.mp4"
    argv = ["video", str(clip), str(style_file), "-o", str(out), *TINY, "--steps", "40"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "stylo", *argv], stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (tmp_path / "out_frames" / "00000.png").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.count("\n") == 1 and "interrupted" in err and "of 3 frames finished and kept" in err, err
    kept = sorted(p.name for p in (tmp_path / "out_frames").glob("*.png"))
    assert 1 <= len(kept) < 3 and f"{len(kept)} of 3" in err and not out.exists()
    assert main(argv) == 0  # the same command resumes from the kept frames
    assert len(read_clip(out).frames) == 3
