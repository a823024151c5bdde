"""The studio's words for what the engine says: setting names as the page labels them, and no server paths.

:class:`~stylo.errors.StyloError` names the settings its message mentions (``.settings``); the studio shows
the page's label instead of the field name ("Levels must be between 1 and 8", not "scales must be ...").
Fields the page does not show (API-only settings) keep their names.
"""

from __future__ import annotations

import re

from stylo.errors import StyloError

PAGE_LABELS = {
    "size": "Size",
    "steps": "Steps",
    "coarse_steps": "Coarse steps",
    "scales": "Levels",
    "seed": "Seed",
    "preserve_color": "Colours",
    "style_layers": "Style layers",
    "style_layer_weights": "Style layers",
    "style_weight": "the content/style slider",
    "content_weight": "the content/style slider",
}
_PATH = re.compile(r"(?<![\w.])/(?:[^\s/:'\"]+/)+([^\s/:'\"]+)")


def page_label(name: str) -> str:
    return PAGE_LABELS.get(name, name)


def hide_paths(text: str) -> str:
    """``cannot read video /tmp/tmpab12/clip.mp4: ...`` → ``cannot read video clip.mp4: ...``: the server's
    folders are nobody's business on the page; the file's own name is kept."""
    return _PATH.sub(lambda m: m.group(1), text)


def in_page_words(exc: StyloError) -> str:
    """The message of ``exc`` with the settings it names in the page's labels, and without server paths."""
    text = str(exc)
    for name in exc.settings:
        label = PAGE_LABELS.get(name)
        if label is None:
            continue
        text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", label, text)
    return hide_paths(text)
