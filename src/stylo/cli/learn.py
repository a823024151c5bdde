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
                       help="folders of training photos, added to scikit-image's (the look panel's are left out)")
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
                       help=f"the network's TV weight is --tv-weight times this (default: {d.tv_factor})")
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


def check_network_output(path: Path, inputs: list[Path]) -> Path:
    """``path`` ends in .pt, is not a folder and none of the inputs; its folder is made and writable."""
    from stylo.image import check_writable

    if path.suffix != ".pt":
        raise StyloError(f"a network file ends in .stylo.pt: {shown(path)}")
    return check_writable(path, inputs)


def format_learn_step(step: Any) -> str:
    from stylo.progress import format_duration

    return (f"step {step.step}/{step.total_steps}  loss {step.loss:.4g} (content {step.content_loss:.3g}, "
            f"style {step.style_loss:.3g})  {format_duration(step.elapsed)} elapsed, "
            + ("estimating time left" if math.isnan(step.eta) else f"{format_duration(step.eta)} left"))


def cmd_learn(args: argparse.Namespace, stop: StopFlag) -> int:
    from stylo.files import regular_file
    from stylo.learn.photos import training_photos
    from stylo.learn.train import LearnSettings, checkpoint_path, learn
    from stylo.progress import ProgressLine

    settings = settings_from_args(args)
    ls = LearnSettings(steps=args.learn_steps, crop=args.crop, lr=args.learn_lr, train=args.train,
                       color_weight=args.color_weight, tv_factor=args.tv_factor, seed=args.learn_seed)
    ls.check()
    styles = [regular_file(p, "style image") for p in args.styles]
    output = check_network_output(Path(args.output), [*styles, *map(Path, args.photos)])
    photos = training_photos(args.photos, only=args.only_photos)
    progress = None if args.quiet else ProgressLine(format=format_learn_step)
    try:
        result = learn(styles, output, photos, settings, ls, on_step=progress.show if progress else None,
                       should_stop=stop.should_stop, resume=args.resume, checkpoint_every=args.checkpoint_every)
    except KeyboardInterrupt:
        if progress:
            progress.close()
        print(f"stylo: interrupted before a step finished; {shown(output)} was not written", file=sys.stderr)
        return EXIT_INTERRUPTED
    if progress:
        progress.close()
    if result.interrupted:
        print(f"stylo: interrupted after {result.steps} steps; saved the network so far to {shown(output)} and "
              f"a checkpoint to {shown(checkpoint_path(output))}; `--resume` continues", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.quiet:
        print(f"stylo: wrote {shown(output)} ({result.steps} steps on {len(photos)} photos, "
              f"{result.elapsed:.0f} s)", file=sys.stderr)
    return EXIT_OK


def cmd_run_network(args: argparse.Namespace, stop: StopFlag) -> int:
    """``stylo run PHOTO --network NAME.stylo.pt -o OUT.png [--refine N]``: the network's painting of the photo
    at ``--size`` (by default the size it was trained for); with ``--refine N``, N optimizer steps of the
    network's objective from that picture, against the style images the file keeps."""
    import hashlib
    import time

    from stylo import __version__
    from stylo.cli.common import settings_from_namespace
    from stylo.config import MACHINE_FIELDS
    from stylo.files import open_regular
    from stylo.image import check_output_path, fit_long_side, open_image, resize, save_png
    from stylo.learn.network import Network
    from stylo.settings_io import from_mapping

    if args.styles:
        raise StyloError("--network paints without style images; drop the STYLE arguments "
                         "(the network file keeps its own)")
    if args.refine < 0:
        raise StyloError("--refine must be >= 0")
    if Path(args.content).is_dir():
        raise StyloError("--network paints one content image; a folder is not supported yet")
    if args.masks or args.resume or args.config or args.config_from:
        raise StyloError("--network does not take --masks, --resume, --config or --config-from")
    began = time.perf_counter()
    network = Network.load(args.network)
    recorded = {k: v for k, v in network.settings.items() if k not in MACHINE_FIELDS}
    settings = from_mapping({**recorded, **settings_from_namespace(args)}, source="the command line")
    output = check_output_path(args.output, [args.content, args.network])
    content = open_image(args.content, "content image")
    photo = resize(content, fit_long_side(content.size, settings.size), settings.resample)
    picture = network(photo)
    steps_done, interrupted = 0, False
    if args.refine:
        from stylo.optimize import Hooks, VideoInputs, stylize_result

        refine = settings.replace(steps=args.refine, scales=1)
        progress = None
        if not args.quiet:
            from stylo.progress import ProgressLine

            progress = ProgressLine()
        try:
            result = stylize_result(photo, network.styles(), refine,
                                    Hooks(on_step=progress, should_stop=stop.should_stop),
                                    video=VideoInputs(start=picture))
        finally:
            if progress is not None:
                progress.close()
        picture, steps_done, interrupted = result.image, result.steps, result.interrupted
        settings = refine.replace(seed=result.seed)
    with open_regular(args.network, "network file") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    manifest = {"stylo_version": __version__, "settings": settings.to_dict(), "seed": settings.seed,
                "content": Path(args.content).name, "styles": network.style_names,
                "network": Path(args.network).name, "network_sha256": digest,
                "network_steps": network.contents.steps_done, "refine_steps": steps_done,
                "interrupted": interrupted, "elapsed_s": round(time.perf_counter() - began, 3), "device": "cpu"}
    save_png(picture, output, manifest)
    if interrupted:
        print(f"stylo: interrupted after {steps_done} refine steps; saved the current image to {shown(output)}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.quiet:
        print(f"stylo: wrote {shown(output)} ({manifest['elapsed_s']:.2f} s, network {shown(args.network)}"
              + (f", {steps_done} refine steps" if steps_done else "") + ")", file=sys.stderr)
    return EXIT_OK
