"""The CLI's flags and the option table of docs/options.md come from Settings: nothing is declared twice."""

from __future__ import annotations

import argparse
import re
import typing
from pathlib import Path

import pytest

from stylo.cli import build_parser
from stylo.cli.common import add_setting_flags, run_only_help, settings_from_namespace
from stylo.config import FIELDS, HINTS, Settings, choices
from stylo.errors import StyloError
from stylo.options import (
    RUN_ONLY,
    TABLE_END,
    TABLE_START,
    flag,
    flag_message,
    options_table,
    replace_table,
)
from stylo.settings_io import parse_text

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = ROOT / "docs" / "options.md"


def run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_setting_flags(parser)
    return parser


def test_the_options_table_is_the_generated_one() -> None:
    text = OPTIONS.read_text(encoding="utf-8")
    assert replace_table(text) == text, "run `python docs/options.py`"
    table = text[text.index(TABLE_START) + len(TABLE_START):text.index(TABLE_END)]
    assert table.strip() == options_table()
    for name in FIELDS:
        assert f"| `{flag(name)}" in table
    for name, *_ in RUN_ONLY:
        assert f"| `{name}" in table
    assert "| `--checkpoint-every SECONDS` | 300 s |" in table  # the default is shown, not only in the help


def test_a_stale_table_is_caught_and_rewritten() -> None:
    """The check above must fail when the table falls behind Settings: a changed, a missing or an extra row."""
    text = replace_table(OPTIONS.read_text(encoding="utf-8"))
    row = next(line for line in text.splitlines() if line.startswith("| `--steps "))
    stale = [text.replace(row, row.replace("optimizer steps", "steps")), text.replace(row + "\n", ""),
             text.replace(row, row + "\n| `--gone N` | 1 | a removed flag |")]
    for version in stale:
        assert version != text and replace_table(version) == text
    with pytest.raises(StyloError, match="markers"):
        replace_table(text.replace(TABLE_END, ""))


def test_the_readme_links_the_table_and_holds_none() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/options.md" in readme and TABLE_START not in readme and "| `--content-weight" not in readme


def anchors(page: Path) -> set[str]:
    """GitHub's anchors of a Markdown page's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_relative_links_of_the_readme_and_docs_exist() -> None:
    """Every relative link and image of README.md and docs/*.md names a file of the repository (and a heading of
    it, where the link names one)."""
    link = re.compile(r"\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for match in link.finditer(page.read_text(encoding="utf-8")):
            target, _, anchor = (match.group(1) or match.group(2)).partition("#")
            if re.match(r"[a-z]+:", target):
                continue
            path = page.parent / target if target else page
            assert path.exists(), (page.name, target)
            if anchor and path.suffix == ".md":
                assert anchor in anchors(path), (page.name, target, anchor)


def test_run_only_flags_show_their_defaults_in_the_help() -> None:
    assert run_only_help("--checkpoint-every").endswith("(default: 300 s)")
    assert "default" not in run_only_help("--quiet")
    assert build_parser().parse_args(["run", "c.png", "s.png", "-o", "o.png"]).checkpoint_every == 300.0


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
    """The defaults live in Settings; the CLI, the option table and the studio's page read them from there."""
    s = Settings()
    defaults = {"steps": s.steps, "coarse_steps": s.coarse_steps, "size": s.size}
    cli = [ROOT / "src/stylo/cli" / f"{name}.py" for name in ("__init__", "common", "run", "batch", "sweep")]
    sources = [*cli, ROOT / "src/stylo/options.py", ROOT / "src/stylo/web/static/index.html",
               ROOT / "src/stylo/web/static/app.js"]
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
