"""The video extras (PyAV and OpenCV): one check, for every front end that reads or writes clips."""

from __future__ import annotations

from stylo.errors import StyloError


def require_video_extras() -> None:
    """A one-line :class:`StyloError` naming the pip extra when PyAV or OpenCV is missing."""
    try:
        import av  # noqa: F401
        import cv2  # noqa: F401
    except ImportError:
        raise StyloError("video needs its extras: pip install 'stylo[video]' (PyAV and OpenCV)") from None
