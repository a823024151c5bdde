"""The photos ``stylo learn`` trains on: what is there offline, never the look panel's evaluation photos.

By default, the photographs bundled in ``stylo/learn/photos_data`` (:func:`bundled_photos`): fourteen small copies of
the photos in Debian's ``lomiri-wallpapers-16.04`` package (landscapes, a bridge, plants, animals, a still life and
a room: colour scenes like the ones people paint; authors and CC0/CC-BY/CC-BY-SA licences in that folder's
PROVENANCE.md). ``--photos DIR`` adds (or, with ``only``, replaces them by) the images in a user's folders; a file
named like a panel photo is left out. stylo's own samples are the panel's Tübingen and style paintings, so none of
them is a training photo. Every photo used is recorded by its label in the ``.stylo.pt`` file.

scikit-image's bundled pictures were the first default; they are mostly textures, grey or scientific images
(brick, grass, gravel, coins, moon, a retina, a stain); with the same recipe a network trained on them kept a
higher style distance on two held-out photos of three (0.51 and 0.45 against 0.36 and 0.32 of the arbitrary
network's, docs/learn.md).
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
BUNDLED = Path(__file__).with_name("photos_data")
SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
MIN_SIDE = 64


@dataclass(frozen=True)
class Photo:
    label: str  # how the file records it: "stylo:bridge", or the path's name in a user folder
    image: Image.Image


def bundled_photos() -> list[Photo]:
    """The photos shipped with stylo (``photos_data/*.jpg``, sorted by name), labelled ``stylo:NAME``."""
    return [Photo(f"stylo:{path.stem}", _open(path)) for path in sorted(BUNDLED.glob("*.jpg"))]


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
    photos = [] if only else bundled_photos()
    for folder in folders:
        photos.extend(folder_photos(folder))
    photos = [p for p in photos if min(p.image.size) >= MIN_SIDE]
    if not photos:
        raise StyloError("no training photos: pass --photos DIR (a folder of images of at least 64 px)")
    return photos


def _open(path: Path) -> Image.Image:
    img = Image.open(path)
    img.load()
    return img.convert("RGB")
