"""Dense optical flow (OpenCV's DIS), warping, Ruder et al.'s consistency mask and the warping error.

Flows are (H, W, 2) float32 arrays of pixel displacements (x, y). ``flow(a, b)`` maps each pixel of ``a`` to
where it is in ``b``: ``a[y, x] ≈ b[y + f[y, x, 1], x + f[y, x, 0]]``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def _grey(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L"), dtype=np.uint8)


def optical_flow(a: Image.Image, b: Image.Image) -> np.ndarray:
    """The flow from ``a`` to ``b`` (same size), by DIS at its medium preset."""
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)  # type: ignore[attr-defined]
    return np.asarray(dis.calc(_grey(a), _grey(b), None), dtype=np.float32)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` (H, W, C) sampled at x + flow: with ``flow = optical_flow(a, b)`` and ``image`` shaped like
    ``b``, the result is ``b`` brought onto ``a``'s pixels (bilinear, borders replicated)."""
    import cv2

    h, w = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def consistency_mask(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Ruder et al.'s mask for frame ``b`` given ``forward = flow(a, b)`` and ``backward = flow(b, a)``:
    1 where following the backward flow and then the forward flow returns home (Sundaram et al.'s check)
    and away from motion boundaries; 0 at disocclusions, boundaries and pixels that came into view from
    outside ``a``. (H, W) float32."""
    forward_at = warp(forward, backward)  # the forward flow, seen from b's pixels
    round_trip = backward + forward_at
    bound = 0.01 * ((backward**2).sum(-1) + (forward_at**2).sum(-1)) + 0.5
    ok = (round_trip**2).sum(-1) <= bound
    gy, gx = np.gradient(backward[..., 0]), np.gradient(backward[..., 1])
    motion = gy[0] ** 2 + gy[1] ** 2 + gx[0] ** 2 + gx[1] ** 2
    ok &= motion <= 0.01 * (backward**2).sum(-1) + 0.002
    h, w = backward.shape[:2]  # pixels that came in from outside the previous frame
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    tx, ty = xs + backward[..., 0], ys + backward[..., 1]
    ok &= (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    return ok.astype(np.float32)


def warp_previous(previous: Image.Image, frame: Image.Image, last_frame: Image.Image
                  ) -> tuple[Image.Image, np.ndarray]:
    """The previous stylized frame brought onto ``frame``'s pixels, and where that can be trusted (flows
    between the input frames ``last_frame`` → ``frame``, at ``frame``'s size)."""
    size = frame.size
    last = last_frame.resize(size, Image.Resampling.BILINEAR)
    backward, forward = optical_flow(frame, last), optical_flow(last, frame)
    moved = warp(np.asarray(previous.convert("RGB").resize(size, Image.Resampling.BILINEAR)), backward)
    return Image.fromarray(moved), consistency_mask(forward, backward)


def warping_error(inputs: list[Image.Image], outputs: list[Image.Image]) -> float:
    """Lai et al. (2018): the mean squared difference (RGB in [0, 1]) between each output frame and the next
    output frame warped back onto it, over the pixels that the input frames' flow shows are not occluded."""
    errors = []
    for t in range(len(outputs) - 1):
        size = outputs[t].size
        a, b = (img.resize(size, Image.Resampling.BILINEAR) for img in (inputs[t], inputs[t + 1]))
        forward, backward = optical_flow(a, b), optical_flow(b, a)
        mask = consistency_mask(backward, forward)  # a's pixels that b still shows
        nxt = warp(np.asarray(outputs[t + 1].convert("RGB").resize(size), dtype=np.float32) / 255, forward)
        cur = np.asarray(outputs[t].convert("RGB"), dtype=np.float32) / 255
        errors.append(float((mask[..., None] * (cur - nxt) ** 2).sum() / max(1.0, mask.sum() * 3)))
    return float(np.mean(errors)) if errors else 0.0
