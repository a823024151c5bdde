"""``stylo video --network``: every frame through a learned network, blended along the optical flow
(stylo.video.painted); the keyed frames folder resumes; what cannot run is refused before anything is read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stylo.cli import main
from stylo.config import Settings

from .conftest import SAMPLES, require

require("av")
require("cv2")

from stylo.video import flow  # noqa: E402
from stylo.video.painted import BLEND, blend_frames  # noqa: E402

FRAMES = 6


@pytest.fixture(scope="module")
def network_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real .stylo.pt file: Magenta's network, two training steps (tiny backbone) for the Starry Night."""
    skimage_data = pytest.importorskip("skimage.data")
    from stylo.backbones import tiny_backbone
    from stylo.learn import LearnSettings, Photo, learn

    photo = Image.fromarray(skimage_data.camera()).convert("RGB").resize((80, 80))
    style = Image.open(SAMPLES / "starry_night.jpg").convert("RGB")
    style.thumbnail((96, 96))
    out = tmp_path_factory.mktemp("network") / "starry.stylo.pt"
    learn([style], out, [Photo("camera", photo)], Settings(size=96), LearnSettings(steps=2, crop=32, lr=1e-3),
          net=tiny_backbone(0), device="cpu")
    return out


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of frames panning across the Tübingen sample, 5 px a frame."""
    src = Image.open(SAMPLES / "tubingen.jpg").convert("RGB")
    folder = tmp_path_factory.mktemp("clip")
    for i in range(FRAMES):
        src.crop((5 * i, 30, 5 * i + 128, 30 + 96)).save(folder / f"{i:05d}.png")
    return folder


def frames_of(folder: Path) -> list[Image.Image]:
    return [Image.open(p).convert("RGB") for p in sorted(folder.glob("[0-9]" * 5 + ".png"))]


def test_blend_frames_mixes_only_where_the_mask_holds() -> None:
    painted = Image.new("RGB", (4, 2), (200, 100, 0))
    warped = Image.new("RGB", (4, 2), (0, 100, 200))
    mask = np.array([[1, 1, 0, 0], [0.5, 0.5, 0, 1]], dtype=np.float32)
    out = np.asarray(blend_frames(painted, warped, mask, 0.5)).astype(int)
    assert out[0, 0].tolist() == [100, 100, 100] and out[1, 3].tolist() == [100, 100, 100]  # half and half
    assert out[0, 2].tolist() == [200, 100, 0]  # outside the mask: the network's picture alone
    assert out[1, 0].tolist() == [150, 100, 50]  # a soft mask: a quarter of the warped frame
    assert (np.asarray(blend_frames(painted, warped, mask, 0.0)) == np.asarray(painted)).all()


def test_the_network_paints_a_clip_and_blending_halves_the_warping_error(network_file, clip, tmp_path, capsys):
    inputs = frames_of(clip)
    errors = {}
    for blend in (0.0, BLEND):
        out = tmp_path / f"blend{blend:g}"
        assert main(["video", str(clip), "--network", str(network_file), "--blend", str(blend), "-o", str(out),
                     "--size", "128", "--quiet"]) == 0
        frames = frames_of(out)
        assert len(frames) == FRAMES and frames[0].size == (128, 96)
        errors[blend] = flow.warping_error(inputs, frames)
        manifest = json.loads(Image.open(out / "00003.png").text["stylo"])
        assert manifest["network"] == "starry.stylo.pt" and manifest["blend"] == blend
        assert manifest["frame"] == 3 and manifest["frames"] == FRAMES
    assert errors[BLEND] <= 0.5 * errors[0.0], errors
    first = [np.asarray(f, dtype=np.float32) for f in (frames_of(tmp_path / "blend0")[0],
                                                       frames_of(tmp_path / f"blend{BLEND:g}")[0])]
    assert np.array_equal(*first)  # the first frame has nothing before it: the network's picture in both


def test_a_video_from_the_network_with_its_manifest_and_a_resume(network_file, clip, tmp_path):
    out = tmp_path / "out.mp4"
    argv = ["video", str(clip), "--network", str(network_file), "-o", str(out), "--size", "96", "--quiet"]
    assert main(argv) == 0
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["frames"] == FRAMES and manifest["network"] == "starry.stylo.pt"
    assert manifest["styles"] == ["style"] and manifest["blend"] == BLEND
    folder = tmp_path / "out_frames"
    before = {p.name: p.read_bytes() for p in folder.glob("*.png")}
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.png")}
    (folder / "00003.png").unlink()  # as a killed run leaves it: frames 3 onwards missing
    (folder / "00004.png").unlink()
    (folder / "00005.png").unlink()
    assert main(argv) == 0
    after = {p.name: p.read_bytes() for p in folder.glob("*.png")}
    assert after == before  # the frames after the gap repeat the uninterrupted run's, bit for bit
    assert all((folder / n).stat().st_mtime_ns == stamps[n] for n in ("00000.png", "00001.png", "00002.png"))


STYLE = str(SAMPLES / "starry_night.jpg")


@pytest.mark.parametrize("styles, flags, message", [
    ([STYLE], [], "drop the STYLE arguments"),
    ([], ["--workers", "2"], "drop --executor and --workers"),
    ([], ["--blend", "1"], "--blend must be in [0, 1)"),
])
def test_what_cannot_run_with_a_network_is_refused(network_file, clip, tmp_path, capsys, styles, flags, message):
    out = tmp_path / "out"
    assert main(["video", str(clip), *styles, "--network", str(network_file), *flags, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_blend_without_a_network_and_a_foreign_network_file_are_refused(clip, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["video", str(clip), STYLE, "--blend", "0.5", "-o", str(out)]) == 2
    assert "--blend goes with --network" in capsys.readouterr().err
    foreign = tmp_path / "foreign.stylo.pt"
    foreign.write_bytes(b"not a network" * 20)
    assert main(["video", str(clip), "--network", str(foreign), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not a stylo network file" in err and err.count("\n") == 1
    assert not out.exists()
