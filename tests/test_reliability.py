"""What a hostile or careless user found (issue: reliability): each case fails without its fix."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
import torch
from PIL import Image, PngImagePlugin

from stylo import render as render_module
from stylo.budget import max_side
from stylo.cli import main
from stylo.config import Settings
from stylo.errors import RunError, StyloError
from stylo.image import read_manifest
from stylo.optimize import stylize

from .conftest import FAST, SAMPLES

TINY = ["--size", "32", "--steps", "1", "--scales", "1", "--seed", "0", "--quiet"]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_output_that_is_the_content_is_refused_and_the_photo_kept(tmp_path: Path, small_images, capsys) -> None:
    photo = tmp_path / "x.png"
    photo.write_bytes(small_images[0].read_bytes())
    before = photo.read_bytes()
    for spelled in (str(photo), str(tmp_path / "." / "x.png")):
        code, err = cli(capsys, "run", str(photo), str(small_images[1]), "-o", spelled, *TINY)
        assert code == 2 and "is one of the inputs" in err and err.count("\n") == 1
    link = tmp_path / "link.png"
    link.symlink_to(photo)
    assert cli(capsys, "run", str(photo), str(small_images[1]), "-o", str(link), *TINY)[0] == 2
    code, err = cli(capsys, "run", str(small_images[0]), str(photo), "-o", str(photo), *TINY)  # the style
    assert code == 2 and "is one of the inputs" in err
    assert photo.read_bytes() == before


def test_batch_into_its_own_folder_is_refused_and_the_photos_kept(tmp_path: Path, small_images, capsys) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.png").write_bytes(small_images[0].read_bytes())
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    for out in (folder, tmp_path / "photos" / ".", tmp_path / "photos" / ".." / "photos"):
        code, err = cli(capsys, "run", str(folder), str(small_images[1]), "-o", str(out), *TINY)
        assert code == 2 and "output folder is the input folder" in err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_batch_names_are_unique_when_stems_collide(tmp_path: Path, small_images, capsys) -> None:
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    Image.open(small_images[0]).save(folder / "pic.jpg")
    Image.open(small_images[1]).save(folder / "pic.png")
    Image.open(small_images[0]).save(folder / "other.png")
    code, err = cli(capsys, "run", str(folder), str(small_images[1]), "-o", str(out), *TINY)
    assert code == 0, err
    written = sorted(p.name for p in out.glob("*.png"))
    assert written == ["other.png", "pic_jpg.png", "pic_png.png"]
    # each is its own photo's result: the two pics differ
    assert (out / "pic_jpg.png").read_bytes() != (out / "pic_png.png").read_bytes()


@pytest.mark.parametrize("flags", [["--size", "64"], ["--size", "64", "--style-scale", "0.05"],
                                   ["--size", "64", "--style-size", "16"]])
def test_style_images_that_shrink_below_the_network_still_run(tmp_path: Path, small_images, capsys,
                                                              flags: list[str]) -> None:
    out = tmp_path / "o.png"
    code, err = cli(capsys, "run", str(small_images[0]), str(SAMPLES / "starry_night.jpg"), "-o", str(out),
                    "--steps", "1", "--coarse-steps", "1", "--seed", "0", "--quiet", *flags)
    assert code == 0, err
    assert Image.open(out).size == (64, 48)


def test_a_thin_style_image_runs_on_every_level(small_images) -> None:
    thin = Image.new("RGB", (400, 18), (200, 50, 20))
    out = stylize(Image.open(small_images[0]), thin, Settings(size=64, steps=1, coarse_steps=1, seed=0))
    assert out.size == (64, 48)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--size", "1000000"], "--size must be between 16 and 16384"),
        (["--size", "10000000", "--max-memory", "100000T"], "--size must be between 16 and 16384"),  # absolute
        (["--size", "16000", "--max-memory", "4G"], "--size 16000 needs more memory than --max-memory allows"),
        (["--size", "2400", "--max-memory", "2G"], f"at most {max_side(2 * 1024**3)} px"),  # 2400×1800 px, tiled
        (["--style-size", "100000"], "--style-size must be between 16 and 16384"),
        (["--style-size", "16000", "--max-memory", "4G"], "--style-size 16000 needs more memory"),
        (["--style-scale", "20", "--size", "2000"], "--style-scale makes the style image"),
        (["--scales", "2000"], "--scales must be between 1 and 8"),
        (["--lr", "1e300", "--optimizer", "adam"], "--lr must be between 0 and 1000"),
        (["--max-memory", "lots"], "--max-memory must be a size like 8G"),
        (["--max-memory", "10M"], "--max-memory must be at least 1G"),
        (["--steps", "10000000"], "--steps must be between 1 and 100000"),
        (["--style-weight", "1e300"], "--style-weight must be between 0 and"),
    ],
)
def test_unbounded_numbers_are_refused_before_any_compute(tmp_path: Path, small_images, capsys,
                                                          flags: list[str], message: str) -> None:
    out = tmp_path / "o.png"
    code, err = cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(out), *flags)
    assert code == 2 and message in err, err
    assert err.count("\n") == 1 and not out.exists()


@pytest.mark.parametrize(
    ("toml", "message"),
    [("weights = 5", "weights must be a text"), ("seed = true", "seed must be an integer"),
     ('content_layers = [["relu4_2"]]', "content_layers must be a list of layer names"),
     ("style_blend = {a = 1}", "style_blend must be a number"), ("size = 1.5", "size must be an integer"),
     ('model = ["vgg19"]', "unknown model")],
)
def test_mistyped_settings_files_exit_2(tmp_path: Path, small_images, capsys, toml: str, message: str) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text(toml + "\n")
    code, err = cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "o.png"),
                    "--config", str(cfg))
    assert code == 2 and f"in {cfg}: {message}" in err, err  # the file and its key, not a flag not typed
    assert err.count("\n") == 1


def test_config_from_a_png_with_nested_lists_exits_2(tmp_path: Path, small_images, capsys) -> None:
    forged = tmp_path / "forged.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("stylo", json.dumps({"settings": {"style_layers": [["relu1_1"], ["relu2_1"]]}}))
    Image.new("RGB", (32, 32)).save(forged, pnginfo=info)
    code, err = cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "o.png"),
                    "--config-from", str(forged))
    assert code == 2 and f"in {forged}: style_layers must be a list of layer names" in err


def test_a_failed_save_keeps_the_image_and_names_where(tmp_path: Path, small_images, capsys, monkeypatch) -> None:
    out = tmp_path / "o.png"
    out.write_bytes(b"an earlier result")
    real = render_module.save_png

    def disk_full(img, path, manifest=None):
        if Path(path) == out:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(img, path, manifest)

    monkeypatch.setattr(render_module, "save_png", disk_full)
    code, err = cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(out), *TINY)
    assert code == 1 and "No space left on device" in err and err.count("\n") == 1
    rescued = Path(err.split("saved to ")[1].strip())
    try:
        assert read_manifest(rescued)["settings"]["size"] == 32 and Image.open(rescued).size == (32, 24)
    finally:
        rescued.unlink()
    assert out.read_bytes() == b"an earlier result"  # the failed run clobbered nothing


def test_save_problems_known_in_advance_exit_2_before_compute(tmp_path: Path, small_images, capsys) -> None:
    too_long = tmp_path / ("n" * 300 + ".png")
    code, err = cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(too_long))
    assert code == 2 and "output name is too long" in err
    long_ok = tmp_path / ("n" * 240 + ".png")  # fits, though its temporary file would not at full length
    assert cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(long_ok), *TINY)[0] == 0
    (tmp_path / "o_frames").write_text("a file in the way")
    code, err = cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "o.png"),
                    "--save-every", "1", *TINY)
    assert code == 2 and "o_frames exists and is not a folder" in err and not (tmp_path / "o.png").exists()


def test_divergence_is_a_runtime_failure_exit_1(small_images, monkeypatch, tmp_path: Path, capsys) -> None:
    import dataclasses

    from stylo import objective

    real = objective.Objective.__call__
    monkeypatch.setattr(objective.Objective, "__call__",
                        lambda self, x: dataclasses.replace(real(self, x), total=real(self, x).total * float("nan")))
    code, err = cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "o.png"), *TINY)
    assert code == 1 and "diverged" in err and "--lr" in err


def test_executor_flags_for_a_single_image_are_refused(small_images, tmp_path: Path, capsys) -> None:
    for flags in (["--ray-address", "10.0.0.1:6379"], ["--executor", "ray"], ["--workers", "2"]):
        code, err = cli(capsys, "run", str(small_images[0]), str(small_images[1]), "-o", str(tmp_path / "o.png"),
                        *flags, *FAST)
        assert code == 2 and "a single image runs here" in err


def test_the_api_takes_a_mapping_and_refuses_other_settings(small_images) -> None:
    content, style = Image.open(small_images[0]), Image.open(small_images[1])
    out = stylize(content, style, {"size": 32, "steps": 1, "scales": 1, "seed": 0})
    assert out.size == (32, 24)
    with pytest.raises(StyloError, match="settings must be a stylo.Settings or a mapping"):
        stylize(content, style, 5)  # type: ignore[arg-type]
    with pytest.raises(StyloError, match="unknown setting 'sise'"):
        stylize(content, style, {"sise": 32})


@pytest.mark.parametrize(
    ("tensor", "message"),
    [(torch.full((3, 32, 32), 200, dtype=torch.uint8), "must be float RGB in \\[0, 1\\], got uint8"),
     (torch.full((3, 32, 32), 200.0), "values range from 200 to 200; expected RGB in \\[0, 1\\] \\(divide"),
     (torch.full((3, 32, 32), -0.5), "values range from -0.5"),
     (torch.empty(3, 0, 5), "empty")],
)
def test_tensors_outside_zero_one_are_refused_not_clamped(small_images, tensor: torch.Tensor, message: str) -> None:
    with pytest.raises(StyloError, match=message):
        stylize(tensor, Image.open(small_images[1]), Settings(size=32, steps=1, scales=1))


def test_run_error_is_a_stylo_error_with_exit_1() -> None:
    assert issubclass(RunError, StyloError) and RunError("x").exit_code == 1 and StyloError("x").exit_code == 2
