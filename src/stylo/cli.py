"""The ``stylo`` command: parse flags into :class:`~stylo.config.Settings`, call the API, save.

Exit status: 0 success; 2 bad input or usage (one line on stderr, no traceback); 130 interrupted (image saved).
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

if TYPE_CHECKING:
    from stylo.config import Settings

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130

def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


# flag → (settings field, argparse keywords); defaults stay in Settings, so every flag defaults to None.
SETTING_FLAGS: dict[str, dict[str, Any]] = {
    "--size": {"type": int, "metavar": "PX", "help": "long side of the output in pixels (default 512)"},
    "--steps": {"type": int, "help": "optimizer steps at the full size (default 22)"},
    "--coarse-steps": {"type": int, "metavar": "N", "help": "steps at each coarser pyramid level (default 50)"},
    "--scales": {"type": int, "help": "coarse-to-fine pyramid levels, 1 = full size only (default 3)"},
    "--seed": {"type": int, "help": "random seed (default: drawn and recorded in the output)"},
    "--content-weight": {"type": float, "metavar": "ALPHA", "help": "α of Eq. 7 (default 1)"},
    "--style-weight": {"type": float, "metavar": "BETA", "help": "β of Eq. 7 (default 1000)"},
    "--tv-weight": {"type": float, "metavar": "X", "help": "total-variation weight (default 0)"},
    "--optimizer": {"choices": ["lbfgs", "adam"], "help": "default lbfgs"},
    "--lr": {"type": float, "metavar": "X", "help": "learning rate (default 1 for L-BFGS, 0.02 for Adam)"},
    "--model": {"help": "vgg19 (default), vgg16, vgg13 or vgg11"},
    "--weights": {"metavar": "PATH", "help": "torchvision VGG state-dict file (default: bundled Caffe VGG19)"},
    "--pooling": {"choices": ["max", "avg"], "help": "default max"},
    "--normalization": {"choices": ["mean", "paper"], "help": "loss normalization (default mean; see docs)"},
    "--content-layers": {"nargs": "+", "metavar": "L", "help": "default relu4_2"},
    "--style-layers": {"nargs": "+", "metavar": "L", "help": "default relu1_1 relu2_1 relu3_1 relu4_1 relu5_1"},
    "--content-layer-weights": {"nargs": "+", "type": float, "metavar": "W", "help": "default 1 each"},
    "--style-layer-weights": {"nargs": "+", "type": float, "metavar": "W", "help": "default 1/channels² each"},
    "--init": {"choices": ["content", "noise", "style"], "help": "starting image (default content)"},
    "--style-size": {"type": int, "metavar": "PX", "help": "style image long side (default: content's area)"},
    "--resample": {"choices": ["lanczos", "bicubic", "bilinear"], "help": "resize filter (default lanczos)"},
    "--preserve-color": {"choices": ["none", "luminance", "histogram"], "help": "keep the content's colours"},
    "--style-blend": {"type": _floats, "metavar": "W,W", "help": "weights of several styles, e.g. 3,7"},
    "--style-scale": {"type": _floats, "metavar": "S,S", "help": "size of each style relative to the default"},
    "--device": {"choices": ["auto", "cpu", "cuda", "mps"], "help": "default auto"},
    "--precision": {"choices": ["auto", "fp32", "bf16", "fp16"], "help": "default auto (bf16 where fast)"},
}


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
    run.add_argument("--config", metavar="TOML", help="settings file; flags override it")
    run.add_argument("--config-from", metavar="PNG", help="repeat the settings (and seed) recorded in a stylo PNG")
    for flag, kwargs in SETTING_FLAGS.items():
        run.add_argument(flag, default=None, **kwargs)
    run.add_argument("--masks", nargs="+", metavar="MASK",
                     help="region of each style (white = apply); one mask for one style protects its black part, "
                          "one mask for two styles splits white/black between them")
    run.add_argument("--save-every", type=int, metavar="N", help="also save every N-th step as a frame")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    add_executor_flags(run)
    add_sweep_parser(sub, SETTING_FLAGS)
    serve = sub.add_parser("serve", help="the studio: a web page to stylize, watch and browse runs")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--data-dir", metavar="DIR", help="runs and images (default ~/.local/share/stylo)")
    serve.add_argument("--token", help="required for every request; needed to listen beyond this machine")
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
    flags = {flag[2:].replace("-", "_"): getattr(args, flag[2:].replace("-", "_")) for flag in SETTING_FLAGS}
    return from_mapping({k: v for k, v in flags.items() if v is not None}, base, source="the command line")


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
    from stylo.image import check_output_path, open_image, save_png
    from stylo.manifest import build_manifest
    from stylo.optimize import stylize_result
    from stylo.progress import ProgressLine

    settings = settings_from_args(args)
    if Path(args.content).is_dir():
        from stylo.experiments.commands import cmd_batch

        return cmd_batch(args, settings)
    if args.save_every is not None and args.save_every < 1:
        raise StyloError("--save-every must be >= 1")
    output = check_output_path(args.output)
    content = open_image(args.content, "content image")
    styles = [open_image(path, "style image") for path in args.styles]
    masks = [open_image(path, "mask") for path in args.masks or ()]
    progress = None if args.quiet else ProgressLine()

    def on_step(step: Any) -> None:
        if progress is not None:
            progress(step)
        if args.save_every and step.step % args.save_every == 0:
            frames = output.with_name(f"{output.stem}_frames")
            frames.mkdir(exist_ok=True)
            save_png(step.image(), frames / f"step{step.step:05d}.png")

    with _StopFlag() as stop:
        try:
            result = stylize_result(content, styles, settings, on_step, stop.event.is_set, masks=masks)
        finally:
            if progress is not None:
                progress.close()
    manifest = build_manifest(settings, result, args.content, args.styles, args.masks or ())
    save_png(result.image, output, manifest)
    if result.interrupted:
        print(f"stylo: interrupted after {result.steps} steps; saved the current image to {output}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.quiet:
        print(f"stylo: wrote {output} ({result.elapsed:.1f} s, loss {result.loss:.4g}, seed {result.seed})",
              file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "sweep":
            from stylo.experiments.commands import cmd_sweep

            return cmd_sweep(args, settings_from_args(args))
        if args.command == "serve":
            from stylo.web.serve import cmd_serve

            return cmd_serve(args)
        if args.command == "eval":
            from stylo.experiments.commands import cmd_eval

            return cmd_eval(args)
        return cmd_layers(args) if args.command == "layers" else cmd_run(args)
    except StyloError as exc:
        print(f"stylo: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("stylo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
