"""The package's layout, read from the imports of every module under src/stylo (parsed, not imported): the front
ends stay apart (experiments/ and video/ never import each other; the web never imports the CLI), only the CLI
parses command lines, and no two modules import each other at module level."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. stylo.cli.run
    target: str  # the module (or package) it imports, e.g. stylo.video.io
    top_level: bool  # run when the module is imported (not in a function, not under ``if TYPE_CHECKING:``)
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _base(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute module of ``from <level dots><name> import ...``."""
    if not level:
        return name or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    package = package[:len(package) - level + 1]
    return ".".join([*package, *([name] if name else [])])


def _walk(body: list[ast.stmt], top: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement with whether it runs at import time: function bodies and ``if TYPE_CHECKING:``
    blocks do not; class bodies, ``try``, ``with`` and other ``if`` blocks do."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, top
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _walk(node.body, False)
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from _walk(node.body, False)
            yield from _walk(node.orelse, top)
        else:
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], (ast.stmt, ast.ExceptHandler)):
                    for child in inner:
                        yield from _walk(child.body if isinstance(child, ast.ExceptHandler) else [child], top)


def imports(root: Path = SRC) -> list[Import]:
    """The imports of every module under ``root``/stylo. ``from X import Y`` imports X, and X.Y where that is a
    module of the tree (``from stylo import cli`` imports stylo.cli)."""
    files = sorted((root / "stylo").rglob("*.py"))
    modules = {module_name(p, root) for p in files}
    found = []
    for path in files:
        module = module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node, top in _walk(tree.body, True):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _base(module, path.name == "__init__.py", node.level, node.module)
                targets = [base, *(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules)]
            found += [Import(module, target, top, node.lineno) for target in targets]
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def crossings(found: list[Import], source: str, target: str) -> list[str]:
    return [f"{i.module}:{i.line} imports {i.target}" for i in found
            if within(i.module, source) and within(i.target, target)]


def layout_problems(root: Path = SRC) -> list[str]:
    found = imports(root)
    problems = crossings(found, "stylo.experiments", "stylo.video") + crossings(found, "stylo.video",
                                                                                "stylo.experiments")
    problems += [f"{i.module}:{i.line} imports argparse (only stylo.cli parses command lines)" for i in found
                 if within(i.target, "argparse") and not within(i.module, "stylo.cli")]
    problems += crossings(found, "stylo.web", "stylo.cli")
    problems += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(found)]
    return problems


def cycles(found: list[Import]) -> list[list[str]]:
    """One cycle of each group of the tree's modules that import each other at module level (each strongly
    connected component of more than one module, by Tarjan's algorithm)."""
    graph: dict[str, list[str]] = {i.module: [] for i in found}
    for i in found:
        if i.top_level and i.target in graph and i.target not in graph[i.module] and i.target != i.module:
            graph[i.module].append(i.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = {stack.pop()}
            while node not in group:
                group.add(stack.pop())
            groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(graph, group) for group in groups if len(group) > 1]


def _cycle_in(graph: dict[str, list[str]], group: set[str]) -> list[str]:
    """The shortest path from the group's first module back to itself (breadth first, inside the group)."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node]):
            if nxt == start:
                return [*paths[node], start]
            if nxt in group and nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(group)


def test_the_layout_of_src_stylo() -> None:
    assert layout_problems() == []


def test_the_tree_is_read() -> None:
    """The checks above see the real imports: the CLI's argparse, the web's video IO, the top-level edges."""
    found = imports()
    assert any(i.module == "stylo.cli.common" and i.target == "argparse" and i.top_level for i in found)
    assert any(i.module == "stylo.web.routes.clips" and i.target == "stylo.video.extras" and not i.top_level
               for i in found)
    assert any(i.module == "stylo.cli" and i.target == "stylo.cli.run" and i.top_level for i in found)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "stylo" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


CLEAN = {
    "__init__.py": "",
    "cli/__init__.py": "import argparse\nfrom stylo.cli import run\n",
    "cli/run.py": "from stylo.video import io\nfrom stylo.experiments.sweep import x\n",
    "experiments/__init__.py": "",
    "experiments/sweep.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from stylo import a\nx = 1\n",
    "video/__init__.py": "",
    "video/io.py": "def f():\n    from stylo.a import g\n",
    "a.py": "from stylo.video.io import f\n\ndef g():\n    pass\n",
    "web/__init__.py": "",
    "web/routes.py": "from stylo.video import io\n",
}


@pytest.mark.parametrize(("mutant", "problem"), [
    ({"experiments/sweep.py": "from stylo.video.io import clip\n"}, "stylo.experiments.sweep:1 imports stylo.video"),
    ({"video/io.py": "def f():\n    from stylo import experiments\n"}, "stylo.video.io:2 imports stylo.experiments"),
    ({"video/io.py": "def f():\n    from ..experiments import sweep\n"}, "stylo.video.io:2 imports stylo.experiments"),
    ({"a.py": "import argparse\n"}, "stylo.a:1 imports argparse"),
    ({"video/io.py": "def f():\n    from argparse import Namespace\n"}, "stylo.video.io:2 imports argparse"),
    ({"web/routes.py": "def f():\n    from stylo.cli.run import g\n"}, "stylo.web.routes:2 imports stylo.cli"),
    ({"web/routes.py": "from stylo import cli\n"}, "stylo.web.routes:1 imports stylo.cli"),
    ({"video/io.py": "from stylo.a import g\n"}, "import cycle: stylo.a -> stylo.video.io -> stylo.a"),
    ({"experiments/sweep.py": "from stylo.a import f\n", "a.py": "from stylo.cli import run\n",
      "cli/run.py": "import stylo.experiments.sweep\n"},
     "import cycle: stylo.a -> stylo.cli.run -> stylo.experiments.sweep -> stylo.a"),
])
def test_each_rule_catches_its_mutant(tmp_path: Path, mutant: dict[str, str], problem: str) -> None:
    """Negative controls: a tree that keeps the rules passes; each forbidden import added to it is reported."""
    assert layout_problems(write(tmp_path / "clean", CLEAN)) == []
    problems = layout_problems(write(tmp_path / "mutant", {**CLEAN, **mutant}))
    assert any(p.startswith(problem) for p in problems), problems
