"""A learned network as a callable on images: :meth:`Network.load` reads a ``.stylo.pt`` file, and
``network(image)`` paints it in the painting's style, in one pass of the small transform network (no VGG)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, overload

import torch
from PIL import Image

from stylo.errors import StyloError
from stylo.files import shown
from stylo.learn.file import NetworkFile, png_image, read
from stylo.networks.transform import MIN_SIDE, TransformNetwork

CHANNELS_LAST = torch.channels_last


def transform_from(state: dict[str, torch.Tensor], device: torch.device | str = "cpu",
                   path: Path | str | None = None) -> TransformNetwork:
    net = TransformNetwork()
    try:
        net.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError, TypeError):
        where = shown(path) if path is not None else "the network file"
        raise StyloError(f"{where} is a damaged stylo network file (its weights do not fit)") from None
    return net.eval().requires_grad_(False).to(device)


@contextmanager
def flushed_denormals() -> Iterator[None]:
    """Denormal floats flushed to zero on the CPU for the duration (a trained network's activations hold some:
    they made a 512 px painting 4× slower on the 2-core EPYC); torch's default, off, afterwards."""
    changed = torch.set_flush_denormal(True)  # False where the CPU cannot
    try:
        yield
    finally:
        if changed:
            torch.set_flush_denormal(False)


class Network:
    """A transform network and the style code it was learned with; ``network(image)`` paints ``image`` (PIL: a
    PIL RGB image back; a (1, 3, H, W) tensor in [0, 1]: a float32 tensor back) at its own size, on ``device``,
    under ``autocast`` (a dtype, e.g. the run plan's bfloat16; None: float32)."""

    def __init__(self, contents: NetworkFile, device: torch.device | str = "cpu", path: Path | str | None = None,
                 autocast: torch.dtype | None = None):
        self.contents, self.path, self.autocast = contents, path, autocast
        self.device = torch.device(device)
        self.transform = transform_from(contents.transform, self.device, path)
        self.transform.to(memory_format=CHANNELS_LAST)  # type: ignore[call-overload]
        self.code = contents.code.to(self.device)

    @classmethod
    def load(cls, path: Path | str, device: torch.device | str = "cpu", autocast: torch.dtype | None = None
             ) -> Network:
        """The network in the ``.stylo.pt`` file at ``path`` (a file stylo did not write: a one-line error)."""
        return cls(read(path), device, path, autocast)

    @property
    def settings(self) -> dict[str, Any]:
        """The objective's settings it was trained with (:meth:`stylo.config.Settings.to_dict`)."""
        return dict(self.contents.settings)

    @property
    def style_names(self) -> list[str]:
        return [s["name"] for s in self.contents.styles]

    def styles(self) -> list[Image.Image]:
        """The style images the file keeps (shrunk to at most 1024 px)."""
        return [png_image(s["png"]) for s in self.contents.styles]

    def code_at(self, content: torch.Tensor, strength: float) -> torch.Tensor:
        """The style code at ``strength``: the learned one at 1; at 0 the photo's own (the style predictor's code
        of ``content``), which the network paints close to the photo; linear in between (Ghiasi et al.'s
        interpolation of style codes)."""
        if not 0 <= strength <= 1:
            raise StyloError(f"strength must be in [0, 1], got {strength:g}")
        if strength == 1:
            return self.code
        from stylo.networks.magenta import style_code

        own = style_code(content.to(self.device))
        return strength * self.code + (1 - strength) * own

    @overload
    def __call__(self, image: Image.Image, strength: float = 1.0) -> Image.Image: ...

    @overload
    def __call__(self, image: torch.Tensor, strength: float = 1.0) -> torch.Tensor: ...

    def __call__(self, image: Image.Image | torch.Tensor, strength: float = 1.0) -> Image.Image | torch.Tensor:
        """``image`` painted; ``strength`` below 1 moves the style code toward the photo's own
        (:meth:`code_at`)."""
        from stylo.image import to_pil, to_tensor

        tensor = to_tensor(image.convert("RGB")) if isinstance(image, Image.Image) else image
        if tensor.dim() != 4 or tensor.shape[:2] != (1, 3):
            raise StyloError(f"the network paints a (1, 3, H, W) RGB image, got shape {tuple(tensor.shape)}")
        h, w = tensor.shape[-2:]
        if min(h, w) < MIN_SIDE:
            raise StyloError(f"the network needs at least {MIN_SIDE} px per side, got {w}x{h}")
        code = self.code_at(tensor, strength)  # in float32, like every style code
        cast = torch.autocast(self.device.type, self.autocast) if self.autocast is not None else nullcontext()
        with torch.no_grad(), flushed_denormals(), cast:
            out = self.transform(tensor.to(self.device).float().contiguous(memory_format=CHANNELS_LAST), code)
        out = out.float().clamp(0, 1).contiguous()
        return to_pil(out) if isinstance(image, Image.Image) else out
