from __future__ import annotations

import pytest

from stylo.errors import StyloError
from stylo.layers import ARCHITECTURES, deepest_layer, geometry, layer_names, layer_table, min_side


def test_vgg19_names_follow_gatys() -> None:
    names = layer_names("vgg19")
    assert names[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert names[-3:] == ("conv5_4", "relu5_4", "pool5")
    assert len(names) == 16 * 2 + 5


@pytest.mark.parametrize(("model", "convs"), [("vgg11", 8), ("vgg13", 10), ("vgg16", 13), ("vgg19", 16)])
def test_conv_counts(model: str, convs: int) -> None:
    assert sum(info.kind == "conv" for info in layer_table(model)) == convs
    assert len(layer_table(model)) == len(ARCHITECTURES[model]) + convs  # conv+relu per conv, one per pool


def test_channels_and_indices_match_torchvision_numbering() -> None:
    table = {info.name: info for info in layer_table("vgg19")}
    assert table["relu4_2"].channels == 512 and table["relu4_2"].index == 22
    assert table["conv1_1"].index == 0 and table["pool5"].index == 36
    assert table["relu3_1"].downsamples == 2


def test_deepest_layer_and_min_side() -> None:
    assert deepest_layer("vgg19", ("relu4_2", "relu1_1", "relu5_1")).name == "relu5_1"
    assert min_side("vgg19", ("relu1_1", "relu5_1")) == 16
    assert min_side("vgg19", ("relu2_2",)) == 2


def test_unknown_model() -> None:
    with pytest.raises(StyloError, match="unknown model 'alexnet'"):
        layer_table("alexnet")


def test_geometry_of_a_named_model() -> None:
    g = geometry("vgg19")
    assert g.stride("relu3_1") == 4 and g.stride("pool5") == 32 and g.stride("conv1_1") == 1
    assert g.reach["relu5_1"] == 70 and g.halo(("relu5_1",)) == 80  # 70 px rounded up to the 16 px grid
    assert g.halo(("relu1_1",)) == 1 and g.deepest(("relu4_2", "relu1_1")) == "relu4_2"
    assert g.min_side(("relu1_1", "relu5_1")) == min_side("vgg19", ("relu1_1", "relu5_1")) == 16
