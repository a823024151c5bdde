"""Checkpoints and --resume (stylo.checkpoint): a killed run continues to the image it would have made."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylo.checkpoint import CheckpointFile, checkpoint_path
from stylo.cli import main
from stylo.config import Settings
from stylo.optimize import Hooks, stylize_result

RUN = ["--size", "96", "--seed", "0", "--steps", "8", "--coarse-steps", "4", "--scales", "2", "--coarsest", "16",
       "--quiet"]


def stylo(small_images, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stylo", "run", str(small_images[0]), str(small_images[1]),
                           "-o", str(out), *RUN, *extra], capture_output=True, text=True)


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


@pytest.mark.exactness
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
    first = stylize_result(content, style, s, Hooks(should_stop=lambda: next(stops), checkpoint=store))
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
    stylize_result(content, style, Settings(size=96, steps=2, scales=1),
                   Hooks(should_stop=lambda: True, checkpoint=store))
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


CRAFTED = ["--size", "32", "--steps", "2", "--scales", "1", "--seed", "0", "--quiet", "--resume"]


def _nan_pixel(d: dict) -> None:
    d["state"]["x"][0, 0, 0, 0] = float("nan")


def checkpoint_after_one_step(small_images, out: Path) -> CheckpointFile:
    """A 32 px run of the same settings as CRAFTED, stopped after its first step: its checkpoint beside ``out``."""
    content, style = Image.open(small_images[0]), Image.open(small_images[1])
    store = CheckpointFile(checkpoint_path(out), 0)
    stops = iter([False, True])
    stylize_result(content, style, Settings(size=32, steps=2, scales=1, seed=0),
                   Hooks(should_stop=lambda: next(stops), checkpoint=store))
    return store


@pytest.mark.parametrize(("damage", "message"), [
    (lambda d: d.update(level=99), "its level is not an integer between 0 and 7"),
    (lambda d: d.update(level=1), "its pyramid level 2 is not one of this run's 1"),
    (lambda d: d["state"].update(x=torch.zeros(1, 3, 10, 10), grad=None, s=[], y=[], rho=[]),
     "its image is (1, 3, 10, 10), not this level's (1, 3, 24, 32)"),
    (lambda d: d["state"].update(grad=torch.zeros(7)), "its gradient is not a float32 tensor of shape (2304,)"),
    (lambda d: d["state"].pop("x"), "its image x is not a (1, 3, H, W) image"),
    (lambda d: d.update(state=[1, 2]), "its optimizer state is not an L-BFGS or Adam state"),
    (_nan_pixel, "its image x has values that are not finite"),
    (lambda d: d["state"].update(x=d["state"]["x"] * 1000), "outside [-0.255, 255.255]"),
    (lambda d: d.update(step="1"), "its step is not an integer"),
    (lambda d: d.update(history=[]), "its loss history does not have one loss per step (1)"),
    (lambda d: d["state"].update(s=[torch.zeros(2304)], y=[torch.zeros(2304)], rho=[-1.0]),
     "rho values are not positive"),
    (lambda d: d["state"].update(aux=["a", 1, 2, 3]), "an item of its losses is not a finite number"),
])
def test_a_crafted_checkpoint_is_refused_before_it_is_used(tmp_path: Path, small_images, capsys, damage,
                                                           message: str) -> None:
    out = tmp_path / "x.png"
    store = checkpoint_after_one_step(small_images, out)
    data = torch.load(store.path, weights_only=True)
    damage(data)
    torch.save(data, store.path)
    code = main(["run", str(small_images[0]), str(small_images[1]), "-o", str(out), *CRAFTED])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err and not out.exists()


def test_an_intact_checkpoint_of_the_same_run_resumes(tmp_path: Path, small_images, capsys) -> None:
    out = tmp_path / "x.png"
    store = checkpoint_after_one_step(small_images, out)
    assert main(["run", str(small_images[0]), str(small_images[1]), "-o", str(out), *CRAFTED]) == 0, \
        capsys.readouterr().err
    assert Image.open(out).size == (32, 24) and not store.path.exists()


def test_an_adam_checkpoint_is_checked_too(tmp_path: Path, small_images) -> None:
    from stylo.checkpoint import Checkpoint
    from stylo.errors import StyloError

    content, style = Image.open(small_images[0]), Image.open(small_images[1])
    store = CheckpointFile(tmp_path / "a.ckpt", 0)
    stops = iter([False, True])
    stylize_result(content, style, Settings(size=32, steps=2, scales=1, seed=0, optimizer="adam"),
                   Hooks(should_stop=lambda: next(stops), checkpoint=store))
    data = torch.load(store.path, weights_only=True)
    assert Checkpoint.from_dict(data).state["kind"] == "adam"  # what stylo writes passes
    data["state"]["adam"]["param_groups"][0]["betas"] = "xy"
    with pytest.raises(StyloError, match="its Adam betas are not two numbers"):
        Checkpoint.from_dict(data)
    data = torch.load(store.path, weights_only=True)
    data["state"]["adam"]["state"][0]["exp_avg_sq"] *= -1
    with pytest.raises(StyloError, match="its Adam second moment has values that are not finite or outside"):
        Checkpoint.from_dict(data)
