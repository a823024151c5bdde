"""The live preview of a learned style: the content photo, shrunk to the preview's size, painted by the network at
a strength in [0, 1] (:meth:`stylo.learn.network.Network.__call__`), as PNG bytes. A few loaded networks and shrunk
photos are kept (least recently used out), so that moving the slider costs one pass of the small transform
network (about 0.2 s for 384×288 px on one CPU core)."""

from __future__ import annotations

import io
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PIL import Image

if TYPE_CHECKING:
    from stylo.learn.network import Network

T = TypeVar("T")


def preview_photo(image: Image.Image, side: int) -> Image.Image:
    """``image`` with its long side at most ``side`` px (never enlarged), aspect kept."""
    from stylo.image import fit_long_side, resize

    if max(image.size) <= side:
        return image
    return resize(image, fit_long_side(image.size, side), "lanczos")


def png_bytes(image: Image.Image) -> bytes:
    """``image`` as PNG (fast compression: a preview is sent once and thrown away)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def paint_preview(network: Network, photo: Image.Image, strength: float) -> bytes:
    """``photo`` painted by ``network`` at ``strength`` (1: the learned style; 0: close to the photo), as PNG."""
    return png_bytes(network(photo, strength))


class Lru:
    """At most ``size`` values, the least recently used dropped first."""

    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict[Hashable, object] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]  # type: ignore[return-value]
        value = make()
        self.items[key] = value
        while len(self.items) > self.size:
            self.items.popitem(last=False)
        return value


class Previews:
    """The studio's preview painter: networks by file (reloaded when the file changes, e.g. after a resumed
    training) and photos by upload and side; one painting at a time (a slider's requests do not pile up on the
    CPU the runs need)."""

    def __init__(self, networks: int = 4, photos: int = 8):
        self.lock = threading.Lock()
        self.networks, self.photos = Lru(networks), Lru(photos)

    def network(self, path: Path) -> Network:
        """The network in ``path`` (a regular file: anything else is refused with one line)."""
        from stylo.files import regular_file
        from stylo.learn.network import Network

        stat = os.stat(regular_file(path, "network file"))
        with self.lock:
            return self.networks.get((str(path), stat.st_mtime_ns, stat.st_size), lambda: Network.load(path))

    def photo(self, path: Path, side: int) -> Image.Image:
        from stylo.image import open_image

        with self.lock:
            return self.photos.get((str(path), side), lambda: preview_photo(open_image(path, "content image"), side))

    def paint(self, photo: Path, network: Path, strength: float, side: int) -> bytes:
        net, image = self.network(network), self.photo(photo, side)
        with self.lock:
            return paint_preview(net, image, strength)
