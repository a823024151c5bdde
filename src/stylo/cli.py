"""The ``stylo`` command: parse flags into :class:`~stylo.config.Settings`, call the pipeline, report.

Exit status: 0 success; 1 the run failed (it diverged, or the output could not be written: the message says
where the image was kept); 2 bad input or usage (one line on stderr, no traceback, nothing written);
130 interrupted (image saved).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from stylo import __version__
from stylo.errors import StyloError
from stylo.experiments.commands import add_executor_flags, add_sweep_parser
from stylo.options import add_setting_flags, flag_message, run_only_help, settings_from_namespace
from stylo.video.commands import add_video_parser

if TYPE_CHECKING:
    from stylo.config import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"stylo: {message} (see `{self.prog} --help`)\n")


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
    from stylo.config import Settings, from_mapping, load_toml
    from stylo.image import read_manifest

    base = Settings()
    if args.config_from:
        base = from_mapping(read_manifest(args.config_from)["settings"], source=args.config_from)
    if args.config:
        base = load_toml(Path(args.config), base)
    return from_mapping(settings_from_namespace(args), base, source="the command line")


def cmd_layers(args: argparse.Namespace) -> int:
    from stylo.layers import layer_table

    print(f"{'layer':<9} {'channels':>8}  {'scale':>5}")
    for info in layer_table(args.model):
        print(f"{info.name:<9} {info.channels:>8}  1/{2 ** info.downsamples:<3}")
    return EXIT_OK


class _StopFlag:
    """SIGINT/SIGTERM set a flag that the engine polls between steps; a second Ctrl-C aborts at once."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def cmd_run(args: argparse.Namespace) -> int:
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
    with _StopFlag() as stop:
        try:
            done = render(job, progress, stop.event.is_set)
        finally:
            if progress is not None:
                progress.close()
    result = done.result
    if result.interrupted:
        print(f"stylo: interrupted after {result.steps} steps; saved the current image to {job.output}; "
              "`--resume` continues", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.quiet:
        print(f"stylo: wrote {job.output} ({result.elapsed:.1f} s, loss {result.loss:.4g}, seed {result.seed})",
              file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "sweep":
            from stylo.experiments.commands import cmd_sweep

            return cmd_sweep(args, settings_from_args(args))
        if args.command == "video":
            from stylo.video.commands import cmd_video

            return cmd_video(args, settings_from_args(args))
        if args.command == "serve":
            from stylo.web.serve import cmd_serve

            return cmd_serve(args)
        if args.command == "eval":
            from stylo.experiments.commands import cmd_eval

            return cmd_eval(args)
        return cmd_layers(args) if args.command == "layers" else cmd_run(args)
    except StyloError as exc:
        print(f"stylo: {flag_message(str(exc), exc.settings)}", file=sys.stderr)
        return exc.exit_code
    except MemoryError:
        print("stylo: out of memory; lower --size or set --max-memory", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("stylo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
