from __future__ import annotations

import math
from pathlib import Path

import pytest

from stylo.config import Settings, content_layer_weights, style_layer_weights
from stylo.errors import StyloError
from stylo.settings_io import from_mapping, load_toml


def test_defaults_are_the_reports_layers_with_the_measured_look() -> None:
    s = Settings()
    assert s.model == "vgg19" and s.optimizer == "lbfgs" and s.init == "feedforward"
    assert s.content_layers == ("relu4_2",)
    assert s.style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert s.content_weight / s.style_weight == pytest.approx(5e-2)  # neural-style's balance (docs/benchmarks.md)
    assert s.coarsest == 256 and s.tv_weight > 0


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().steps = 3  # type: ignore[misc]


def test_default_style_layer_weights_are_inverse_squared_channels() -> None:
    w = style_layer_weights(Settings())
    assert w == {"relu1_1": 1 / 64**2, "relu2_1": 1 / 128**2, "relu3_1": 1 / 256**2,
                 "relu4_1": 1 / 512**2, "relu5_1": 1 / 512**2}
    explicit = Settings(style_layers=("conv1_1", "relu3_1"), style_layer_weights=(0.5, 2.0))
    assert style_layer_weights(explicit) == {"conv1_1": 0.5, "relu3_1": 2.0}
    assert content_layer_weights(Settings(content_layers=("relu2_2", "relu4_2"))) == {"relu2_2": 1.0, "relu4_2": 1.0}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"steps": 0}, "steps must be between 1 and 100000"),
        ({"steps": -5}, "steps must be"),
        ({"coarse_steps": 0}, "coarse_steps must be"),
        ({"content_weight": -1.0}, "content_weight must be between 0 and"),
        ({"style_weight": math.nan}, "style_weight must be a finite number"),
        ({"tv_weight": math.inf}, "tv_weight must be a finite number"),
        ({"lr": 0.0}, "lr must be > 0"),
        ({"model": "resnet50"}, "unknown model 'resnet50'"),
        ({"optimizer": "sgd"}, "unknown optimizer 'sgd'"),
        ({"init": "zeros"}, "unknown init"),
        ({"content_layers": ("relu9_9",)}, "unknown content layer 'relu9_9'"),
        ({"style_layers": ("conv5_4",), "model": "vgg16"}, "unknown style layer 'conv5_4' for vgg16"),
        ({"style_layer_weights": (1.0, 2.0)}, "2 style_layer_weights given for 5 style_layers"),
        ({"style_layer_weights": (1.0, 1.0, -1.0, 1.0, 1.0)}, "style_layer_weights must be between 0 and"),
        ({"content_layer_weights": (math.nan,)}, "content_layer_weights must be"),
        ({"size": 8}, "size must be between 16 and 16384"),
        ({"size": 16385, "max_memory": "100000T"}, "size must be between 16 and 16384"),
        ({"style_size": 4}, "style_size must be"),
        ({"seed": -1}, "seed must be"),
        ({"content_layers": (), "style_layers": ()}, "nothing to optimize"),
    ],
)
def test_bad_settings_are_rejected_with_a_message(changes: dict, message: str) -> None:
    with pytest.raises(StyloError, match=message):
        Settings(**changes)


def test_from_mapping_and_to_dict_round_trip() -> None:
    s = Settings(style_weight=1e4, style_layers=("relu1_1", "relu2_1"), seed=7)
    assert from_mapping(s.to_dict()) == s
    assert from_mapping({"style-weight": 5, "content_layers": "relu3_2"}).content_layers == ("relu3_2",)
    with pytest.raises(StyloError, match="unknown setting 'colour'"):
        from_mapping({"colour": 1})


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('style_weight = 1e4\nsteps = 7\ncontent_layers = ["relu2_2"]\noptimizer = "adam"\n')
    s = load_toml(path)
    assert (s.style_weight, s.steps, s.content_layers, s.optimizer) == (1e4, 7, ("relu2_2",), "adam")
    assert s.learning_rate == 0.02
    path.write_text("steps = [")
    with pytest.raises(StyloError, match="cannot read config file"):
        load_toml(path)
    with pytest.raises(StyloError, match="config file not found"):
        load_toml(tmp_path / "missing.toml")
    path.write_text('steps = "many"\n')
    with pytest.raises(StyloError, match="steps must be an integer"):
        load_toml(path)


def test_nesting_is_bounded_without_recursion() -> None:
    from stylo.config import MAX_DEPTH
    from stylo.settings_io import check_depth

    def nested(depth: int) -> list:
        value: list = []
        for _ in range(depth - 1):
            value = [value]
        return value

    check_depth({"steps": nested(MAX_DEPTH - 1)}, "s.toml")
    with pytest.raises(StyloError, match="s.toml is nested too deeply \\(more than 16 levels\\)"):
        check_depth({"steps": nested(MAX_DEPTH)}, "s.toml")
    with pytest.raises(StyloError, match="nested too deeply"):
        check_depth(nested(100_000), "x.png")  # far beyond Python's recursion limit
