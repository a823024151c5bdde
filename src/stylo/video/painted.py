"""A clip painted by a learned network (``stylo video IN --network NAME.stylo.pt``): every frame through the
network in one pass, made consistent in time by flow-warped blending. Where the optical flow from the frame
before holds (Ruder et al.'s consistency mask, :func:`stylo.video.flow.consistency_mask`), the frame is

    out_t = (1 - blend) · network(frame_t) + blend · warp(out_{t-1})

and elsewhere (disocclusions, motion boundaries, what came into view) the network's picture alone. A feed-forward
network repaints each frame on its own, so textures swim from frame to frame; the warped previous frame holds
them to the motion, and the network's share keeps the result from drifting away from this frame's picture
(a change fades in over about ``1 / (1 - blend)`` frames).

Frames are saved to the keyed frames folder as they are made (:mod:`stylo.video.pipeline`): a killed run starts
again at the first missing frame, from the saved frame before it, and gets the same frames.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from stylo.config import Settings
from stylo.events import OnEvent, Preview
from stylo.learn.network import Network

BLEND = 0.4  # the warped previous frame's share: the smallest measured that halves the warping error


def blend_frames(painted: Image.Image, warped: Image.Image, mask: np.ndarray, blend: float) -> Image.Image:
    """``painted`` where ``mask`` is 0; ``(1 - blend) · painted + blend · warped`` where it is 1 (and in
    between for a soft mask); all three the same size."""
    a = np.asarray(painted.convert("RGB"), dtype=np.float32)
    b = np.asarray(warped.convert("RGB"), dtype=np.float32)
    share = (blend * np.clip(mask, 0.0, 1.0))[..., None]
    return Image.fromarray(np.rint(a + share * (b - a)).clip(0, 255).astype(np.uint8))


def paint_frame(network: Network, frame: Image.Image, size: tuple[int, int], last_frame: Image.Image | None,
                previous: Image.Image | None, blend: float) -> tuple[Image.Image, Image.Image]:
    """One frame at ``size``: (the network's picture, the output: blended with the warped previous output when
    there is one)."""
    from stylo.video.flow import warp_previous

    small = frame.resize(size, Image.Resampling.LANCZOS) if frame.size != size else frame
    painted = network(small)
    if last_frame is None or previous is None or blend == 0:
        return painted, painted
    warped, mask = warp_previous(previous, small, last_frame)
    return painted, blend_frames(painted, warped, mask, blend)


def paint_frames(frames: Sequence[Image.Image], network: Network, s: Settings, folder: Path, key: str,
                 on_event: OnEvent | None = None, should_stop: Callable[[], bool] | None = None,
                 blend: float = BLEND, manifest: Callable[[int], dict[str, Any]] | None = None) -> list[Path]:
    """Paint ``frames`` into ``folder`` at ``s.size`` (resuming what the run ``key`` left there); returns the
    frame files written so far. Each computed frame reports its network picture (:class:`Preview`) and every frame
    a :class:`FrameEvent`; ``manifest(i)`` is what frame ``i``'s PNG records."""
    from stylo.image import fit_long_side
    from stylo.video.pipeline import keyed_frames

    emit: OnEvent = on_event or (lambda event: None)

    def make(i: int, frame: Image.Image, previous: Image.Image | None) -> tuple[Image.Image, dict[str, Any] | None]:
        size = fit_long_side(frame.size, s.size)
        painted, out = paint_frame(network, frame, size, frames[i - 1] if i else None, previous, blend)
        emit(Preview(painted, i))
        return out, (manifest(i) if manifest else None)

    return keyed_frames(frames, folder, key, make, emit, should_stop)


__all__ = ["BLEND", "blend_frames", "paint_frame", "paint_frames"]
