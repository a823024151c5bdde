from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylo import image as im
from stylo.errors import StyloError


def write_png16_rgb(path: Path, arr: np.ndarray) -> None:
    """A 16-bit-per-channel RGB PNG, written by hand (PIL cannot write one)."""
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StyloError, match="content image not found"):
        im.open_image(tmp_path / "nope.jpg", "content image")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(StyloError, match="is a directory"):
        im.open_image(tmp_path)


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("not an image")
    with pytest.raises(StyloError, match="not a readable image"):
        im.open_image(path)


def test_truncated_jpeg(tmp_path: Path) -> None:
    full = tmp_path / "full.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(full)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(StyloError, match="truncated or corrupt"):
        im.open_image(cut)


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    Image.new("1", (9000, 8000)).save(path)  # 72 megapixels in a few kilobytes
    assert path.stat().st_size < 100_000
    with pytest.raises(StyloError, match="too large to decode safely"):
        im.open_image(path)


@pytest.mark.parametrize("mode", ["CMYK", "P", "L", "LA", "RGBA", "1", "I", "F"])
def test_odd_modes_become_rgb(tmp_path: Path, mode: str) -> None:
    src = Image.new("RGB", (20, 10), (200, 100, 50)).convert(mode)
    path = tmp_path / f"img.{'tiff' if mode in ('CMYK', 'I', 'F') else 'png'}"
    src.save(path)
    out = im.open_image(path)
    assert out.mode == "RGB" and out.size == (20, 10)


def test_rgba_transparent_becomes_white_and_opaque_keeps_colour(tmp_path: Path) -> None:
    arr = np.zeros((4, 4, 4), dtype=np.uint8)
    arr[:, :2] = (255, 0, 0, 255)  # opaque red left half, transparent right half
    path = tmp_path / "rgba.png"
    Image.fromarray(arr, "RGBA").save(path)
    out = np.asarray(im.open_image(path))
    assert out[0, 0].tolist() == [255, 0, 0] and out[0, 3].tolist() == [255, 255, 255]


def test_palette_with_transparency(tmp_path: Path) -> None:
    img = Image.new("P", (4, 4), 1)
    img.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    img.info["transparency"] = 0
    path = tmp_path / "pal.png"
    img.save(path, transparency=0)
    assert np.asarray(im.open_image(path))[0, 0].tolist() == [0, 0, 255]


def test_16bit_grayscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    arr = np.full((8, 8), 32768, dtype=np.uint16)  # mid-grey in 16 bits
    path = tmp_path / "g16.png"
    Image.fromarray(arr).save(path)
    assert Image.open(path).mode.startswith("I")
    assert np.asarray(im.open_image(path))[0, 0].tolist() == [128, 128, 128]


def test_16bit_rgb(tmp_path: Path) -> None:
    arr = np.zeros((6, 5, 3), dtype=np.uint16)
    arr[..., 0] = 65535
    arr[..., 2] = 32896
    path = tmp_path / "rgb16.png"
    write_png16_rgb(path, arr)
    out = np.asarray(im.open_image(path))
    assert out.shape == (6, 5, 3) and out[0, 0].tolist() == [255, 0, 128]


def test_exif_orientation_is_respected(tmp_path: Path) -> None:
    img = Image.new("RGB", (40, 20), (0, 255, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=exif)
    assert im.open_image(path).size == (20, 40)


def test_min_side_check() -> None:
    with pytest.raises(StyloError, match="too small: 1x1 px"):
        im.check_min_side((1, 1), 16, "content image")
    im.check_min_side((16, 16), 16, "content image")


def test_sizes_and_tensor_round_trip() -> None:
    assert im.fit_long_side((1024, 768), 512) == (512, 384)
    assert im.fit_long_side((768, 1024), 512) == (384, 512)
    assert im.fit_area((1024, 640), 577 * 433) == (632, 395)
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (7, 9, 3), dtype=np.uint8))
    t = im.to_tensor(img)
    assert t.shape == (1, 3, 7, 9) and 0.0 <= t.min() and t.max() <= 1.0
    assert np.array_equal(np.asarray(im.to_pil(t)), np.asarray(img))


def test_as_image_accepts_tensors_and_rejects_others() -> None:
    assert im.as_image(torch.zeros(3, 5, 4)).size == (4, 5)
    with pytest.raises(StyloError, match="NaN"):
        im.as_image(torch.full((1, 3, 4, 4), float("nan")))
    with pytest.raises(StyloError, match="must be"):
        im.as_image(torch.zeros(2, 3, 4, 4))
    with pytest.raises(StyloError, match="PIL image or a tensor"):
        im.as_image("photo.jpg")  # type: ignore[arg-type]


def test_save_png_is_atomic_and_carries_manifest(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    im.save_png(Image.new("RGB", (3, 3)), path, {"settings": {"steps": 3}})
    assert im.read_manifest(path)["settings"] == {"steps": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temporary file left
    assert json.loads(Image.open(path).text[im.MANIFEST_KEY])["settings"]["steps"] == 3


def test_failed_save_keeps_existing_output(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"precious")

    class Broken:
        def save(self, *args: object, **kwargs: object) -> None:
            raise OSError("disk full")

    with pytest.raises(OSError):
        im.save_png(Broken(), path)  # type: ignore[arg-type]
    assert path.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_check_output_path(tmp_path: Path) -> None:
    assert im.check_output_path(tmp_path / "new" / "dir" / "x.png").parent.is_dir()
    with pytest.raises(StyloError, match=r"must be a \.png"):
        im.check_output_path(tmp_path / "x.jpg")
    (tmp_path / "d.png").mkdir()
    with pytest.raises(StyloError, match="is a directory"):
        im.check_output_path(tmp_path / "d.png")


def test_read_manifest_of_foreign_png(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    Image.new("RGB", (2, 2)).save(path)
    with pytest.raises(StyloError, match="carries no stylo settings"):
        im.read_manifest(path)


def test_gaussian_blur_removes_a_fine_lattice_keeps_broad_shapes_and_constants() -> None:
    """The feed-forward start's low-pass (σ = 2 px at the default): a diagonal lattice of period 5 px, like the
    network's hatching, almost vanishes; a wave of 64 px stays; block averaging would alias the lattice."""
    y, x = torch.meshgrid(torch.arange(96.0), torch.arange(128.0), indexing="ij")
    lattice = 0.5 + 0.3 * torch.sin(2 * torch.pi * (x + y) / 7)  # diagonal stripes 7/√2 ≈ 5 px apart
    broad = 0.5 + 0.3 * torch.sin(2 * torch.pi * x / 64)
    as_image = lambda t: t.expand(1, 3, -1, -1).contiguous()  # noqa: E731
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    assert (im.gaussian_blur(as_image(lattice), 2.0) - 0.5)[inner].abs().max() < 0.03
    assert (im.gaussian_blur(as_image(broad), 2.0) - as_image(broad))[inner].abs().max() < 0.01
    constant = torch.full((1, 3, 20, 30), 0.25)
    torch.testing.assert_close(im.gaussian_blur(constant, 2.0), constant)
    assert im.gaussian_blur(constant, 50.0).shape == constant.shape  # a radius wider than the image is cut
