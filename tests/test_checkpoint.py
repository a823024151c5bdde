"""Checkpoints and --resume (stylo.checkpoint): a killed run continues to the image it would have made."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylo.checkpoint import CheckpointFile, checkpoint_path
from stylo.config import Settings
from stylo.optimize import stylize_result

RUN = ["--size", "96", "--seed", "0", "--steps", "8", "--coarse-steps", "4", "--scales", "2", "--coarsest", "16",
       "--quiet"]


def stylo(small_images, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stylo", "run", str(small_images[0]), str(small_images[1]),
                           "-o", str(out), *RUN, *extra], capture_output=True, text=True)


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def test_resume_after_sigkill_reaches_the_uninterrupted_image(tmp_path: Path, small_images) -> None:
    whole = tmp_path / "whole.png"
    assert stylo(small_images, whole).returncode == 0
    assert not checkpoint_path(whole).exists()  # removed when the run finishes

    killed = tmp_path / "killed.png"
    ckpt = checkpoint_path(killed)
    proc = subprocess.Popen([sys.executable, "-m", "stylo", "run", str(small_images[0]), str(small_images[1]),
                             "-o", str(killed), *RUN, "--checkpoint-every", "0"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if ckpt.exists() and CheckpointFile(ckpt, 0).load().step >= 6:  # past the first level
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state = CheckpointFile(ckpt, 0).load()
    assert 6 <= state.step < 12 and state.level == 1 and not killed.exists()

    r = stylo(small_images, killed, "--resume")
    assert r.returncode == 0, r.stderr
    assert np.array_equal(pixels(killed), pixels(whole))
    assert not ckpt.exists()


def test_resuming_twice_from_one_checkpoint_gives_the_same_image(small_images, tmp_path: Path) -> None:
    content, style = Image.open(small_images[0]), Image.open(small_images[1])
    s = Settings(size=96, seed=None, steps=6, scales=1, init="content")
    store = CheckpointFile(tmp_path / "x.ckpt", 0)
    stops = iter([False, False, False, True])
    first = stylize_result(content, style, s, should_stop=lambda: next(stops), checkpoint=store)
    assert first.interrupted and first.steps == 3
    saved = store.load()
    a = stylize_result(content, style, s, resume=saved)
    b = stylize_result(content, style, s, resume=store.load())
    assert a.seed == b.seed == first.seed and a.steps == b.steps == 6
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    assert a.history[:3] == first.history


def test_resume_refuses_another_run_and_a_missing_checkpoint(tmp_path: Path, small_images) -> None:
    out = tmp_path / "x.png"
    r = stylo(small_images, out, "--resume")
    assert r.returncode == 2 and "no checkpoint" in r.stderr and "Traceback" not in r.stderr
    content, style = Image.open(small_images[0]), Image.open(small_images[1])
    store = CheckpointFile(checkpoint_path(out), 0)
    stylize_result(content, style, Settings(size=96, steps=2, scales=1), should_stop=lambda: True, checkpoint=store)
    assert store.path.exists()
    r = stylo(small_images, out, "--resume", "--style-weight", "7")
    assert r.returncode == 2 and "another run" in r.stderr
    store.path.write_bytes(b"not a checkpoint")
    r = stylo(small_images, out, "--resume")
    assert r.returncode == 2 and "cannot read the checkpoint" in r.stderr


@pytest.mark.parametrize("every", ["-1", "nan"])
def test_a_bad_checkpoint_interval_is_refused(tmp_path: Path, small_images, every: str) -> None:
    r = stylo(small_images, tmp_path / "x.png", "--checkpoint-every", every)
    assert r.returncode == 2 and "checkpoint_every" in r.stderr.replace("-", "_")
