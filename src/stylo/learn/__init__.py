"""``stylo learn``: a network fine-tuned for one painting (or a blend) with stylo's own objective, run in a
fraction of a second by ``stylo run --network``.

* :func:`learn` (:mod:`~stylo.learn.train`): the training loop; :class:`LearnSettings` its options;
* :class:`Network` (:mod:`~stylo.learn.network`): ``Network.load(path)`` → a callable on images;
* :mod:`~stylo.learn.file`: the ``.stylo.pt`` format; :mod:`~stylo.learn.photos`: the training photos.

``stylo.learn`` is this package and is also callable: ``stylo.learn(styles, output, ...)`` is :func:`learn`.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from stylo.learn.network import Network
from stylo.learn.photos import Photo, training_photos
from stylo.learn.train import LearnResult, LearnSettings, LearnStep, learn

__all__ = ["LearnResult", "LearnSettings", "LearnStep", "Network", "Photo", "learn", "training_photos"]


class _CallablePackage(types.ModuleType):
    """``import stylo; stylo.learn(...)`` calls :func:`learn` even once this package is imported (its name then
    names the package on ``stylo``)."""

    def __call__(self, *args: Any, **kwargs: Any) -> LearnResult:
        return learn(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
