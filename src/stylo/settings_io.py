"""Settings from outside Python: a value from command-line text (:func:`parse_text`), a mapping of names and values
(:func:`from_mapping`: JSON, the API, the studio), a TOML file (:func:`read_toml`, :func:`file_changes`,
:func:`load_toml`), each value coerced to its field's type and checked by :mod:`stylo.config`'s validation."""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stylo.config import FIELDS, HINTS, MAX_DEPTH, Settings, bad_value, base_type, check_value, clipped
from stylo.errors import StyloError
from stylo.files import read_bounded, shown


def coerce(name: str, value: Any) -> Any:
    """A decoded value (JSON, TOML) for setting ``name`` in the field's own type: lists become tuples, a
    single item a 1-tuple, integers floats where the field is a float. Type errors are left to validation."""
    hint, _ = base_type(HINTS[name])
    if value is None:
        return None
    if typing.get_origin(hint) is tuple:
        items = tuple(value) if isinstance(value, list | tuple) else (value,)
        if typing.get_args(hint)[0] is float:
            items = tuple(_as_float(name, v) for v in items)
        return items
    return _as_float(name, value) if hint is float else value


def _as_float(name: str, value: Any) -> Any:
    """An integer as a float (one too large for a float is an error); anything else as it is."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            raise bad_value(name, "a finite number", value) from None
    return value


def parse_text(name: str, text: str) -> Any:
    """A value of setting ``name`` from command-line text (flags, ``--vary``): ``none`` clears an optional
    setting; tuple settings take items joined by ``,`` or ``+``."""
    hint, optional = base_type(HINTS[name])
    if optional and text.strip().lower() == "none":
        return None
    try:
        if typing.get_origin(hint) is tuple:
            parts = [p.strip() for p in text.replace("+", ",").split(",")] if "," in text or "+" in text else [text]
            item = typing.get_args(hint)[0]
            return tuple(float(p) if item is float else p for p in parts)
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
    except ValueError:
        raise StyloError(f"bad value {clipped(text)} for {name}", settings=(name,)) from None
    return text


def from_mapping(data: Mapping[str, Any], base: Settings | None = None, source: str = "settings",
                 allowed: set[str] | None = None) -> Settings:
    """``base`` (default: the defaults) with the fields of ``data`` replaced; unknown keys are an error, and
    so are keys outside ``allowed`` when it is given."""
    if not isinstance(data, Mapping):
        raise StyloError(f"settings in {source} must be a table of names and values, not {type(data).__name__}")
    changes: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in FIELDS:
            raise StyloError(f"unknown setting {clipped(str(key))} in {source}")
        if allowed is not None and name not in allowed:
            raise StyloError(f"setting {name!r} cannot be set from {source}", settings=(name,))
        changes[name] = coerce(name, value)
    return dataclasses.replace(base or Settings(), **changes)


def as_settings(value: Settings | Mapping[str, Any] | None) -> Settings:
    """The API's settings argument: a :class:`Settings`, a mapping of its fields, or None for the defaults."""
    if value is None:
        return Settings()
    if isinstance(value, Settings):
        return value
    if isinstance(value, Mapping):
        return from_mapping(value, source="the settings mapping")
    raise StyloError(f"settings must be a stylo.Settings or a mapping, not {type(value).__name__}")




def check_depth(data: Any, what: str, limit: int = MAX_DEPTH) -> None:
    """Refuse tables and lists nested more than ``limit`` deep (without recursing: a hostile file may nest
    thousands deep)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if not isinstance(value, Mapping | list | tuple):
            continue
        if depth > limit:
            raise StyloError(f"{what} is nested too deeply (more than {limit} levels)")
        stack.extend((child, depth + 1) for child in (value.values() if isinstance(value, Mapping) else value))


def read_toml(path: Path | str, what: str = "config file") -> dict[str, Any]:
    """The table of a TOML file: a regular file of at most ``files.MAX_SETTINGS_BYTES``, UTF-8 (a byte-order mark
    is allowed), nested at most ``MAX_DEPTH`` deep; else a one-line error naming the file."""
    data = read_bounded(path, what)
    where = f"{what} {shown(path)}"
    try:
        table = tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise StyloError(f"cannot read {where}: it is not UTF-8 text") from None
    except RecursionError:
        raise StyloError(f"cannot read {where}: it is nested too deeply") from None
    except ValueError as exc:  # a TOML syntax error, or an integer of more than 4300 digits
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise StyloError(f"cannot read {where}: {reason[:120]}") from None
    check_depth(table, where)
    return table


def file_changes(data: Any, source: str) -> dict[str, Any]:
    """The settings a file gives (a TOML table, a PNG's manifest), each coerced and checked on its own; an error
    names the file and the key, not a command-line flag the user did not type."""
    if not isinstance(data, Mapping):
        raise StyloError(f"settings in {source} must be a table of names and values, not {type(data).__name__}")
    check_depth(data, source)
    changes: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in FIELDS:
            raise StyloError(f"unknown setting {clipped(str(key))} in {source}")
        try:
            changes[name] = coerce(name, value)
            check_value(name, changes[name])
        except StyloError as exc:
            raise StyloError(f"in {source}: {exc}") from None
    return changes


def load_toml(path: Path, base: Settings | None = None) -> Settings:
    """Settings from a TOML file whose top-level keys are field names (``style_weight = 1e4``)."""
    source = shown(path)
    changes = file_changes(read_toml(path), source)
    try:
        return from_mapping(changes, base, source=source)
    except StyloError as exc:
        raise StyloError(f"in {source}: {exc}") from None
