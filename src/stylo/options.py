"""The option table of docs/options.md, generated from :class:`~stylo.config.Settings`, and the names of the
flags (the flags themselves are built from the same fields in :mod:`stylo.cli.common`).

Each setting ``name`` becomes ``--name-with-dashes``; its type hint gives the choices, its metadata the help text,
and its default the "default" column. Nothing here repeats a default or a choice.
"""

from __future__ import annotations

import re
import typing
from dataclasses import MISSING

from stylo.config import FIELDS, HINTS, MACHINE_FIELDS, choices
from stylo.errors import StyloError

# Flags of ``stylo run`` that are not settings (--config, --config-from and --quiet are also those of ``stylo sweep``
# and ``stylo video``): (flag, metavar, default shown, help).
RUN_ONLY = (
    ("--config", "FILE.toml", "", "settings file (keys are the option names with `_`, at most 1 MB); flags "
                                  "override it"),
    ("--config-from", "OUTPUT.png", "", "repeat the artistic settings and seed recorded in a stylo PNG; it takes none "
                                        "of " + ", ".join("--" + n.replace("_", "-") for n in MACHINE_FIELDS)
                                        + " (a PNG made with another model or a weights file needs --model or "
                                          "--weights)"),
    ("--masks", "MASK ...", "", "spatial control: one mask per style (white = that style's region; pixels no mask "
                                "covers keep the content), or one mask for one style (black = protected), or one "
                                "mask for two styles (white = first, black = second)"),
    ("--save-every", "N", "", "also write every N-th step to `OUTPUT_frames/`"),
    ("--checkpoint-every", "SECONDS", "300 s", "write a checkpoint `OUTPUT.ckpt` this often (0: after every step); "
                                               "it is removed when the run finishes"),
    ("--resume", "", "", "continue the run whose checkpoint `OUTPUT.ckpt` is there (after a kill, a reboot, a "
                         "Ctrl-C), with the same inputs and settings"),
    ("--network", "NAME.stylo.pt", "", "paint with a network that `stylo learn` trained, in a fraction of a second "
                                       "(no STYLE argument; `stylo video` too); its objective's settings are the "
                                       "ones it was trained with, flags override them"),
    ("--refine", "N", "0", "with `--network`: N optimizer steps of that objective from the network's picture"),
    ("--strength", "S", "1", "with `--network`: from 0 (close to the photo) to 1 (the learned style)"),
    ("--blend", "B", "0.4", "`stylo video --network`: the share of the previous frame, warped along the motion, in "
                            "each frame (0: frame by frame)"),
    ("--quiet", "", "", "no progress line"),
)
TABLE_START, TABLE_END = "<!-- options:start -->", "<!-- options:end -->"


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def default_text(name: str) -> str:
    f = FIELDS[name]
    if f.metadata["default_text"]:
        return str(f.metadata["default_text"])
    value = f.default if f.default is not MISSING else None
    if isinstance(value, tuple):
        return " ".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def is_tuple(name: str) -> bool:
    """The setting holds a tuple (its flag takes several words, or one comma-separated word where ``csv``)."""
    hint = HINTS[name]
    return any(typing.get_origin(h) is tuple for h in (hint, *typing.get_args(hint)))


def flag_message(message: str, names: tuple[str, ...]) -> str:
    """Show the settings a message names as the flags a CLI user types: ``size`` → ``--size``."""
    for name in sorted(names, key=len, reverse=True):
        message = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", flag(name), message)
    return message


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def options_table() -> str:
    """The option table of docs/options.md, in Markdown."""
    rows = ["| option | default | meaning |", "| --- | --- | --- |"]
    for name, f in FIELDS.items():
        allowed = choices(name)
        arg = "|".join(allowed) if allowed else (f.metadata["metavar"] or "")
        if is_tuple(name) and not f.metadata["csv"]:
            arg += " ..."
        rows.append(f"| `{_cell(f'{flag(name)} {arg}')}` | {_cell(default_text(name))} | {_cell(f.metadata['help'])} |")
    for name, metavar, default, help_text in RUN_ONLY:
        shown_default = f" {_cell(default)}" if default else ""
        rows.append(f"| `{_cell(f'{name} {metavar}'.strip())}` |{shown_default} | {_cell(help_text)} |")
    return "\n".join(rows)


def replace_table(text: str) -> str:
    """``text`` (docs/options.md) with what lies between the table markers replaced by :func:`options_table`; a
    one-line :class:`StyloError` where the markers are missing."""
    if TABLE_START not in text or TABLE_END not in text:
        raise StyloError(f"no {TABLE_START} ... {TABLE_END} markers to put the option table between")
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    return text[:start] + "\n" + options_table() + "\n" + text[end:]
