"""``stylo learn STYLE [STYLE ...] -o NAME.stylo.pt``: fine-tune the arbitrary-style network for a painting (or a
blend) against stylo's objective (:mod:`stylo.learn`); ``stylo run PHOTO --network NAME.stylo.pt`` uses it."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from stylo.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    add_config_flags,
    add_quiet_flag,
    setting_parser,
    settings_from_args,
)
from stylo.errors import StyloError
from stylo.files import shown
from stylo.interrupt import StopFlag

# The objective's settings that learn takes as flags (the rest through --config TOML)
SETTING_FLAGS = ("size", "content_weight", "style_weight", "tv_weight", "style_blend", "style_scale", "device")


def add_learn_parser(sub: Any) -> None:
    from stylo.learn.train import LearnSettings

    d = LearnSettings()
    learn = sub.add_parser("learn", help="train a fast network for a painting (use it with `stylo run --network`)")
    learn.add_argument("styles", metavar="STYLE", nargs="+")
    learn.add_argument("-o", "--output", required=True, metavar="NAME.stylo.pt", help="network file to write")
    learn.add_argument("--photos", nargs="+", metavar="DIR", default=[],
                       help="folders of training photos, added to stylo's bundled ones (the look panel's are left out)")
    learn.add_argument("--only-photos", action="store_true", help="train on the --photos folders only")
    learn.add_argument("--steps", dest="learn_steps", type=_positive, default=d.steps, metavar="N",
                       help=f"training steps, one crop each (default: {d.steps})")
    learn.add_argument("--crop", type=_positive, default=d.crop, metavar="PX",
                       help=f"side of the training crops (default: {d.crop})")
    learn.add_argument("--lr", dest="learn_lr", type=float, default=d.lr, metavar="LR",
                       help=f"Adam's learning rate (default: {d.lr})")
    learn.add_argument("--train", choices=["code", "norms", "all"], default=d.train,
                       help=f"what to train: the style code, the conditional norms, or all (default: {d.train})")
    learn.add_argument("--color-weight", type=float, default=d.color_weight, metavar="X",
                       help="hold each crop's colour mean and spread to the untuned network's painting "
                            f"of it (default: {d.color_weight:g})")
    learn.add_argument("--tv-factor", type=float, default=d.tv_factor, metavar="X",
                       help=f"the network's TV weight is --tv-weight times this (default: {d.tv_factor:g})")
    learn.add_argument("--content-factor", type=float, default=d.content_factor, metavar="X",
                       help="the network's content weight is --content-weight times this: a network has no photo "
                            f"start to keep the shapes (default: {d.content_factor:g})")
    learn.add_argument("--seed", dest="learn_seed", type=int, default=d.seed, metavar="N",
                       help=f"the crop sampler's seed (default: {d.seed})")
    learn.add_argument("--checkpoint-every", type=float, default=120.0, metavar="SECONDS",
                       help="write NAME.stylo.pt.checkpoint this often (default: 120)")
    learn.add_argument("--resume", action="store_true", help="continue from NAME.stylo.pt.checkpoint")
    add_config_flags(learn)
    from stylo.config import FIELDS

    for name in SETTING_FLAGS:
        f = FIELDS[name]
        learn.add_argument("--" + name.replace("_", "-"), dest=name, default=argparse.SUPPRESS,
                           type=setting_parser(name), metavar=f.metadata.get("metavar") or name.upper(),
                           help=str(f.metadata["help"]).replace("%", "%%"))
    add_quiet_flag(learn)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def format_learn_step(step: Any) -> str:
    from stylo.progress import format_duration

    return (f"step {step.step}/{step.total_steps}  loss {step.loss:.4g} (content {step.content_loss:.3g}, "
            f"style {step.style_loss:.3g})  {format_duration(step.elapsed)} elapsed, "
            + ("estimating time left" if math.isnan(step.eta) else f"{format_duration(step.eta)} left"))


def cmd_learn(args: argparse.Namespace, stop: StopFlag) -> int:
    """``stylo learn``: a :class:`~stylo.jobs.LearnJob` through :func:`~stylo.jobs.run_job`, a progress line from
    its events; Ctrl-C saves the network so far and a checkpoint (exit 130)."""
    from stylo.jobs import LearnJob, raise_failed, run_job
    from stylo.learn.train import LearnResult, LearnSettings, checkpoint_path
    from stylo.progress import ProgressLine

    ls = LearnSettings(steps=args.learn_steps, crop=args.crop, lr=args.learn_lr, train=args.train,
                       color_weight=args.color_weight, tv_factor=args.tv_factor,
                       content_factor=args.content_factor, seed=args.learn_seed)
    job = LearnJob(tuple(map(Path, args.styles)), Path(args.output), settings_from_args(args), ls,
                   tuple(map(Path, args.photos)), args.only_photos, args.resume, args.checkpoint_every)
    progress = None if args.quiet else ProgressLine(format=format_learn_step)
    try:
        result = raise_failed(run_job(job, progress, stop.should_stop)).outcome
    except KeyboardInterrupt:
        _close(progress)
        print(f"stylo: interrupted before a step finished; {shown(job.output)} was not written", file=sys.stderr)
        return EXIT_INTERRUPTED
    _close(progress)
    assert isinstance(result, LearnResult)
    if result.interrupted:
        print(f"stylo: interrupted after {result.steps} steps; saved the network so far to {shown(job.output)} "
              f"and a checkpoint to {shown(checkpoint_path(job.output))}; `--resume` continues", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.quiet:
        print(f"stylo: wrote {shown(job.output)} ({result.steps} steps on {len(result.contents.photos)} photos, "
              f"{result.elapsed:.0f} s)", file=sys.stderr)
    return EXIT_OK


def _close(progress: Any) -> None:
    if progress is not None:
        progress.close()


def run_network_folder(args: argparse.Namespace, settings: Any, stop: StopFlag) -> int:
    """``stylo run FOLDER --network NAME.stylo.pt -o OUTDIR``: a :class:`~stylo.jobs.PaintJob` per image of the
    folder (named as a batch names them); an image that fails is counted and the others are still painted."""
    from stylo.cli.batch import batch_outputs
    from stylo.events import Failed
    from stylo.files import spare_inputs
    from stylo.jobs import PaintJob, run_jobs

    out = Path(args.output)
    outputs = batch_outputs(Path(args.content), out)
    contents = list(outputs)
    spare_inputs(outputs.values(), [*contents, Path(args.network)])
    out.mkdir(parents=True, exist_ok=True)
    jobs = [PaintJob(path, Path(args.network), target, settings, args.refine, strength=args.strength)
            for path, target in outputs.items()]
    outcomes = run_jobs(jobs, None, stop.should_stop)
    for outcome in outcomes:
        if isinstance(outcome, Failed):
            print(f"stylo: {shown(outcome.job.content)}: {outcome.error}", file=sys.stderr)
    written = sum(not isinstance(o, Failed) for o in outcomes)
    if not args.quiet:
        print(shown(f"stylo: {written} of {len(contents)} images written to {out}"), file=sys.stderr)
    if stop.should_stop():
        return EXIT_INTERRUPTED
    return EXIT_OK if written == len(contents) else 1


def cmd_run_network(args: argparse.Namespace, stop: StopFlag) -> int:
    """``stylo run PHOTO --network NAME.stylo.pt -o OUT.png [--refine N]``: a :class:`~stylo.jobs.PaintJob` (the
    network's painting of the photo at ``--size``, by default the size it was trained for; with ``--refine N``,
    N optimizer steps of the network's objective from that picture) through :func:`~stylo.jobs.run_job`."""
    from stylo.cli.common import settings_from_namespace
    from stylo.events import Painted
    from stylo.jobs import PaintJob, raise_failed, run_job
    from stylo.learn.jobs import network_settings
    from stylo.learn.network import Network

    if args.styles:
        raise StyloError("--network paints without style images; drop the STYLE arguments "
                         "(the network file keeps its own)")
    if args.refine < 0:
        raise StyloError("--refine must be >= 0")
    if args.masks or args.resume or args.config or args.config_from:
        raise StyloError("--network does not take --masks, --resume, --config or --config-from")
    settings = network_settings(Network.load(args.network), settings_from_namespace(args))
    if Path(args.content).is_dir():
        return run_network_folder(args, settings, stop)
    job = PaintJob(Path(args.content), Path(args.network), Path(args.output), settings, args.refine,
                   strength=args.strength)
    progress = None
    if args.refine and not args.quiet:
        from stylo.progress import ProgressLine

        progress = ProgressLine()
    try:
        done = raise_failed(run_job(job, progress, stop.should_stop)).outcome
    finally:
        _close(progress)
    assert isinstance(done, Painted)
    if done.interrupted:
        print(f"stylo: interrupted after {done.refine_steps} refine steps; saved the current image to "
              f"{shown(done.output)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.quiet:
        print(f"stylo: wrote {shown(done.output)} ({done.manifest['elapsed_s']:.2f} s, network "
              f"{shown(args.network)}" + (f", {done.refine_steps} refine steps" if done.refine_steps else "") + ")",
              file=sys.stderr)
    return EXIT_OK
