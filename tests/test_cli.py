from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from stylo.cli import main
from stylo.image import read_manifest

from .conftest import FAST


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_run_writes_png_with_manifest(tmp_path: Path, small_images, capsys) -> None:
    content, style = small_images
    out = tmp_path / "out.png"
    code, err = run(capsys, "run", str(content), str(style), "-o", str(out), *FAST)
    assert code == 0 and err == ""
    assert Image.open(out).size == (64, 48)
    manifest = read_manifest(out)
    assert manifest["settings"]["seed"] == 1 and manifest["settings"]["steps"] == 3
    assert manifest["stylo_version"] and manifest["content"] == content.name and manifest["steps_done"] == 3
    assert math.isfinite(manifest["loss"])


def test_every_setting_flag_reaches_the_manifest(tmp_path: Path, small_images, capsys) -> None:
    content, style = small_images
    out = tmp_path / "all.png"
    flags = [
        "--size", "48", "--steps", "2", "--coarse-steps", "1", "--scales", "2", "--coarsest", "16", "--seed", "5",
        "--content-weight", "2", "--style-weight", "300", "--tv-weight", "0.5", "--optimizer", "adam",
        "--lr", "0.03", "--model", "vgg19", "--pooling", "avg", "--normalization", "paper",
        "--content-layers", "relu3_2", "relu4_2", "--content-layer-weights", "1", "0.5",
        "--style-layers", "relu1_1", "relu2_1", "--style-layer-weights", "0.25", "0.75",
        "--init", "noise", "--style-size", "40", "--resample", "bicubic", "--device", "cpu", "--precision", "fp32",
        "--preserve-color", "histogram", "--style-blend", "1", "--style-scale", "0.8", "--save-every", "2",
        "--temporal-weight", "5", "--max-memory", "4G",
    ]
    code, err = run(capsys, "run", str(content), str(style), "-o", str(out), *flags)
    assert code == 0, err
    s = read_manifest(out)["settings"]
    expected = {
        "size": 48, "steps": 2, "coarse_steps": 1, "scales": 2, "seed": 5, "content_weight": 2.0,
        "style_weight": 300.0, "tv_weight": 0.5, "optimizer": "adam", "lr": 0.03, "model": "vgg19",
        "pooling": "avg", "normalization": "paper", "content_layers": ["relu3_2", "relu4_2"],
        "content_layer_weights": [1.0, 0.5], "style_layers": ["relu1_1", "relu2_1"],
        "style_layer_weights": [0.25, 0.75], "init": "noise", "style_size": 40, "resample": "bicubic",
        "device": "cpu", "precision": "fp32", "preserve_color": "histogram", "style_blend": [1.0],
        "style_scale": [0.8], "coarsest": 16, "temporal_weight": 5.0, "max_memory": "4G",
    }
    assert {k: s[k] for k in expected} == expected
    frames = sorted(p.name for p in (tmp_path / "all_frames").iterdir())
    assert frames == ["step00002.png"]  # 1 coarse step + 2 full-size steps: step 2 is saved
    assert "step 3/3" in err and "elapsed" in err and "wrote" in err


def test_two_styles_blend_masks_and_luminance(tmp_path: Path, small_images, capsys) -> None:
    content, style = small_images
    mask = tmp_path / "mask.png"
    Image.new("L", (96, 72), 255).save(mask)
    out = tmp_path / "m.png"
    code, err = run(capsys, "run", str(content), str(style), str(content), "-o", str(out), *FAST,
                    "--style-blend", "3,7", "--style-scale", "1,0.5", "--masks", str(mask),
                    "--preserve-color", "luminance")
    assert code == 0, err
    manifest = read_manifest(out)
    assert manifest["settings"]["style_blend"] == [3.0, 7.0] and manifest["masks"] == ["mask.png"]
    assert manifest["settings"]["preserve_color"] == "luminance" and manifest["styles"] == [style.name, content.name]
    with pytest.raises(SystemExit) as exc:
        main(["run", str(content), str(style), "-o", str(out), *FAST, "--style-blend", "3,x"])
    assert exc.value.code == 2 and "bad value '3,x' for style_blend" in capsys.readouterr().err


def test_config_file_and_flags_override_it(tmp_path: Path, small_images, capsys) -> None:
    content, style = small_images
    cfg = tmp_path / "s.toml"
    cfg.write_text("steps = 2\nstyle_weight = 50.0\nsize = 32\n")
    out = tmp_path / "c.png"
    code, _ = run(capsys, "run", str(content), str(style), "-o", str(out), "--config", str(cfg), "--size", "48",
                  "--scales", "1", "--quiet")
    assert code == 0
    s = read_manifest(out)["settings"]
    assert (s["steps"], s["style_weight"], s["size"]) == (2, 50.0, 48)


def test_config_from_png_repeats_the_run(tmp_path: Path, small_images, capsys) -> None:
    content, style = small_images
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    assert run(capsys, "run", str(content), str(style), "-o", str(first), *FAST, "--precision", "fp32")[0] == 0
    assert run(capsys, "run", str(content), str(style), "-o", str(second), "--config-from", str(first),
               "--precision", "fp32", "--quiet")[0] == 0  # the machine's settings are not taken from a PNG
    assert read_manifest(second)["settings"] == read_manifest(first)["settings"]
    assert Image.open(first).tobytes() == Image.open(second).tobytes()


def test_layers_command(capsys) -> None:
    assert main(["layers"]) == 0
    out = capsys.readouterr().out
    assert "relu4_2" in out and "conv5_4" in out and "pool5" in out
    assert main(["layers", "--model", "vgg11"]) == 0
    assert "conv5_4" not in capsys.readouterr().out


def bad_files(tmp: Path) -> dict[str, Path]:
    text = tmp / "text.jpg"
    text.write_text("hello")
    full = tmp / "full.jpg"
    Image.new("RGB", (64, 64), (9, 9, 9)).save(full)
    cut = tmp / "cut.jpg"
    cut.write_bytes(full.read_bytes()[:200])
    bomb = tmp / "bomb.png"
    Image.new("1", (9000, 8000)).save(bomb)
    tiny = tmp / "tiny.png"
    Image.new("RGB", (1, 1)).save(tiny)
    return {"missing": tmp / "missing.jpg", "directory": tmp, "text": text, "truncated": cut, "bomb": bomb,
            "tiny": tiny}


@pytest.mark.parametrize(
    ("kind", "message"),
    [("missing", "not found"), ("directory", "is a directory"), ("text", "not a readable image"),
     ("truncated", "truncated or corrupt"), ("bomb", "too large"), ("tiny", "too small: 1x1")],
)
def test_bad_content_files_exit_2_with_one_line(tmp_path: Path, small_images, capsys, kind: str, message: str
                                                ) -> None:
    out = tmp_path / "keep.png"
    out.write_bytes(b"existing result")
    bad = str(bad_files(tmp_path)[kind])
    inputs = [str(small_images[0]), bad] if kind == "directory" else [bad, str(small_images[1])]  # a content
    code, err = run(capsys, "run", *inputs, "-o", str(out), *FAST)  # folder is a batch run; a style folder is bad
    assert code == 2 and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert out.read_bytes() == b"existing result"  # nothing lost


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--content-layers", "relu9_1"], "unknown content layer 'relu9_1'"),
        (["--style-layers", "bogus"], "unknown style layer 'bogus'"),
        (["--style-weight", "-1"], "--style-weight must be between 0 and"),
        (["--content-weight", "nan"], "--content-weight must be a finite number"),
        (["--steps", "0"], "--steps must be between 1 and"),
        (["--steps", "-3"], "--steps must be between 1 and"),
        (["--model", "vgg99"], "invalid choice: 'vgg99'"),
        (["--weights", "/nonexistent/w.pth", "--model", "vgg16"], "weights file not found"),
        (["--style-layer-weights", "1", "2"], "2 --style-layer-weights given for 5 --style-layers"),
        (["--optimizer", "sgd"], "invalid choice"),
        (["--steps", "many"], "bad value 'many' for steps"),
        (["--save-every", "0"], "--save-every must be >= 1"),
        (["--config", "/nonexistent.toml"], "config file not found"),
        (["--style-blend", "1,2"], "2 --style-blend weights given for 1 style"),
        (["--style-scale", "0"], "--style-scale must be between"),
        (["--masks", "/nonexistent.png"], "mask not found"),
        (["--preserve-color", "sepia"], "invalid choice"),
    ],
)
def test_bad_settings_exit_2(tmp_path: Path, small_images, capsys, flags: list[str], message: str) -> None:
    content, style = small_images
    try:
        code = main(["run", str(content), str(style), "-o", str(tmp_path / "x.png"), "--size", "32", "--quiet",
                     *flags])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_unreadable_weights_file(tmp_path: Path, small_images, capsys) -> None:
    junk = tmp_path / "w.pth"
    junk.write_bytes(b"\x00garbage")
    code, err = run(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "x.png"),
                    "--model", "vgg16", "--weights", str(junk), *FAST)
    assert code == 2 and "cannot read weights file" in err


def test_unwritable_output_is_reported_before_compute(tmp_path: Path, small_images, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, err = run(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(blocker / "x.png"), *FAST)
    assert code == 2 and "cannot write output" in err
    code, err = run(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "x.jpg"), *FAST)
    assert code == 2 and ".png" in err


def test_config_from_a_foreign_png(tmp_path: Path, small_images, capsys) -> None:
    plain = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(plain)
    code, err = run(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "x.png"),
                    "--config-from", str(plain))
    assert code == 2 and "carries no stylo settings" in err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_saves_the_current_image_and_exits_130(tmp_path: Path, small_images, sig: int) -> None:
    out = tmp_path / "int.png"
    cmd = [sys.executable, "-m", "stylo", "run", str(small_images[0]), str(small_images[1]), "-o", str(out),
           "--size", "64", "--scales", "1", "--steps", "100000", "--save-every", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    frames = tmp_path / "int_frames"
    deadline = time.monotonic() + 120
    while not (frames.is_dir() and any(frames.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "saved the current image" in err and "Traceback" not in err
    manifest = read_manifest(out)
    assert manifest["interrupted"] is True and 1 <= manifest["steps_done"] < 100000
    assert Image.open(out).size == (64, 48)


def test_eval_video_names_its_clips() -> None:
    """``stylo eval --video IN_CLIP OUT_CLIP [STYLE]``: the clips have names of their own, with ``--video`` before,
    after or abbreviated as before; ``stylo eval`` of images keeps its positionals."""
    from stylo.cli import build_parser

    parser = build_parser()
    for argv in (["eval", "--video", "in.mp4", "out.mp4", "s.jpg"], ["eval", "in.mp4", "out.mp4", "s.jpg", "--video"],
                 ["eval", "--vid", "in.mp4", "out.mp4", "s.jpg", "--json"]):
        args = parser.parse_args(argv)
        assert (args.video, args.input_clip, args.output_clip, args.style) == (True, "in.mp4", "out.mp4", "s.jpg")
        assert not hasattr(args, "content") and not hasattr(args, "images")
    args = parser.parse_args(["eval", "--video", "in.mp4", "out.mp4"])
    assert args.style is None and args.json is False
    args = parser.parse_args(["eval", "c.png", "s.png", "a.png", "b.png"])
    assert (args.video, args.content, args.style, args.images) == (False, "c.png", "s.png", ["a.png", "b.png"])
    assert not hasattr(args, "input_clip")
    args = parser.parse_args(["eval", "c.png", "s.png", "--", "--video"])  # after --, a file named --video
    assert args.video is False and args.images == ["--video"]


def test_eval_video_usage_errors_name_the_clips(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["eval", "--video", "in.mp4"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "OUT_CLIP" in err, err


def test_run_sweep_and_video_share_one_declaration_of_their_common_flags() -> None:
    """The settings flags, --config, --config-from, --quiet and the executor flags: the same on each command."""
    from stylo.cli import build_parser
    from stylo.config import FIELDS

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    commands = {name: sub.choices[name] for name in ("run", "sweep", "video")}
    shared = ["--config", "--config-from", "--quiet", "--executor", "--workers", "--ray-address",
              *("--" + name.replace("_", "-") for name in FIELDS)]

    def described(parser, flag: str) -> tuple:
        action = parser._option_string_actions[flag]
        kind = getattr(action.type, "__name__", None)
        return action.dest, action.help, action.metavar, action.default, repr(action.choices), action.nargs, kind

    for flag in shared:
        assert len({described(parser, flag) for parser in commands.values()}) == 1, flag
