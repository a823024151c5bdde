"""Rewrite the README's option table from stylo.Settings: ``python docs/options.py``."""

from __future__ import annotations

from pathlib import Path

from stylo.options import replace_table

README = Path(__file__).resolve().parents[1] / "README.md"

if __name__ == "__main__":
    README.write_text(replace_table(README.read_text(encoding="utf-8")), encoding="utf-8")
