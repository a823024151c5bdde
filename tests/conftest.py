from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"

# A tiny but real run: 64 px, full size only, a few steps.
FAST = ["--size", "64", "--steps", "3", "--scales", "1", "--seed", "1", "--quiet"]


@pytest.fixture(scope="session")
def small_images(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """96 px copies of the bundled content and style samples."""
    folder = tmp_path_factory.mktemp("images")
    paths = []
    for name in ("tubingen", "starry_night"):
        img = Image.open(SAMPLES / f"{name}.jpg").convert("RGB")
        img.thumbnail((96, 96))
        path = folder / f"{name}.png"
        img.save(path)
        paths.append(path)
    return paths[0], paths[1]


@pytest.fixture(scope="session")
def vgg19():
    from stylo.backbones import load_backbone

    return load_backbone("vgg19")


@pytest.fixture(scope="session")
def tiny():
    """The tiny random backbone (stylo.backbones.tiny_backbone): for tests where VGG19's weights are not the point."""
    from stylo.backbones import tiny_backbone

    return tiny_backbone(0)


@pytest.fixture
def tiny_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs that load their own backbone (``stylo.optimize.backbone_for``) get the tiny one, with the settings'
    pooling, instead of VGG19."""
    from stylo import backbones, optimize

    nets: dict[str, Any] = {}
    monkeypatch.setattr(optimize, "backbone_for",
                        lambda s: nets.setdefault(s.pooling, backbones.tiny_backbone(0, s.pooling)))


def require(module: str) -> Any:
    """Import an optional dependency: skip where it is missing, but fail in CI (``CI=true``), where `make test`
    installed every extra, so that a broken install cannot pass as a skip."""
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module)
