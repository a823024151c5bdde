"""Command-line flags and the option table of docs/options.md, both generated from :class:`~stylo.config.Settings`.

Each setting ``name`` becomes ``--name-with-dashes``; its type hint gives the parsing and the choices, its
metadata the help text, and its default the "default" column. Nothing here repeats a default or a choice.
"""

from __future__ import annotations

import argparse
import re
import typing
from dataclasses import MISSING
from typing import Any

from stylo.config import FIELDS, HINTS, MACHINE_FIELDS, choices, parse_text
from stylo.errors import StyloError

# Flags of ``stylo run`` that are not settings: (flag, metavar, default shown, help).
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
    ("--quiet", "", "", "no progress line"),
)
TABLE_START, TABLE_END = "<!-- options:start -->", "<!-- options:end -->"


def run_only_help(name: str) -> str:
    """The ``--help`` text of a flag of :data:`RUN_ONLY` (escaped for argparse), with its default where it has one."""
    default, help_text = next((d, h) for flag_, _, d, h in RUN_ONLY if flag_ == name)
    return (f"{help_text} (default: {default})" if default else help_text).replace("%", "%%")


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


def _parser_for(name: str) -> Any:
    def parse(text: str) -> Any:
        try:
            return parse_text(name, text)
        except StyloError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name
    return parse


def _is_tuple(name: str) -> bool:
    hint = HINTS[name]
    return any(typing.get_origin(h) is tuple for h in (hint, *typing.get_args(hint)))


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting; a flag not given leaves no attribute (the default stays in Settings), so
    ``--style-size none`` can clear what a settings file set."""
    for name, f in FIELDS.items():
        kwargs: dict[str, Any] = {"default": argparse.SUPPRESS, "dest": name,
                                  "help": f"{f.metadata['help']} (default: {default_text(name)})".replace("%", "%%")}
        allowed = choices(name)
        if allowed is not None:
            kwargs["choices"] = allowed
        else:
            kwargs["metavar"] = f.metadata["metavar"]
            if _is_tuple(name) and not f.metadata["csv"]:
                kwargs["nargs"] = "+"
                kwargs["type"] = _item_parser(name)
            else:
                kwargs["type"] = _parser_for(name)
        parser.add_argument(flag(name), **kwargs)


def _item_parser(name: str) -> Any:
    """For ``nargs='+'`` flags: each word is one item; the collected list becomes the tuple."""
    hint = HINTS[name]
    inner = next(h for h in (hint, *typing.get_args(hint)) if typing.get_origin(h) is tuple)
    item = typing.get_args(inner)[0]

    def parse(text: str) -> Any:
        if item is float:
            try:
                return float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"bad value {text!r} for {name}") from None
        return text

    parse.__name__ = name
    return parse


def settings_from_namespace(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line."""
    given = vars(args)
    return {name: tuple(given[name]) if isinstance(given[name], list) else given[name]
            for name in FIELDS if name in given}


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
        if _is_tuple(name) and not f.metadata["csv"]:
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
