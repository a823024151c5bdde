"""The ``stylo`` command: parse flags into :class:`~stylo.config.Settings`, call the library, report.

One module per command group: :mod:`~stylo.cli.run` (``run``, ``layers``; a folder of content images through
:mod:`~stylo.cli.batch`), :mod:`~stylo.cli.sweep` (``sweep``, ``eval``), :mod:`~stylo.cli.video`,
:mod:`~stylo.cli.serve`, :mod:`~stylo.cli.learn`; the arguments they share are declared once in
:mod:`~stylo.cli.common`. Only this package
turns exceptions into exit codes and one-line messages.

Exit status: 0 success; 1 the run failed (it diverged, or the output could not be written: the message says
where the image was kept); 2 bad input or usage (one line on stderr, no traceback, nothing written);
130 interrupted: Ctrl-C or SIGTERM (during steps the image so far is saved; before them nothing is written).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from stylo import __version__
from stylo.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Parser, settings_from_args
from stylo.cli.learn import add_learn_parser, cmd_learn
from stylo.cli.run import add_layers_parser, add_run_parser, cmd_layers, cmd_run
from stylo.cli.serve import add_serve_parser, cmd_serve
from stylo.cli.sweep import add_eval_parser, add_sweep_parser, cmd_eval, cmd_sweep
from stylo.cli.video import add_video_parser, cmd_video
from stylo.errors import StyloError
from stylo.files import shown
from stylo.interrupt import StopFlag
from stylo.options import flag_message

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main", "settings_from_args"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="stylo", description="Neural style transfer (Gatys et al.) on VGG19.")
    parser.add_argument("--version", action="version", version=f"stylo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    add_run_parser(sub)
    add_sweep_parser(sub)
    add_eval_parser(sub)
    add_video_parser(sub)
    add_serve_parser(sub)
    add_layers_parser(sub)
    add_learn_parser(sub)
    return parser


def dispatch(args: argparse.Namespace, stop: StopFlag) -> int:
    if args.command == "sweep":
        return cmd_sweep(args, settings_from_args(args))
    if args.command == "video":
        return cmd_video(args, settings_from_args(args), stop=stop)
    if args.command == "eval":
        return cmd_eval(args)
    if args.command == "learn":
        return cmd_learn(args, stop)
    return cmd_layers(args) if args.command == "layers" else cmd_run(args, stop)


def main(argv: Sequence[str] | None = None) -> int:
    """Ctrl-C and SIGTERM: see :mod:`stylo.interrupt` (the studio's server handles its own)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
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
