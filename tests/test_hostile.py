"""Issue 21, section 2: what a hostile user found in the CLI, settings, batch, sweep and checkpoints. Each case
is bad input (exit 2 and one line, before any compute, nothing changed) or an interruption (exit 130 and one
line, the work so far in place); each test fails without its fix."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from stylo.cli import build_parser, main, settings_from_args
from stylo.experiments import sweep

from .test_reliability import TINY
from .test_reliability import cli as run_cli


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """``stylo ARGV`` in this process: its exit status and stderr, which must be one line and no traceback."""
    code, err = run_cli(capsys, *argv)
    assert err.count("\n") == 1, err
    return code, err


def png_with(path: Path, manifest: object, zip: bool = False) -> Path:
    info = PngImagePlugin.PngInfo()
    info.add_text("stylo", manifest if isinstance(manifest, str) else json.dumps(manifest), zip=zip)
    Image.new("RGB", (32, 32)).save(path, pnginfo=info)
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# 1. A sweep's outputs must not replace its inputs.
@pytest.mark.parametrize("name", ["sheet.png", "results.csv"])
def test_a_sweep_refuses_an_input_named_like_its_output(tmp_path: Path, small_images, capsys, name: str) -> None:
    out = tmp_path / "dir"
    out.mkdir()
    content = out / name
    content.write_bytes(small_images[0].read_bytes())
    code, err = cli(capsys, "sweep", str(content), str(small_images[1]), "-o", str(out), "--vary", "steps=2", *TINY)
    assert code == 2 and f"{out / name} is the input {content}: it would be replaced" in err
    assert snapshot(out) == {name: small_images[0].read_bytes()}  # nothing written, the photo kept


# 5. A batch must not replace an input that is a symlink into its output folder.
def test_a_batch_refuses_an_output_that_a_symlinked_input_points_to(tmp_path: Path, small_images, capsys) -> None:
    bin_, bout = tmp_path / "bin", tmp_path / "bout"
    bin_.mkdir()
    bout.mkdir()
    (bout / "a.png").write_bytes(small_images[0].read_bytes())
    (bin_ / "a.png").symlink_to(Path("..") / "bout" / "a.png")
    code, err = cli(capsys, "run", str(bin_), str(small_images[1]), "-o", str(bout), *TINY)
    assert code == 2 and "bout/a.png is the input" in err
    assert snapshot(bout) == {"a.png": small_images[0].read_bytes()}


# 7. --config-from takes the picture's settings, not the machine's; --size has an absolute bound.
def test_config_from_takes_no_machine_settings(tmp_path: Path, small_images) -> None:
    png = png_with(tmp_path / "made.png", {"settings": {
        "style_weight": 123.0, "steps": 2, "max_memory": "100000T", "device": "cuda", "precision": "fp16",
        "tile": 64}})
    args = build_parser().parse_args(["run", str(small_images[0]), str(small_images[1]), "-o",
                                      str(tmp_path / "o.png"), "--config-from", str(png), "--tile", "128"])
    s = settings_from_args(args)
    assert (s.style_weight, s.steps) == (123.0, 2)  # the artistic settings are repeated
    assert (s.max_memory, s.device, s.precision, s.tile) == (None, "auto", "auto", 128)  # the machine's: not


@pytest.mark.parametrize(("manifest", "message"), [
    ({"size": 60000, "max_memory": "100T"}, "in {png}: size must be between 16 and 16384, got 60000"),
    ({"weights": "/etc/passwd"}, "{png} was made with a weights file; a PNG does not choose a file to open"),
    ({"model": "vgg16", "content_layers": ["relu4_2"]}, "{png} was made with model 'vgg16'"),
    ({"steps": "many"}, "in {png}: steps must be an integer, got 'many'"),  # the file and the key, not --steps
])
def test_config_from_a_crafted_png_exits_2(tmp_path: Path, small_images, capsys, manifest: dict, message: str
                                           ) -> None:
    png = png_with(tmp_path / "made.png", {"settings": manifest})
    code, err = cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "o.png"),
                    "--config-from", str(png))
    assert code == 2 and message.format(png=png) in err, err
    assert not (tmp_path / "o.png").exists()


def test_a_png_model_is_used_when_the_command_line_names_it(tmp_path: Path, small_images) -> None:
    png = png_with(tmp_path / "made.png", {"settings": {"model": "vgg16", "style_weight": 7.0}})
    args = build_parser().parse_args(["run", "c.png", "s.png", "-o", "o.png", "--config-from", str(png),
                                      "--model", "vgg16"])
    assert settings_from_args(args).model == "vgg16" and settings_from_args(args).style_weight == 7.0


# 11, 13, 15, smaller messages: only regular files are opened; settings files are bounded.
@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A FIFO; should anything open it for reading, a writer unblocks it after 5 s (the test then fails on time
    instead of hanging)."""
    path = tmp_path / "pipe.png"
    os.mkfifo(path)
    done = threading.Event()

    def unblock() -> None:
        if not done.wait(5):
            with open(path, "wb") as fh:
                fh.write(b"steps = 1\n")

    thread = threading.Thread(target=unblock, daemon=True)
    thread.start()
    yield path
    done.set()
    thread.join()


@pytest.mark.parametrize("where", ["content", "style", "mask", "config", "eval", "sweep", "config-from"])
def test_a_fifo_input_is_refused_at_once(tmp_path: Path, small_images, capsys, fifo: Path, where: str) -> None:
    content, style, out = str(small_images[0]), str(small_images[1]), str(tmp_path / "o.png")
    argv = {
        "content": ["run", str(fifo), style, "-o", out, *TINY],
        "style": ["run", content, str(fifo), "-o", out, *TINY],
        "mask": ["run", content, style, "-o", out, "--masks", str(fifo), *TINY],
        "config": ["run", content, style, "-o", out, "--config", str(fifo), *TINY],
        "config-from": ["run", content, style, "-o", out, "--config-from", str(fifo), *TINY],
        "eval": ["eval", content, style, str(fifo)],
        "sweep": ["sweep", content, style, "-o", str(tmp_path / "s"), "--sweep", str(fifo), *TINY],
    }[where]
    start = time.monotonic()
    code, err = cli(capsys, *argv)
    assert code == 2 and "is not a regular file" in err and time.monotonic() - start < 4, err
    assert not Path(out).exists()


@pytest.mark.parametrize("flag", ["--config", "--sweep", "--weights", "--config-from"])
def test_a_device_as_a_settings_file_is_refused(tmp_path: Path, small_images, capsys, flag: str) -> None:
    command = "sweep" if flag == "--sweep" else "run"
    code, err = cli(capsys, command, str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "o"),
                    flag, "/dev/zero", *TINY)
    assert code == 2 and "/dev/zero" in err and "is not a regular file" in err, err


def test_a_settings_file_is_bounded(tmp_path: Path, small_images, capsys) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"# padding\n" * 200_000)  # 2 MB
    code, err = cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "o.png"),
                    "--config", str(big))
    assert code == 2 and "config file is too large: 2000000 bytes" in err


@pytest.mark.parametrize("which", [0, 1])
def test_a_symlink_loop_input_is_one_line(tmp_path: Path, small_images, capsys, which: int) -> None:
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    inputs = [str(small_images[0]), str(small_images[1])]
    inputs[which] = str(loop)
    code, err = cli(capsys, "run", *inputs, "-o", str(tmp_path / "o.png"), *TINY)
    assert code == 2 and "is a symlink loop" in err


def test_smaller_messages_say_what_is_wrong(tmp_path: Path, small_images, capsys) -> None:
    content, style, out = str(small_images[0]), str(small_images[1]), str(tmp_path / "o.png")
    code, err = cli(capsys, "run", content, style, "-o", out, "--config-from", str(tmp_path))
    assert code == 2 and "is a directory, not a file" in err
    huge = png_with(tmp_path / "huge.png", "x" * 50_000_000, zip=True)
    code, err = cli(capsys, "run", content, style, "-o", out, "--config-from", str(huge))
    assert code == 2 and "has a text chunk too large to read" in err
    plain = png_with(tmp_path / "plain.png", "x" * 5_000_000)
    code, err = cli(capsys, "run", content, style, "-o", out, "--config-from", str(plain))
    assert code == 2 and "stylo text chunk too large to be a manifest" in err
    bom = tmp_path / "bom.toml"
    bom.write_bytes("\ufeffsteps = 2\n".encode())
    args = build_parser().parse_args(["run", content, style, "-o", out, "--config", str(bom)])
    assert settings_from_args(args).steps == 2  # a UTF-8 byte-order mark is accepted


# 14. The grid is capped, each file hashed once, and the sweep says what it is about to do.
def test_a_huge_grid_is_refused_before_anything(tmp_path: Path, small_images, capsys) -> None:
    seeds = ",".join(map(str, range(1, 3001)))
    start = time.monotonic()
    code, err = cli(capsys, "sweep", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "s"),
                    "--vary", f"seed={seeds}", "--vary", f"steps={','.join(map(str, range(1, 3001)))}")
    assert code == 2 and "the sweep has 9000000 cells (3000 × 3000 values); at most 1000" in err
    assert time.monotonic() - start < 5 and not (tmp_path / "s").exists()


def test_each_input_is_hashed_once(small_images, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = sweep.file_digest
    monkeypatch.setattr(sweep, "file_digest", lambda path: calls.append(str(path)) or real(path))
    from stylo.config import Settings

    cells = sweep.expand(Settings(size=32), {"seed": list(range(20)), "steps": [1, 2, 3]},
                         [(str(small_images[0]), [str(small_images[1])])])
    assert len(cells) == 60 and len({c.key for c in cells}) == 60
    assert sorted(calls) == sorted(map(str, small_images))


def test_a_sweep_announces_its_cells_before_computing(tmp_path: Path, small_images, capsys) -> None:
    out = tmp_path / "s"
    assert main(["sweep", str(small_images[0]), str(small_images[1]), "-o", str(out), "--vary", "seed=1,2",
                 "--size", "32", "--steps", "1", "--scales", "1"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"stylo: 2 cells into {out}" and lines[1].startswith("cell 1/2 seed=1: ok in")


# 16. Deep nesting and huge integers are one line.
@pytest.mark.parametrize("toml", ["a = " + "[" * 5000 + "]" * 5000, "steps = " + "9" * 5000,
                                  "steps = [" + "[" * 20 + "]" * 20 + "]", "\ufeffsteps = =\n"])
def test_deep_or_huge_toml_is_one_line(tmp_path: Path, small_images, capsys, toml: str) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text(toml, encoding="utf-8")
    code, err = cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "o.png"),
                    "--config", str(cfg))
    assert code == 2 and str(cfg) in err and len(err) < 400, err


@pytest.mark.parametrize("manifest", [
    '{"settings": {"style_layers": ' + "[" * 5000 + "]" * 5000 + "}}",
    '{"settings": {"seed": ' + "9" * 5000 + "}}",
    '{"settings": {"style_weight": ' + "9" * 4000 + "}}",
    '{"settings": {"style_layers": ' + "[" * 30 + "]" * 30 + "}}",
])
def test_deep_or_huge_manifests_are_one_line(tmp_path: Path, small_images, capsys, manifest: str) -> None:
    png = png_with(tmp_path / "made.png", manifest)
    code, err = cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "o.png"),
                    "--config-from", str(png))
    assert code == 2 and str(png) in err and len(err) < 400, err


def test_a_huge_number_flag_is_one_short_line(tmp_path: Path, small_images, capsys) -> None:
    code, err = cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "o.png"),
                    "--seed", "9" * 5000)
    assert code == 2 and "bad value '999" in err and len(err) < 200


# 17. Zero ratio, an output folder that is a file.
def test_vary_ratio_zero_and_a_file_as_the_sweep_folder(tmp_path: Path, small_images, capsys) -> None:
    content, style = str(small_images[0]), str(small_images[1])
    code, err = cli(capsys, "sweep", content, style, "-o", str(tmp_path / "s"), "--vary", "ratio=1e-2,0", *TINY)
    assert code == 2 and "ratio (α/β) must be a number > 0, got '0'" in err
    taken = tmp_path / "taken"
    taken.write_text("keep")
    code, err = cli(capsys, "sweep", content, style, "-o", str(taken), "--vary", "steps=1", *TINY)
    assert code == 2 and "exists and is not a folder" in err and taken.read_text() == "keep"
    code, err = cli(capsys, "run", str(small_images[0].parent), style, "-o", str(taken), *TINY)  # a batch too
    assert code == 2 and "exists and is not a folder" in err and taken.read_text() == "keep"


# 19. A checkpoint path that is a directory is refused before any compute.
def test_a_checkpoint_path_that_is_a_directory(tmp_path: Path, small_images, capsys) -> None:
    (tmp_path / "o.png.ckpt").mkdir()
    code, err = cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "o.png"), *TINY)
    assert code == 2 and "o.png.ckpt is a directory" in err and not (tmp_path / "o.png").exists()
    code, err = cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "o.png"),
                    "--resume", *TINY)
    assert code == 2 and "checkpoint is a directory" in err


# 23. Control characters in a file name stay on one line.
def test_a_newline_in_a_file_name_is_escaped(tmp_path: Path, small_images, capsys) -> None:
    odd = tmp_path / "two\nlines.png"
    code, err = cli(capsys, "run", str(odd), str(small_images[1]), "-o", str(tmp_path / "o.png"), *TINY)
    assert code == 2 and "two\\nlines.png" in err
    bad = tmp_path / "x\n.toml"
    bad.write_text("steps = 0\n")
    code, err = cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "o.png"),
                    "--config", str(bad))
    assert code == 2 and "x\\n.toml" in err
    code, err = cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "o\n.jpg"))
    assert code == 2 and "o\\n.jpg" in err


# 12, 21. SIGTERM: at once before the steps, 130 and one line everywhere, finished work in place.
def stylo(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "stylo", *argv], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"})


def wait_for(proc: subprocess.Popen[str], ready: object, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not ready() and proc.poll() is None and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


def terminate(proc: subprocess.Popen[str]) -> tuple[float, str]:
    """SIGTERM; (seconds until it exited, its stderr)."""
    assert proc.poll() is None, "it ended before the signal"
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return time.monotonic() - start, err


def test_sigterm_before_the_steps_stops_at_once(tmp_path: Path, small_images) -> None:
    out = tmp_path / "o.png"
    proc = stylo("run", str(small_images[0]), str(small_images[1]), "-o", str(out), "--size", "512",
                 "--save-every", "1", "--quiet")
    frames = tmp_path / "o_frames"
    wait_for(proc, frames.is_dir)  # made while checking the job: next come the network, the targets, the steps
    seconds, err = terminate(proc)
    assert proc.returncode == 130 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "interrupted before a step finished" in err and seconds < 10
    assert not out.exists() and not any(frames.iterdir())  # no step ran


def test_sigterm_in_a_sweep_keeps_the_finished_cells(tmp_path: Path, small_images) -> None:
    out = tmp_path / "s"
    proc = stylo("sweep", str(small_images[0]), str(small_images[1]), "-o", str(out), "--size", "32", "--scales",
                 "1", "--vary", "steps=1,100000", "--quiet")
    wait_for(proc, lambda: any((out / "cells").glob("*.json")))
    seconds, err = terminate(proc)
    assert proc.returncode == 130 and err.count("\n") == 1 and seconds < 10, err
    assert f"interrupted; 1 of 2 cells finished and are in {out}" in err
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 2 and ",ok," in rows[1]  # the header and the finished cell
    assert len(list((out / "cells").glob("*.png"))) == 1


def test_sigterm_in_a_batch_keeps_each_finished_output(tmp_path: Path, small_images) -> None:
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    Image.open(small_images[0]).save(folder / "a.png")
    Image.open(small_images[1]).save(folder / "b.png")
    proc = stylo("run", str(folder), str(small_images[1]), "-o", str(out), "--size", "32", "--scales", "1",
                 "--steps", "60", "--quiet")
    wait_for(proc, (out / "a.png").is_file)  # in place as soon as its cell finished
    seconds, err = terminate(proc)
    assert proc.returncode == 130 and err.count("\n") == 1 and seconds < 10, err
    assert f"interrupted; 1 of 2 images finished and are in {out}" in err
    assert Image.open(out / "a.png").size[0] == 32 and not (out / "b.png").exists()


def test_every_message_is_escaped_onto_one_line(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    from stylo import cli as cli_module
    from stylo.errors import StyloError

    def fail(args: object) -> int:
        raise StyloError("a name with\na newline and \x1b[2J a terminal escape")

    monkeypatch.setattr(cli_module, "cmd_layers", fail)
    code, err = cli(capsys, "layers")
    assert code == 2 and "a name with\\na newline and \\x1b[2J a terminal escape" in err
