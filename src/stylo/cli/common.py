"""What ``stylo run``, ``sweep`` and ``video`` share, declared once: the parser class, the argument groups (the
settings flags, ``--config``/``--config-from``, ``--quiet``, the executor flags) and the settings they give.

The setting flags are generated from :class:`~stylo.config.Settings`: each setting ``name`` becomes
``--name-with-dashes``; its type hint gives the parsing and the choices, its metadata the help text, and its default
the "(default: ...)" of the help. Nothing here repeats a default or a choice.
"""

from __future__ import annotations

import argparse
import typing
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from stylo.config import FIELDS, HINTS, choices
from stylo.errors import StyloError
from stylo.files import shown
from stylo.options import RUN_ONLY, default_text, flag, is_tuple
from stylo.settings_io import parse_text

if TYPE_CHECKING:
    from stylo.config import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class Parser(argparse.ArgumentParser):
    """Usage errors as one line and exit 2. ``switch=(FLAG, parser)``: a command line that holds FLAG is parsed by
    that other parser (``stylo eval --video`` takes clips where ``stylo eval`` takes images)."""

    def __init__(self, *args: Any, switch: tuple[str, argparse.ArgumentParser] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.switch = switch

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"stylo: {shown(message)} (see `{self.prog} --help`)\n")

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        if self.switch is not None and args is not None and self._switched(list(args)):
            return self.switch[1].parse_known_args(args, namespace)
        return super().parse_known_args(args, namespace)

    def _switched(self, words: list[str]) -> bool:
        """The switch flag is among the words before ``--``, in full or abbreviated as argparse allows."""
        assert self.switch is not None
        switch = self.switch[0]
        words = words[:words.index("--")] if "--" in words else words
        for word in words:
            matches = [o for o in self._option_string_actions if o.startswith(word)]
            if word == switch or (self.allow_abbrev and word.startswith("--") and len(word) > 2
                                  and matches == [switch]):
                return True
        return False


def run_only_help(name: str) -> str:
    """The ``--help`` text of a flag of :data:`~stylo.options.RUN_ONLY` (escaped for argparse), with its default
    where it has one."""
    default, help_text = next((d, h) for flag_, _, d, h in RUN_ONLY if flag_ == name)
    return (f"{help_text} (default: {default})" if default else help_text).replace("%", "%%")


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """``--config TOML`` and ``--config-from PNG``: read by :func:`settings_from_args`."""
    parser.add_argument("--config", metavar="TOML", help=run_only_help("--config"))
    parser.add_argument("--config-from", metavar="PNG", help=run_only_help("--config-from"))


def add_quiet_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help=run_only_help("--quiet"))


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
            if is_tuple(name) and not f.metadata["csv"]:
                kwargs["nargs"] = "+"
                kwargs["type"] = _item_parser(name)
            else:
                kwargs["type"] = setting_parser(name)
        parser.add_argument(flag(name), **kwargs)


def setting_parser(name: str) -> Any:
    """An argparse ``type`` for setting ``name``: its typed parser, its errors as argparse's."""

    def parse(text: str) -> Any:
        try:
            return parse_text(name, text)
        except StyloError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name
    return parse


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


def add_executor_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--executor", choices=["local", "ray"], default="local")
    parser.add_argument("--workers", type=_workers, default=1,
                        help="local: processes in the pool, or auto (one per GPU; on CPUs one per 4 cores); default 1")
    parser.add_argument("--ray-address", metavar="ADDR", help="an existing Ray cluster (default: start one here)")


def _workers(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or auto, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def executor_from(args: argparse.Namespace) -> Any:
    from stylo.experiments.executors import make_executor

    return make_executor(args.executor, args.workers, args.ray_address)


def settings_from_namespace(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line."""
    given = vars(args)
    return {name: tuple(given[name]) if isinstance(given[name], list) else given[name]
            for name in FIELDS if name in given}


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The defaults, then ``--config-from PNG`` (its artistic settings and seed), then ``--config TOML``, then the
    flags. Each file's values are checked on their own (an error names the file and the key); an error that
    only the files' values cause names the files."""
    from stylo.settings_io import file_changes, from_mapping, read_toml

    layers: list[tuple[str, dict[str, Any]]] = []
    recorded: dict[str, Any] = {}
    if args.config_from:
        recorded, changes = _from_png(args.config_from)
        layers.append((shown(args.config_from), changes))
    if args.config:
        layers.append((shown(args.config), file_changes(read_toml(args.config), shown(args.config))))
    flags = settings_from_namespace(args)
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for source, changes in layers:
        merged.update(changes)
        origin.update(dict.fromkeys(changes, source))
    _machine_settings_given(args.config_from, recorded, {*merged, *flags})  # the PNG's own never hold these
    merged.update(flags)
    try:
        return from_mapping(merged, source="the command line")
    except StyloError as exc:
        files = sorted({origin[name] for name in exc.settings if name in origin and name not in flags})
        if files and not any(name in flags for name in exc.settings):
            raise StyloError(f"in {', '.join(files)}: {exc}") from None
        raise


def _from_png(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the machine settings a PNG recorded, its other settings checked): a PNG repeats the picture, not the
    machine (config.MACHINE_FIELDS: it must not choose a file to open, a download, a device or a budget)."""
    from stylo.config import MACHINE_FIELDS
    from stylo.image import read_manifest
    from stylo.settings_io import file_changes

    settings = read_manifest(path)["settings"]
    recorded = {name: settings.get(name) for name in MACHINE_FIELDS}
    artistic = {key: value for key, value in settings.items() if str(key).replace("-", "_") not in MACHINE_FIELDS}
    return recorded, file_changes(artistic, shown(path))


def _machine_settings_given(png: str | None, recorded: dict[str, Any], given: set[str]) -> None:
    """A PNG made with another model or a weights file is repeated only when the command line or the settings
    file names them: stylo does not start a download or open a file because a PNG says so."""
    from stylo.config import clipped

    model = recorded.get("model")
    if model not in (None, "vgg19") and "model" not in given:
        raise StyloError(f"{shown(png or '')} was made with model {clipped(model, 30)}; a PNG does not choose the "
                         "network (it may need a download): pass --model to repeat it")
    if recorded.get("weights") is not None and "weights" not in given:
        raise StyloError(f"{shown(png or '')} was made with a weights file; a PNG does not choose a file to "
                         "open: pass --weights PATH to repeat it")
