"""The CLI's flags and the README's table come from Settings: nothing is declared twice."""

from __future__ import annotations

import argparse
import re
import typing
from pathlib import Path

import pytest

from stylo.cli import build_parser
from stylo.config import FIELDS, HINTS, Settings, choices, parse_text
from stylo.options import add_setting_flags, flag, flag_message, options_table, replace_table

ROOT = Path(__file__).resolve().parents[1]


def run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_setting_flags(parser)
    return parser


def test_the_readme_table_is_the_generated_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert replace_table(readme) == readme, "run `python docs/options.py`"
    for name in FIELDS:
        assert f"`{flag(name)}" in options_table()


def test_every_setting_has_a_flag_with_its_choices_and_default_in_the_help() -> None:
    parser = run_parser()
    actions = {a.dest: a for a in parser._actions}
    for name, f in FIELDS.items():
        action = actions[name]
        assert action.option_strings == [flag(name)] and action.default == argparse.SUPPRESS  # default: Settings
        if choices(name):
            assert tuple(action.choices) == typing.get_args(HINTS[name])
        assert f.metadata["help"] in action.help and "(default: " in action.help


@pytest.mark.parametrize(
    ("argv", "expected"),
    [(["--size", "64"], {"size": 64}), (["--style-weight", "1e4"], {"style_weight": 1e4}),
     (["--style-layers", "relu1_1", "relu2_1"], {"style_layers": ("relu1_1", "relu2_1")}),
     (["--style-blend", "3,7"], {"style_blend": (3.0, 7.0)}), (["--style-size", "none"], {"style_size": None}),
     (["--pooling", "avg"], {"pooling": "avg"}), (["--max-memory", "8G"], {"max_memory": "8G"}),
     (["--style-layer-weights", "1", "2"], {"style_layer_weights": (1.0, 2.0)})],
)
def test_flags_parse_into_typed_settings(argv: list[str], expected: dict) -> None:
    from stylo.options import settings_from_namespace

    given = settings_from_namespace(run_parser().parse_args(argv))
    assert given == expected


def test_sweep_values_go_through_the_same_typed_parser() -> None:
    from stylo.experiments.sweep import coerce

    for name, text in (("size", "64"), ("style_weight", "1e3"), ("style_layers", "relu1_1+relu2_1"),
                       ("seed", "none"), ("style_scale", "0.5+2"), ("init", "noise")):
        assert coerce(name, text) == parse_text(name, text)
    assert coerce("style_layers", "relu1_1+relu2_1") == ("relu1_1", "relu2_1")


def test_messages_show_settings_as_flags() -> None:
    assert flag_message("size 9 is too big; lower size or style_size", ("size", "style_size")) == \
        "--size 9 is too big; lower --size or --style-size"
    assert flag_message("style_size and size_x", ("size",)) == "style_size and size_x"


def test_no_default_number_is_written_twice() -> None:
    """The defaults live in Settings; the CLI, the README prose and the studio's page read them from there."""
    s = Settings()
    defaults = {"steps": s.steps, "coarse_steps": s.coarse_steps, "size": s.size}
    sources = [ROOT / "src/stylo/cli.py", ROOT / "src/stylo/options.py", ROOT / "src/stylo/web/static/index.html",
               ROOT / "src/stylo/web/static/app.js", ROOT / "src/stylo/experiments/commands.py"]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for name, value in defaults.items():
            assert not re.search(rf"default[^\n]{{0,20}}\b{value}\b", text), (path.name, name)
            assert not re.search(rf'name="{name}"[^>]*value="{value}"', text), (path.name, name)


def test_the_parser_of_each_subcommand_has_the_setting_flags() -> None:
    parser = build_parser()
    for command in ("run", "sweep"):
        args = parser.parse_args([command, "c.png", "s.png", "-o", "o", "--size", "40", "--pooling", "avg"])
        assert args.size == 40 and args.pooling == "avg"
