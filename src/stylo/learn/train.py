"""``stylo learn``'s loop: fine-tune Magenta's arbitrary-style transform network for one painting (or a blend)
against stylo's own objective, the one ``stylo run`` minimizes (:class:`stylo.objective.Objective` with the run's
:class:`~stylo.config.Settings`: the same layers, weights, normalization and TV).

It starts from the arbitrary network with the painting's style code (:func:`stylo.feedforward.blended_code`). The
style's Gram targets are computed once, from the style at the size ``stylo run --size`` would give it; each step
paints a random crop of a training photo (:mod:`stylo.learn.photos`; resized so that its long side is the run's
``size``, randomly flipped), scores the painting against that crop's content features and the cached Grams, and
takes one Adam step on what :attr:`LearnSettings.train` names. A colour term (:class:`ColorTerm`) can hold each
crop's per-channel mean and spread to the untuned network's painting of it, which keeps the palette.

Like a long run: a :class:`LearnStep` per step (for a progress line with ETA), a checkpoint beside the output
every ``checkpoint_every`` seconds and when stopped (``should_stop``, Ctrl-C), and ``resume`` continuing from it
(the step count, the parameters, Adam's moments and the crop sampler continue)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from PIL import Image

from stylo.config import Settings
from stylo.errors import StyloError
from stylo.files import shown
from stylo.learn.file import NetworkFile, png_tensor, read, write
from stylo.learn.network import flushed_denormals
from stylo.learn.photos import Photo
from stylo.learn.scoring import ColorTerm, Scorer, crop_loss
from stylo.networks.layers import ConditionalInstanceNorm
from stylo.networks.transform import TransformNetwork
from stylo.settings_io import as_settings

Trained = Literal["code", "norms", "all"]


@dataclass(frozen=True)
class LearnSettings:
    """``stylo learn``'s own options (the objective's are :class:`~stylo.config.Settings`)."""

    steps: int = 150  # Adam steps (one crop each); the measured recipe (docs/learn.md)
    crop: int = 256  # side of the training crops, px (at most the smallest photo's short side)
    lr: float = 1e-4  # Adam's learning rate
    train: Trained = "all"  # code: the style code only; norms: the conditional norms' dense layers; all: all
    color_weight: float = 1e8  # weight of the ColorTerm (0: off); 1e8 keeps the palette (docs/learn.md)
    tv_factor: float = 1.0  # the network's TV weight is the settings' times this (10 blurred and cost style)
    content_factor: float = 10.0  # the network's content weight is the settings' times this (it has no photo
    # start to keep the shapes: at 1 it dissolved them, docs/learn.md)
    seed: int = 0  # the crop sampler's seed

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def check(self) -> None:
        if self.steps < 1 or self.crop < 16 or not (self.lr > 0) or self.train not in ("code", "norms", "all") \
                or self.color_weight < 0 or self.tv_factor < 0 or not (self.content_factor > 0):
            raise StyloError(f"bad learn settings: {self.to_dict()}")


@dataclass(frozen=True)
class LearnStep:
    """One training step, for a progress line."""

    step: int
    total_steps: int
    loss: float
    content_loss: float
    style_loss: float
    elapsed: float  # seconds, this session
    eta: float  # seconds left (NaN until a few steps are done)


@dataclass
class LearnResult:
    contents: NetworkFile
    steps: int  # steps done in all (a resumed run counts the earlier ones)
    interrupted: bool
    elapsed: float
    output: Path | None
    history: list[float] = field(default_factory=list)


def parameters(transform: TransformNetwork, code: torch.nn.Parameter, train: Trained) -> list[torch.nn.Parameter]:
    """What ``train`` names, in a fixed order; the rest is frozen."""
    transform.requires_grad_(False)
    code.requires_grad_(train == "code")
    if train == "code":
        return [code]
    if train == "norms":
        params = [p for m in transform.modules() if isinstance(m, ConditionalInstanceNorm) for p in m.parameters()]
    else:
        params = list(transform.parameters())
    for p in params:
        p.requires_grad_(True)
    return params


def style_tensors(styles: Sequence[Image.Image], s: Settings, device: torch.device) -> list[torch.Tensor]:
    """Each style at the size ``stylo run --size`` gives it for a 4:3 photo (pyramid.style_size_for)."""
    from stylo.image import resize, to_tensor
    from stylo.pyramid import style_size_for

    nominal = (s.size, max(1, round(s.size * 3 / 4)))
    scales = s.style_scale or (1.0,) * len(styles)
    return [to_tensor(resize(img, style_size_for(img, nominal, s, 1.0, scale), s.resample)).to(device)
            for img, scale in zip(styles, scales)]


def photo_tensors(photos: Sequence[Photo], s: Settings, device: torch.device) -> list[torch.Tensor]:
    """Each photo resized so that its long side is the run's ``size``: the scale a ``--size`` run paints at."""
    from stylo.image import fit_long_side, resize, to_tensor

    return [to_tensor(resize(p.image, fit_long_side(p.image.size, s.size), s.resample)).to(device) for p in photos]


def crop_side(images: Sequence[torch.Tensor], crop: int) -> int:
    """``crop``, or the smallest photo's short side when that is smaller (a 256 px run of 16:9 photos crops 144 px):
    the photos are never enlarged to fit a crop, which would paint them at another scale."""
    side = min(crop, *(min(img.shape[-2:]) for img in images))
    if side < 16:
        raise StyloError(f"the training photos are too small at this --size: a crop of {side} px (at least 16)")
    return side


def random_crop(images: Sequence[torch.Tensor], crop: int, generator: torch.Generator) -> torch.Tensor:
    i = int(torch.randint(len(images), (1,), generator=generator))
    img = images[i]
    h, w = img.shape[-2:]
    top = int(torch.randint(h - crop + 1, (1,), generator=generator))
    left = int(torch.randint(w - crop + 1, (1,), generator=generator))
    out = img[..., top:top + crop, left:left + crop]
    if int(torch.randint(2, (1,), generator=generator)):
        out = out.flip(-1)
    return out.contiguous()


def run_key(s: Settings, ls: LearnSettings, hashes: Sequence[str], blend: Sequence[float],
            photos: Sequence[str]) -> str:
    """What a checkpoint must match to be resumed (every setting but the step count)."""
    learn = {k: v for k, v in ls.to_dict().items() if k != "steps"}
    text = json.dumps([s.to_dict(), learn, list(hashes), list(blend), list(photos)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def checkpoint_path(output: Path | str) -> Path:
    output = Path(output)
    return output.with_name(output.name + ".checkpoint")


def learn(
    styles: Sequence[Image.Image | Path | str] | Image.Image | Path | str,
    output: Path | str | None = None,
    photos: Sequence[Photo] | None = None,
    settings: Settings | Mapping[str, Any] | None = None,
    learn_settings: LearnSettings | None = None,
    *,
    net: Any = None,
    on_step: Callable[[LearnStep], object] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: bool = False,
    checkpoint_every: float = 120.0,
    device: str | torch.device | None = None,
) -> LearnResult:
    """Train a network for ``styles`` (images or paths; several are blended by ``style_blend``) on ``photos``
    (default: :func:`stylo.learn.photos.training_photos`), against the objective of ``settings``.

    With ``output``, the ``.stylo.pt`` file is written there when done or stopped, and a checkpoint beside it
    (``NAME.stylo.pt.checkpoint``) every ``checkpoint_every`` s and when stopped; ``resume`` continues from that
    checkpoint (refused if it belongs to other settings, styles or photos). Returns the file's contents, whether
    it was stopped, and the loss of every step."""
    from stylo import optimize
    from stylo.feedforward import blended_code
    from stylo.image import open_image
    from stylo.learn.photos import training_photos
    from stylo.networks import load_file
    from stylo.plan import Runtime, plan_run

    s, ls = as_settings(settings), learn_settings or LearnSettings()
    ls.check()
    items: list[Image.Image | Path | str] = list(styles) if isinstance(styles, (list, tuple)) else [styles]  # type: ignore[list-item]
    if not items:
        raise StyloError("at least one style image is needed")
    images, names, hashes = [], [], []
    for item in items:
        if isinstance(item, Image.Image):
            img = item.convert("RGB")
            names.append("style")
            hashes.append(hashlib.sha256(img.tobytes() + repr(img.size).encode()).hexdigest())
        else:
            from stylo.learn.file import sha256_of

            img = open_image(item, "style image")
            names.append(Path(item).name)
            hashes.append(sha256_of(item))
        images.append(img)
    blend = optimize.blend_weights(s, len(images))
    photos = list(photos) if photos is not None else training_photos()
    labels = [p.label for p in photos]
    s_net = s.replace(tv_weight=s.tv_weight * ls.tv_factor, content_weight=s.content_weight * ls.content_factor)
    if net is None:
        net = optimize.backbone_for(s)
    # the device from the run plan, like every run's (training computes in fp32: its crops are small)
    runtime = Runtime(str(device) if device is not None else s.device, "fp32", s.max_memory, s.tile)
    dev = plan_run(s, (ls.crop, ls.crop), runtime, geometry=net.geometry, repeatable=True).device
    net = net.to(dev)

    styles_t = style_tensors(images, s, dev)
    scorer = Scorer(net, s_net, styles_t, blend, ls.color_weight)
    reference = load_file(None, dev).transform  # the untuned network: the start, and the colour term's target
    transform = load_file(None, dev).transform
    code0 = blended_code(styles_t, blend).detach()
    code = torch.nn.Parameter(code0.clone())
    params = parameters(transform, code, ls.train)
    transform.train()
    optimizer = torch.optim.Adam(params, lr=ls.lr)
    generator = torch.Generator().manual_seed(ls.seed)
    key = run_key(s, ls, hashes, blend, labels)
    crops = photo_tensors(photos, s, dev)
    side = crop_side(crops, ls.crop)

    start_step = 0
    ckpt = checkpoint_path(output) if output is not None else None
    if resume:
        if ckpt is None or not ckpt.exists():
            raise StyloError(f"no checkpoint to resume: {shown(ckpt) if ckpt else '(no output)'} does not exist")
        saved = read(ckpt, "checkpoint")
        if saved.extra.get("key") != key:
            raise StyloError("the checkpoint belongs to another training (other settings, styles or photos); "
                             "resume with the same ones, or start again without --resume")
        try:
            transform.load_state_dict(saved.transform, strict=True)
            with torch.no_grad():
                code.copy_(saved.code)
            optimizer.load_state_dict(saved.extra["optimizer"])
            generator.set_state(saved.extra["generator"])
        except (RuntimeError, KeyError, ValueError, TypeError):
            raise StyloError(f"{shown(ckpt)} is a damaged checkpoint") from None
        start_step = saved.steps_done

    style_entries = [{"name": n, "sha256": h, "png": png_tensor(im)} for n, h, im in zip(names, hashes, images)]

    def contents(done: int, with_state: bool) -> NetworkFile:
        extra = {"optimizer": optimizer.state_dict(), "generator": generator.get_state(), "key": key} \
            if with_state else {}
        return NetworkFile(s.to_dict(), ls.to_dict(), style_entries, blend, ls.train, done, labels,
                           code.detach().clone(), transform.state_dict(), extra=extra)

    history: list[float] = []
    began = time.perf_counter()
    last_checkpoint = began
    step, interrupted = start_step, False
    with flushed_denormals():
        while step < ls.steps:
            if should_stop is not None and should_stop():
                interrupted = True
                break
            crop = random_crop(crops, side, generator)
            with torch.no_grad():
                ref = reference(crop, code0) if ls.color_weight else None
            objective = scorer.objective(crop, ref)
            optimizer.zero_grad(set_to_none=True)
            painted = transform(crop, code)
            parts = objective(painted)
            if not torch.isfinite(parts.total):
                raise StyloError(f"training diverged at step {step + 1} (loss {parts.total.item()}); "
                                 "lower --lr")
            parts.total.backward()
            optimizer.step()
            step += 1
            history.append(parts.total.item())
            now = time.perf_counter()
            done_here = step - start_step
            eta = (now - began) / done_here * (ls.steps - step) if done_here >= 2 else math.nan
            if on_step is not None:
                on_step(LearnStep(step, ls.steps, history[-1], parts.content.item(), parts.style.item(),
                                  now - began, eta))
            if ckpt is not None and now - last_checkpoint >= checkpoint_every and step < ls.steps:
                write(ckpt, contents(step, True))
                last_checkpoint = now
    transform.eval()
    final = contents(step, False)
    if output is not None:
        if interrupted:
            assert ckpt is not None
            write(ckpt, contents(step, True))
        write(output, final)
        if not interrupted and ckpt is not None:
            ckpt.unlink(missing_ok=True)
    return LearnResult(final, step, interrupted, time.perf_counter() - began, Path(output) if output else None,
                       history)


__all__ = ["ColorTerm", "LearnResult", "LearnSettings", "LearnStep", "Scorer", "checkpoint_path", "crop_loss",
           "crop_side", "learn", "parameters", "photo_tensors", "random_crop", "style_tensors"]
