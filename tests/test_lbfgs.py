from __future__ import annotations

import torch

from stylo.lbfgs import BoxLBFGS


def quadratic(center: torch.Tensor, scales: torch.Tensor):
    def evaluate(x: torch.Tensor):
        diff = x - center
        return float((scales * diff**2).sum()), 2 * scales * diff, None

    return evaluate


def test_converges_to_the_projection_of_an_outside_minimum() -> None:
    center = torch.tensor([-2.0, 0.3, 0.7, 5.0, 0.5])
    x = torch.full((5,), 0.5)
    opt = BoxLBFGS(x, quadratic(center, torch.tensor([1.0, 10.0, 100.0, 3.0, 0.1])), 0.0, 1.0, first_step=0.1)
    losses = [opt.step() for _ in range(60)]
    assert torch.allclose(x, center.clamp(0, 1), atol=1e-4)
    assert all(b <= a for a, b in zip(losses, losses[1:]))  # never rises
    assert x.min() >= 0 and x.max() <= 1


def test_rosenbrock_inside_the_box_and_monotone() -> None:
    def evaluate(v: torch.Tensor):
        v = v.detach().requires_grad_(True)
        f = (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2
        f.backward()
        return float(f.detach()), v.grad, None

    x = torch.tensor([-1.2, 1.0], dtype=torch.float64)
    opt = BoxLBFGS(x, evaluate, -2.0, 2.0, first_step=0.1)
    losses = [opt.step() for _ in range(200)]
    assert losses[-1] < 1e-8 and torch.allclose(x, torch.tensor([1.0, 1.0], dtype=torch.float64), atol=1e-3)
    assert all(b <= a for a, b in zip(losses, losses[1:]))


def test_first_step_moves_no_coordinate_more_than_first_step() -> None:
    x = torch.zeros(4)
    opt = BoxLBFGS(x, quadratic(torch.tensor([0.0, 0.0, 0.0, 1000.0]), torch.ones(4)), -1e9, 1e9, first_step=2.0)
    opt.step()
    assert x.abs().max().item() == 2.0 and opt.evaluations == 2


def test_aux_belongs_to_the_current_point() -> None:
    def evaluate(x: torch.Tensor):
        return float((x**2).sum()), 2 * x, x.clone()

    x = torch.tensor([3.0, -4.0])
    opt = BoxLBFGS(x, evaluate, -10.0, 10.0, first_step=1.0)
    for _ in range(5):
        opt.step()
        assert torch.equal(opt.aux, x)
