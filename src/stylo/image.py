"""Image IO at the edge: decode and validate files, convert odd modes to RGB, resize, tensors, atomic PNG saves.

Tensors are ``(1, 3, H, W)`` float RGB in [0, 1]; PIL images are mode ``RGB``.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from stylo.errors import StyloError
from stylo.files import open_regular, shown

MAX_PIXELS = 64_000_000  # refuse larger images before decoding them (decompression bombs)
MANIFEST_KEY = "stylo"
MAX_MANIFEST_CHARS = 100_000  # a real manifest is about 1.5 kB
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}  # what a folder of images holds
NAME_MAX = 255  # bytes in a file name on Linux, macOS and Windows file systems
RANGE_TOLERANCE = 1e-3  # float rounding around [0, 1] that tensors may carry


def open_image(path: Path | str, what: str = "image") -> Image.Image:
    """Decode the file at ``path`` into an RGB image (EXIF orientation applied), or raise a one-line error.
    Anything but a regular file (a FIFO, a device, a directory, a symlink loop) is refused before it is read."""
    with open_regular(path, what) as fh:
        return decode_image(fh, what, suffix=f": {shown(path)}")


def decode_image(source: Path | BinaryIO, what: str = "image", suffix: str = "",
                 max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode a file or stream into an RGB image, refusing more than ``max_pixels`` before decoding.
    Errors are one line: ``{what} is ...{suffix}`` (``suffix`` names the file, if it should be named)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as img:
                if img.width * img.height > max_pixels:
                    raise StyloError(
                        f"{what} is too large to decode safely: {img.width}x{img.height} px "
                        f"(limit {max_pixels // 1_000_000} megapixels){suffix}"
                    )
                img.load()
                return to_rgb(img)
    except StyloError:
        raise
    except UnidentifiedImageError:
        raise StyloError(f"{what} is not a readable image file{suffix}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise StyloError(f"{what} is too large to decode safely (decompression bomb?){suffix}") from None
    except PermissionError:
        raise StyloError(f"{what} cannot be read (permission denied){suffix}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise StyloError(f"{what} is truncated or corrupt{suffix} ({_first_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - a decoder fed hostile bytes may raise anything (struct.error, ...)
        raise StyloError(f"{what} is corrupt{suffix} ({type(exc).__name__})") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode → 8-bit RGB: EXIF rotation applied, 16-bit scaled down, alpha composited over white."""
    img = ImageOps.exif_transpose(img)
    mode = img.mode
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_wide_to_uint8(np.asarray(img), mode)).convert("RGB")
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _wide_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """16/32-bit integer or float grayscale samples → uint8."""
    arr = values.astype(np.float64)
    if mode == "F":
        scale = 1.0 if arr.max(initial=0) <= 1.0 else 255.0
    else:
        scale = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
    return np.clip(np.rint(arr / scale * 255.0), 0, 255).astype(np.uint8)


def check_min_side(size: tuple[int, int], minimum: int, what: str) -> None:
    """Raise if (width, height) is too small for the network's poolings."""
    if min(size) < minimum:
        raise StyloError(
            f"{what} is too small: {size[0]}x{size[1]} px; the network needs at least {minimum} px per side",
            settings=("size",) if "size" in what else (),
        )


def fit_long_side(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(width, height) scaled so that the longer side is ``long_side`` px, aspect kept."""
    w, h = size
    scale = long_side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def fit_area(size: tuple[int, int], area: int) -> tuple[int, int]:
    """(width, height) scaled to about ``area`` pixels, aspect kept."""
    w, h = size
    scale = (area / (w * h)) ** 0.5
    return max(1, round(w * scale)), max(1, round(h * scale))


RESAMPLE = {"lanczos": Image.Resampling.LANCZOS, "bicubic": Image.Resampling.BICUBIC,
            "bilinear": Image.Resampling.BILINEAR}


def resize(img: Image.Image, size: tuple[int, int], resample: str = "lanczos") -> Image.Image:
    """Resize to (width, height); PIL's filters are antialiased when shrinking."""
    return img if img.size == size else img.resize(size, RESAMPLE[resample])


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """``(B, C, H, W)`` blurred by a Gaussian of ``sigma`` px (separable, reflected borders): a low-pass without
    the aliasing of block averaging, which turns a fine regular texture into a coarse moiré."""
    radius = max(1, min(round(3 * sigma), min(image.shape[-2:]) - 1))
    x = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    c = image.shape[1]
    out = torch.nn.functional.pad(image, (radius, radius, radius, radius), mode="reflect")
    out = torch.nn.functional.conv2d(out, kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return torch.nn.functional.conv2d(out, kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB PIL image → ``(1, 3, H, W)`` float32 in [0, 1]."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).contiguous()


def to_pil(tensor: torch.Tensor) -> Image.Image:
    """``(1, 3, H, W)`` or ``(3, H, W)`` in [0, 1] → RGB PIL image (clamped, rounded to 8 bits)."""
    t = tensor.detach().float().cpu()
    if t.dim() == 4:
        t = t[0]
    arr = (t.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(np.ascontiguousarray(arr), "RGB")


def as_image(image: Image.Image | torch.Tensor, what: str = "image") -> Image.Image:
    """Accept a PIL image (any mode) or an RGB tensor in [0, 1]; return an RGB PIL image."""
    if isinstance(image, Image.Image):
        return to_rgb(image)
    if isinstance(image, torch.Tensor):
        t = image if image.dim() == 4 else image.unsqueeze(0)
        if t.dim() != 4 or t.shape[0] != 1 or t.shape[1] != 3:
            raise StyloError(f"{what} tensor must be (3, H, W) or (1, 3, H, W), got {tuple(image.shape)}")
        if not t.is_floating_point():
            raise StyloError(f"{what} tensor must be float RGB in [0, 1], got {str(t.dtype).replace('torch.', '')} "
                             "(convert 0–255 images with .float() / 255)")
        if t.numel() == 0 or not torch.isfinite(t).all():
            raise StyloError(f"{what} tensor is empty or has NaN or infinite values")
        lo, hi = t.min().item(), t.max().item()
        if lo < -RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
            raise StyloError(f"{what} tensor values range from {lo:.3g} to {hi:.3g}; expected RGB in [0, 1]"
                             + (" (divide 0–255 images by 255)" if hi > 2 else ""))
        return to_pil(t)
    raise StyloError(f"{what} must be a PIL image or a tensor, got {type(image).__name__}")


def check_output_path(path: Path | str, inputs: Sequence[Path | str] = ()) -> Path:
    """Make sure a PNG can be written at ``path`` (creating missing folders) before any compute starts, and
    that it is none of ``inputs``: a run never overwrites what it reads."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise StyloError(f"output must be a .png file (it carries the run's settings): {shown(path)}")
    if len(os.fsencode(path.name)) > NAME_MAX:
        raise StyloError(f"output name is too long ({len(os.fsencode(path.name))} bytes, limit {NAME_MAX})")
    return check_writable(path, inputs)


def check_writable(path: Path, inputs: Sequence[Path | str] = ()) -> Path:
    """A file can be written at ``path`` (missing folders are made; a probe file is created and removed), it is no
    folder and none of ``inputs``; else a one-line :class:`StyloError` before any compute."""
    try:
        if path.is_dir():
            raise StyloError(f"output is a directory: {shown(path)}")
        for source in inputs:
            if same_file(path, Path(source)):
                raise StyloError(f"output {shown(path)} is one of the inputs; choose another name so the input "
                                 "is kept")
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".stylo-probe-"):
            pass
    except OSError as exc:
        raise StyloError(f"cannot write output to {shown(path.parent)}: {exc.strerror or exc}") from None
    return path


def same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` name the same file (through links, or the same path spelled differently)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop (RuntimeError before Python 3.13), a NUL byte
        return False


def atomic_write(path: Path | str, write: Callable[[BinaryIO], object]) -> Path:
    """Write a file atomically: ``write`` fills a temporary file beside ``path``, then it is renamed over it,
    so a failure never leaves a partial or clobbered file (and concurrent writers never share a temp file)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:80]}.", suffix=".tmp")  # names stay short
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600 files; an output is an ordinary file
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_png(img: Image.Image, path: Path | str, manifest: dict[str, Any] | None = None) -> Path:
    """Write ``img`` as PNG atomically, with ``manifest`` as JSON in a text chunk."""
    info = PngImagePlugin.PngInfo()
    if manifest is not None:
        info.add_text(MANIFEST_KEY, json.dumps(manifest, sort_keys=True))
    return atomic_write(path, lambda fh: img.save(fh, format="PNG", pnginfo=info))


def read_manifest(path: Path | str) -> dict[str, Any]:
    """The manifest a stylo PNG carries, or a one-line error if it has none or it cannot be read."""
    img = open_raw(path)
    text = getattr(img, "text", {}) or {}
    if MANIFEST_KEY not in text:
        raise StyloError(f"{shown(path)} carries no stylo settings (not made by stylo?)")
    if len(text[MANIFEST_KEY]) > MAX_MANIFEST_CHARS:
        raise StyloError(f"{shown(path)} has a stylo text chunk too large to be a manifest "
                         f"({len(text[MANIFEST_KEY])} characters, limit {MAX_MANIFEST_CHARS})")
    try:
        data = json.loads(text[MANIFEST_KEY])
    except (ValueError, RecursionError) as exc:  # bad JSON, an integer of thousands of digits, deep nesting
        reason = "nested too deeply" if isinstance(exc, RecursionError) else _first_line(exc)[:80]
        raise StyloError(f"{shown(path)} has an unreadable stylo manifest ({reason})") from None
    if not isinstance(data, dict) or not isinstance(data.get("settings"), dict):
        raise StyloError(f"{shown(path)} has an unreadable stylo manifest")
    return data


def open_raw(path: Path | str) -> Image.Image:
    """Open without conversion (to read PNG text chunks), with the same one-line errors as :func:`open_image`;
    a text chunk larger than Pillow reads safely is named as such."""
    with open_regular(path, "settings image") as fh:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = Image.open(fh)
                if img.width * img.height > MAX_PIXELS:
                    raise StyloError(f"{shown(path)} is too large to decode safely: {img.width}x{img.height} px")
                img.load()  # text chunks after the pixels are read only now
            return img
        except StyloError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise StyloError(f"{shown(path)} is too large to decode safely (decompression bomb?)") from None
        except ValueError as exc:
            if "text" in str(exc).lower() or "MAX_TEXT" in str(exc):
                raise StyloError(f"{shown(path)} has a text chunk too large to read (limit "
                                 f"{PngImagePlugin.MAX_TEXT_CHUNK // 1_000_000} MB a chunk, "
                                 f"{PngImagePlugin.MAX_TEXT_MEMORY // 1_000_000} MB in all)") from None
            raise StyloError(f"not a readable image file: {shown(path)}") from None
        except (UnidentifiedImageError, OSError, SyntaxError):
            raise StyloError(f"not a readable image file: {shown(path)}") from None
        except Exception as exc:  # noqa: BLE001 - a decoder fed hostile bytes may raise anything
            raise StyloError(f"{shown(path)} is corrupt ({type(exc).__name__})") from None
