"""``stylo run`` (one content image here; a folder of them through :mod:`stylo.cli.batch`) and ``stylo layers``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from stylo.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    add_config_flags,
    add_executor_flags,
    add_quiet_flag,
    add_setting_flags,
    run_only_help,
    settings_from_args,
)
from stylo.errors import StyloError
from stylo.files import shown
from stylo.interrupt import StopFlag


def add_run_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="stylize a content image")
    run.add_argument("content", metavar="CONTENT")
    run.add_argument("styles", metavar="STYLE", nargs="*", help="style images (none with --network)")
    run.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="PNG file to write")
    add_config_flags(run)
    add_setting_flags(run)
    run.add_argument("--masks", nargs="+", metavar="MASK", help=run_only_help("--masks"))
    run.add_argument("--save-every", type=int, metavar="N", help=run_only_help("--save-every"))
    run.add_argument("--checkpoint-every", type=float, default=300.0, metavar="SECONDS",
                     help=run_only_help("--checkpoint-every"))
    run.add_argument("--resume", action="store_true", help=run_only_help("--resume"))
    run.add_argument("--network", metavar="NAME.stylo.pt",
                     help="paint with a network that `stylo learn` trained (no style image needed)")
    run.add_argument("--refine", type=int, default=0, metavar="N",
                     help="with --network: N steps of the optimization from the network's picture (default: 0)")
    run.add_argument("--strength", type=float, default=1.0, metavar="S",
                     help="with --network: from 0 (close to the photo) to 1 (the learned style; the default)")
    add_quiet_flag(run)
    add_executor_flags(run)


def add_layers_parser(sub: Any) -> None:
    layers = sub.add_parser("layers", help="list a model's named layers")
    layers.add_argument("--model", default="vgg19")


def cmd_layers(args: argparse.Namespace) -> int:
    from stylo.layers import layer_table

    print(f"{'layer':<9} {'channels':>8}  {'scale':>5}")
    for info in layer_table(args.model):
        print(f"{info.name:<9} {info.channels:>8}  1/{2 ** info.downsamples:<3}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace, stop: StopFlag) -> int:
    from stylo.jobs import StillJob, raise_failed, run_job
    from stylo.progress import ProgressLine
    from stylo.render import Rendered

    if args.network is not None:
        from stylo.cli.learn import cmd_run_network

        return cmd_run_network(args, stop)
    if args.refine or args.strength != 1.0:
        raise StyloError("--refine and --strength go with --network")
    if not args.styles:
        raise StyloError("at least one STYLE image is needed (or --network NAME.stylo.pt)")
    settings = settings_from_args(args)
    if Path(args.content).is_dir():
        from stylo.cli.batch import cmd_batch

        return cmd_batch(args, settings)
    if args.executor != "local" or args.workers != 1 or args.ray_address:
        raise StyloError("--executor, --workers and --ray-address spread a folder of content images; "
                         "a single image runs here")
    job = StillJob(Path(args.content), tuple(map(Path, args.styles)), Path(args.output), settings,
                   masks=tuple(map(Path, args.masks or ())), save_every=args.save_every,
                   checkpoint_every=args.checkpoint_every, resume=args.resume)
    progress = None if args.quiet else ProgressLine()
    try:
        outcome = run_job(job, progress, stop.should_stop)
    except KeyboardInterrupt:  # before the first step (loading, targets), or a second signal
        _close(progress)
        print(f"stylo: interrupted before a step finished; {shown(job.output)} was not written", file=sys.stderr)
        return EXIT_INTERRUPTED
    _close(progress)
    done = raise_failed(outcome).outcome
    assert isinstance(done, Rendered)
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
