"""The numbered preview grid of a set of images, so people can say U2 or V3."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image, ImageDraw

from bot.imaging.encoding import encode, has_alpha
from bot.imaging.fonts import load_font
from bot.imaging.reading import load_image

_GRID_BACKGROUND = (32, 34, 37)


def grid_columns(n: int) -> int:
    """Columns of a grid of n images: 1, 2 (up to 4), 3 (up to 9), 4 (10 and beyond)."""
    if n <= 1:
        return 1
    return math.ceil(math.sqrt(n))


def _fit_into(im: Image.Image, box: int) -> Image.Image:
    scale = min(box / im.width, box / im.height)
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    # A preview cell: box-averaging integer reduction first, then bilinear (far cheaper than LANCZOS
    # from full size, and indistinguishable at cell size).
    return im.resize(size, Image.Resampling.BILINEAR, reducing_gap=1.0 if scale < 1 else None)


def _checkerboard(size: tuple[int, int], square: int) -> Image.Image:
    cols, rows = math.ceil(size[0] / square), math.ceil(size[1] / square)
    tiny = Image.new("L", (cols, rows), 204)
    for y in range(rows):
        for x in range((y + 1) % 2, cols, 2):
            tiny.putpixel((x, y), 153)
    board = tiny.resize((cols * square, rows * square), Image.Resampling.NEAREST)
    return board.crop((0, 0, *size)).convert("RGB")


GRID_MIME = "image/jpeg"
GRID_EXTENSION = "jpg"
_GRID_QUALITY = 85


def make_grid(
    images: Sequence[bytes], *, cell: int = 512, gap: int = 8, labels: Sequence[str] | None = None
) -> bytes:
    """A JPEG preview of a set, in reading order, each image numbered so people can say U2/V3.

    Image 1 is top-left, then left to right and top to bottom; each image is fitted into a
    cell x cell box keeping its aspect, and the cells are as wide and tall as the fitted images
    need; transparent ones are shown over a checkerboard. The grid is only a preview (the images
    themselves stay untouched for U1-U4), so it is a compact JPEG: its canvas is opaque anyway.
    `labels` (one per image, e.g. a compared model with its price and time) are written on a
    dark band along the bottom of each cell.
    """
    if not images:
        raise ValueError("make_grid needs at least one image")
    n = len(images)
    cols = grid_columns(n)
    rows = math.ceil(n / cols)
    fitted_all = []
    for data in images:
        im = load_image(data, covering=(cell, cell))
        fitted_all.append(_fit_into(im.convert("RGBA" if has_alpha(im) else "RGB"), cell))
    # Cells take the images' own shape (a set of 16:9 images makes 16:9 cells), so wide or tall
    # sets are not letterboxed into squares with wide empty bands.
    cell_w = max(f.width for f in fitted_all)
    cell_h = max(f.height for f in fitted_all)
    canvas = Image.new(
        "RGB", (cols * cell_w + (cols + 1) * gap, rows * cell_h + (rows + 1) * gap), _GRID_BACKGROUND
    )
    draw = ImageDraw.Draw(canvas)
    font = load_font(max(12, cell // 14))
    pad = max(4, cell // 48)
    for i, fitted in enumerate(fitted_all):
        row, col = divmod(i, cols)
        cell_x, cell_y = gap + col * (cell_w + gap), gap + row * (cell_h + gap)
        x, y = cell_x + (cell_w - fitted.width) // 2, cell_y + (cell_h - fitted.height) // 2
        if fitted.mode == "RGBA":
            canvas.paste(_checkerboard(fitted.size, max(4, cell // 32)), (x, y))
            canvas.paste(fitted, (x, y), fitted)
        else:
            canvas.paste(fitted, (x, y))
        label = str(i + 1)
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        w, h = right - left, bottom - top
        side = max(w, h) + 2 * pad
        bx, by = x + pad, y + pad
        draw.rounded_rectangle((bx, by, bx + side, by + side), radius=side // 4, fill=(0, 0, 0))
        draw.text(
            (bx + (side - w) / 2 - left, by + (side - h) / 2 - top), label, font=font, fill=(255, 255, 255)
        )
        if labels is not None and i < len(labels):
            _draw_cell_label(draw, labels[i], (x, y, x + fitted.width, y + fitted.height), cell)
    return encode(canvas, "jpeg", _GRID_QUALITY)


def _draw_cell_label(draw: ImageDraw.ImageDraw, text: str, box: tuple[int, int, int, int], cell: int) -> None:
    """`text` on a dark band along the bottom of `box`, shortened with … to fit its width."""
    left, top, right, bottom = box  # the band never rises above the image
    font = load_font(max(10, cell // 24))
    pad = max(3, cell // 64)
    room = right - left - 2 * pad
    shown = text
    while shown and draw.textlength(shown, font=font) > room:
        shown = shown[:-2] + "…" if len(shown) > 1 else ""
    if not shown:
        return
    _, text_top, _, text_bottom = draw.textbbox((0, 0), shown, font=font)
    band_top = max(top, bottom - (text_bottom - text_top) - 2 * pad)
    draw.rectangle((left, band_top, right, bottom), fill=(0, 0, 0))
    draw.text((left + pad, band_top + pad - text_top), shown, font=font, fill=(255, 255, 255))
