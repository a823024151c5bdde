"""The photos ``stylo learn`` trains on: what is there offline, never the look panel's evaluation photos.

By default, scikit-image's bundled photos (its data folder; the ones that need a download are not used) minus
the panel's (:data:`PANEL`); ``--photos DIR`` adds (or, with ``only``, replaces them by) the images in a user's
folders. stylo's own samples are the panel's Tübingen and style paintings, so none of them is a training photo.
Every photo used is recorded by its label in the ``.stylo.pt`` file.

Provenance (scikit-image 0.26, BSD-licensed data, see its ``data/README.txt``): ``brick``, ``grass``, ``gravel``
(textures, Brodatz-like, public domain), ``camera`` (the cameraman, CC0 replacement), ``coins`` (Greek coins,
public domain), ``moon``, ``hubble_deep_field`` (NASA, public domain), ``ihc`` (immunohistochemistry stain),
``retina`` (a fundus photo, CC-BY), ``clock_motion`` (a motion-blurred clock). Grey ones are used as RGB.
Debian's photo wallpaper package ``ukui-wallpapers`` was looked at and holds illustrations, not photos.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from stylo.errors import StyloError
from stylo.files import shown

# The look panel's evaluation photos (docs/benchmarks.md): never trained on.
PANEL = ("tubingen", "astronaut", "coffee", "rocket", "chelsea", "cat", "motorcycle_left", "motorcycle_right",
         "stereo_motorcycle")
SKIMAGE_PHOTOS = ("brick", "camera", "coins", "grass", "gravel", "moon", "hubble_deep_field", "ihc", "retina",
                  "clock_motion")
SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
MIN_SIDE = 64


@dataclass(frozen=True)
class Photo:
    label: str  # how the file records it: "skimage:brick", or the path's name in a user folder
    image: Image.Image


def skimage_photos() -> list[Photo]:
    """scikit-image's bundled photos (not the panel's); none if scikit-image is not installed."""
    try:
        import skimage.data
    except ImportError:
        return []
    folder = Path(skimage.data.data_dir)
    out = []
    for name in SKIMAGE_PHOTOS:
        for suffix in (".png", ".jpg"):
            path = folder / f"{name}{suffix}"
            if path.is_file():
                out.append(Photo(f"skimage:{name}", _open(path)))
                break
    return out


def folder_photos(folder: Path | str) -> list[Photo]:
    """The images directly in ``folder`` (sorted by name), minus any named like a panel photo."""
    from stylo.image import open_image

    folder = Path(folder)
    if not folder.is_dir():
        raise StyloError(f"--photos expects a folder of images: {shown(folder)}")
    out = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in SUFFIXES and path.is_file() and path.stem.lower() not in PANEL:
            out.append(Photo(path.name, open_image(path, "training photo")))
    return out


def training_photos(folders: Sequence[Path | str] = (), only: bool = False) -> list[Photo]:
    """The default photos (unless ``only``), then each folder's; a one-line error if there are none usable."""
    photos = [] if only else skimage_photos()
    for folder in folders:
        photos.extend(folder_photos(folder))
    photos = [p for p in photos if min(p.image.size) >= MIN_SIDE]
    if not photos:
        raise StyloError("no training photos: install scikit-image or pass --photos DIR (a folder of images)")
    return photos


def _open(path: Path) -> Image.Image:
    img = Image.open(path)
    img.load()
    return img.convert("RGB")
