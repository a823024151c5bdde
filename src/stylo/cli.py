"""The ``stylo`` command: parse flags into :class:`~stylo.config.Settings`, call the pipeline, report.

Exit status: 0 success; 1 the run failed (it diverged, or the output could not be written: the message says
where the image was kept); 2 bad input or usage (one line on stderr, no traceback, nothing written);
130 interrupted: Ctrl-C or SIGTERM (during steps the image so far is saved; before them nothing is written).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from stylo import __version__
from stylo.errors import StyloError
from stylo.experiments.commands import add_executor_flags, add_sweep_parser
from stylo.files import shown
from stylo.interrupt import StopFlag
from stylo.options import add_setting_flags, flag_message, run_only_help, settings_from_namespace
from stylo.video.commands import add_video_parser

if TYPE_CHECKING:
    from stylo.config import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"stylo: {shown(message)} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="stylo", description="Neural style transfer (Gatys et al.) on VGG19.")
    parser.add_argument("--version", action="version", version=f"stylo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="stylize a content image")
    run.add_argument("content", metavar="CONTENT")
    run.add_argument("styles", metavar="STYLE", nargs="+")
    run.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="PNG file to write")
    run.add_argument("--config", metavar="TOML", help=run_only_help("--config"))
    run.add_argument("--config-from", metavar="PNG", help=run_only_help("--config-from"))
    add_setting_flags(run)
    run.add_argument("--masks", nargs="+", metavar="MASK", help=run_only_help("--masks"))
    run.add_argument("--save-every", type=int, metavar="N", help=run_only_help("--save-every"))
    run.add_argument("--checkpoint-every", type=float, default=300.0, metavar="SECONDS",
                     help=run_only_help("--checkpoint-every"))
    run.add_argument("--resume", action="store_true", help=run_only_help("--resume"))
    run.add_argument("--quiet", action="store_true", help=run_only_help("--quiet"))
    add_executor_flags(run)
    add_sweep_parser(sub)
    add_video_parser(sub)
    serve = sub.add_parser("serve", help="the studio: a web page to stylize, watch and browse runs")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--data-dir", metavar="DIR", help="runs and images (default ~/.local/share/stylo)")
    serve.add_argument("--token", help="required for every request; needed to listen beyond this machine")
    serve.add_argument("--max-memory", metavar="SIZE", help="memory budget of the server's runs, e.g. 8G "
                                                           "(default 30 %% of RAM); bounds the sizes offered")
    layers = sub.add_parser("layers", help="list a model's named layers")
    layers.add_argument("--model", default="vgg19")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The defaults, then ``--config-from PNG`` (its artistic settings and seed), then ``--config TOML``, then the
    flags. Each file's values are checked on their own (an error names the file and the key); an error that
    only the files' values cause names the files."""
    from stylo.config import file_changes, from_mapping, read_toml

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
    from stylo.config import MACHINE_FIELDS, file_changes
    from stylo.image import read_manifest

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


def cmd_layers(args: argparse.Namespace) -> int:
    from stylo.layers import layer_table

    print(f"{'layer':<9} {'channels':>8}  {'scale':>5}")
    for info in layer_table(args.model):
        print(f"{info.name:<9} {info.channels:>8}  1/{2 ** info.downsamples:<3}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace, stop: StopFlag) -> int:
    from stylo.progress import ProgressLine
    from stylo.render import Job, render

    settings = settings_from_args(args)
    if Path(args.content).is_dir():
        from stylo.experiments.commands import cmd_batch

        return cmd_batch(args, settings)
    if args.executor != "local" or args.workers != 1 or args.ray_address:
        raise StyloError("--executor, --workers and --ray-address spread a folder of content images; "
                         "a single image runs here")
    job = Job(Path(args.content), tuple(map(Path, args.styles)), Path(args.output), settings,
              masks=tuple(map(Path, args.masks or ())), save_every=args.save_every,
              checkpoint_every=args.checkpoint_every, resume=args.resume)
    progress = None if args.quiet else ProgressLine()
    try:
        done = render(job, progress, stop.should_stop)
    except KeyboardInterrupt:  # before the first step (loading, targets), or a second signal
        _close(progress)
        print(f"stylo: interrupted before a step finished; {shown(job.output)} was not written", file=sys.stderr)
        return EXIT_INTERRUPTED
    _close(progress)
    result = done.result
    if result.interrupted:
        print(f"stylo: interrupted after {result.steps} steps; saved the current image to {shown(job.output)}; "
              "`--resume` continues", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.quiet:
        print(f"stylo: wrote {shown(job.output)} ({result.elapsed:.1f} s, loss {result.loss:.4g}, "
              f"seed {result.seed})", file=sys.stderr)
    return EXIT_OK


def _close(progress: Any) -> None:
    if progress is not None:
        progress.close()


def dispatch(args: argparse.Namespace, stop: StopFlag) -> int:
    if args.command == "sweep":
        from stylo.experiments.commands import cmd_sweep

        return cmd_sweep(args, settings_from_args(args))
    if args.command == "video":
        from stylo.video.commands import cmd_video

        return cmd_video(args, settings_from_args(args), stop=stop)
    if args.command == "eval":
        from stylo.experiments.commands import cmd_eval

        return cmd_eval(args)
    return cmd_layers(args) if args.command == "layers" else cmd_run(args, stop)


def main(argv: Sequence[str] | None = None) -> int:
    """Ctrl-C and SIGTERM: see :mod:`stylo.interrupt` (the studio's server handles its own)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            from stylo.web.serve import cmd_serve

            return cmd_serve(args)
        with StopFlag() as stop:
            return dispatch(args, stop)
    except StyloError as exc:
        print(f"stylo: {shown(flag_message(str(exc), exc.settings))}", file=sys.stderr)
        return exc.exit_code
    except MemoryError:
        print("stylo: out of memory; lower --size or set --max-memory", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("stylo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
