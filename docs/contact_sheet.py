"""Lay labelled images out in a grid: contact_sheet.py OUT.png "label:path" ..."""

from __future__ import annotations

import sys

from PIL import Image, ImageDraw


def main(argv: list[str]) -> None:
    out, items = argv[0], [a.rsplit(":", 1) for a in argv[1:]]
    images = [(label, Image.open(path).convert("RGB")) for label, path in items]
    cw = max(im.width for _, im in images)
    ch = max(im.height for _, im in images)
    cols = 4 if len(images) > 4 else len(images)
    rows = (len(images) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * (cw + 8) + 8, rows * (ch + 30) + 8), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, im) in enumerate(images):
        x, y = 8 + (i % cols) * (cw + 8), 8 + (i // cols) * (ch + 30)
        sheet.paste(im, (x, y))
        draw.text((x, y + im.height + 6), label, fill=(20, 20, 20))
    sheet.save(out)


if __name__ == "__main__":
    main(sys.argv[1:])
