"""A labelled contact sheet of a sweep: content and style on top, one captioned cell per run.

With two varied settings the cells form a table (rows: the first, columns: the second); otherwise a grid.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from stylo.experiments.sweep import format_value

CELL = 256  # px, long side of each thumbnail
PAD, CAPTION = 10, 44
BG, INK, ERR = (250, 250, 248), (25, 25, 25), (150, 30, 30)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def _fit(img: Image.Image, box: int) -> Image.Image:
    """Scaled (up or down) so that the long side is ``box`` px."""
    scale = box / max(img.size)
    return img.convert("RGB").resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                                     Image.Resampling.LANCZOS)


def _caption(record: dict[str, Any], varied: Sequence[str]) -> list[str]:
    changes = record["changes"]
    first = ", ".join(f"{k}={format_value(changes[k])}" for k in varied if k in changes) or "base settings"
    if record["status"] != "ok":
        return [first, "failed (see results.csv)"]
    m = record.get("metrics", {})
    return [first, f"SSIM {m.get('ssim', float('nan')):.2f}  style {m.get('style_distance_sum', 0):.3g}  "
                   f"colour {m.get('color_distance', 0):.1f}  {record.get('seconds', 0):.0f}s"]


def _ellipsize(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def labelled_grid(items: Sequence[tuple[str, Image.Image]], cols: int = 4, cell: int = CELL) -> Image.Image:
    """Images in a grid, each scaled to ``cell`` px on its long side with its label below."""
    font = _font(14)
    cols = max(1, min(cols, len(items)))
    fitted = [(label, _fit(img, cell)) for label, img in items]
    cell_h = max(img.height for _, img in fitted)
    rows = (len(items) + cols - 1) // cols
    sheet = Image.new("RGB", (PAD + cols * (cell + PAD), PAD + rows * (cell_h + 26 + PAD)), BG)
    draw = ImageDraw.Draw(sheet)
    for i, (label, img) in enumerate(fitted):
        x, y = PAD + (i % cols) * (cell + PAD), PAD + (i // cols) * (cell_h + 26 + PAD)
        sheet.paste(img, (x, y))
        draw.text((x, y + img.height + 5), _ellipsize(draw, label, font, cell), fill=INK, font=font)
    return sheet


def contact_sheet(records: list[dict[str, Any]], out: Path, content: Image.Image, styles: Sequence[Image.Image],
                  varied: Sequence[str]) -> Image.Image:
    """Draw the sheet for ``records`` (in cell order) whose images live under ``out``."""
    font, small = _font(15), _font(12)
    cell_h = _fit(content, CELL).height
    cols = len({format_value(r["changes"][varied[1]]) for r in records}) if len(varied) == 2 else \
        min(4, max(1, len(records)))
    rows = (len(records) + cols - 1) // cols
    width = PAD + cols * (CELL + PAD)
    header = max(_fit(img, CELL // 2).height for img in [content, *styles]) + 30
    sheet = Image.new("RGB", (max(width, PAD + (1 + len(styles)) * (CELL // 2 + PAD)),
                              PAD + header + rows * (cell_h + CAPTION + PAD)), BG)
    draw = ImageDraw.Draw(sheet)
    x = PAD
    for label, img in [("content", content), *[(f"style {i + 1}", s) for i, s in enumerate(styles)]]:
        small_img = _fit(img, CELL // 2)
        sheet.paste(small_img, (x, PAD))
        draw.text((x, PAD + small_img.height + 4), label, fill=INK, font=small)
        x += CELL // 2 + PAD
    for i, record in enumerate(records):
        cx = PAD + (i % cols) * (CELL + PAD)
        cy = PAD + header + (i // cols) * (cell_h + CAPTION + PAD)
        if record["status"] == "ok":
            sheet.paste(_fit(Image.open(out / record["image"]), CELL), (cx, cy))
        else:
            draw.rectangle([cx, cy, cx + CELL - 1, cy + cell_h - 1], fill=(225, 222, 218))
            for j, line in enumerate(textwrap.wrap(record.get("error", ""), 36)[:8]):
                draw.text((cx + 8, cy + 8 + j * 16), line, fill=ERR, font=small)
        for j, line in enumerate(_caption(record, varied)):
            line = _ellipsize(draw, line, font if j == 0 else small, CELL - 4)
            draw.text((cx, cy + cell_h + 4 + j * 18), line, fill=INK if j == 0 or record["status"] == "ok" else ERR,
                      font=font if j == 0 else small)
    return sheet
