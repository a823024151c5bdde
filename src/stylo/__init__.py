"""stylo: neural style transfer (Gatys et al. 2016) on the original VGG19 weights.

``import stylo`` is light: the engine (and torch) load on first use of :func:`stylize` and friends.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

_LAZY = {
    "stylize": "stylo.optimize",
    "stylize_result": "stylo.optimize",
    "Step": "stylo.optimize",
    "Hooks": "stylo.optimize",
    "VideoInputs": "stylo.optimize",
    "Result": "stylo.optimize",
    "Settings": "stylo.config",
    "StyloError": "stylo.errors",
    "load_backbone": "stylo.backbones",
    "open_image": "stylo.image",
    "Network": "stylo.learn",
}
__all__ = ["Hooks", "Network", "Result", "Settings", "Step", "StyloError", "VideoInputs", "__version__", "learn",
           "load_backbone", "open_image", "stylize", "stylize_result"]

if TYPE_CHECKING:
    from stylo.backbones import load_backbone
    from stylo.config import Settings
    from stylo.errors import StyloError
    from stylo.image import open_image
    from stylo.learn import Network
    from stylo.optimize import Hooks, Result, Step, VideoInputs, stylize, stylize_result


def __getattr__(name: str) -> Any:
    if name == "learn":  # the package, which is callable: stylo.learn(...) is stylo.learn.learn(...)
        return import_module("stylo.learn")
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'stylo' has no attribute {name!r}")
