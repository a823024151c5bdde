"""Rewrite the option table in docs/options.md from stylo.Settings: ``python docs/options.py``."""

from __future__ import annotations

from pathlib import Path

from stylo.options import replace_table

OPTIONS = Path(__file__).resolve().parent / "options.md"

if __name__ == "__main__":
    OPTIONS.write_text(replace_table(OPTIONS.read_text(encoding="utf-8")), encoding="utf-8")
