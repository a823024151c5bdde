"""Lay labelled images out in a grid: contact_sheet.py OUT "label:path" ... (stylo's own sheet renderer)."""

from __future__ import annotations

import sys

from PIL import Image

from stylo.experiments.sheet import labelled_grid


def main(argv: list[str]) -> None:
    out, items = argv[0], [a.rsplit(":", 1) for a in argv[1:]]
    labelled_grid([(label, Image.open(path)) for label, path in items]).save(out)


if __name__ == "__main__":
    main(sys.argv[1:])
