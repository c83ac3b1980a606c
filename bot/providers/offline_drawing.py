"""The offline renderer's drawing kit: seeded colours, gradients, text panels, badges, labels.

Everything is deterministic: the same seed parts give the same colours, so the same request
always renders byte-identical images.
"""

from __future__ import annotations

import colorsys
import hashlib
import random
import textwrap

from PIL import Image, ImageDraw, ImageFont

from bot import imaging

_BAND_TEXT = "OFFLINE PREVIEW · rendered locally by imagebot, not by an AI model"

RGB = tuple[int, int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
Box = tuple[float, float, float, float]  # left, top, right, bottom, as Pillow measures text


def seeded_rng(*parts: object) -> random.Random:
    """A random generator seeded from `parts` (stable across runs and processes, unlike hash())."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def palette(rng: random.Random, count: int = 5) -> list[RGB]:
    """A few harmonious colours around a seeded hue."""
    hue = rng.random()
    colours = []
    for _ in range(count):
        h = (hue + rng.uniform(-0.18, 0.18) + (0.5 if rng.random() < 0.25 else 0.0)) % 1.0
        r, g, b = colorsys.hsv_to_rgb(h, rng.uniform(0.45, 0.9), rng.uniform(0.45, 0.95))
        colours.append((round(r * 255), round(g * 255), round(b * 255)))
    return colours


def gradient(size: tuple[int, int], corners: list[RGB]) -> Image.Image:
    """A smooth gradient through four corner colours (top-left, top-right, bottom-left, ...)."""
    tiny = Image.new("RGB", (2, 2))
    for i, colour in enumerate(corners[:4]):
        tiny.putpixel((i % 2, i // 2), colour)
    return tiny.resize(size, Image.Resampling.BILINEAR)


def _single_spaced(text: str) -> str:
    return " ".join(text.split())


def wrap(text: str, font: Font, width: float, lines: int) -> list[str]:
    """Wrap `text` to lines no wider than `width` px, at most `lines` of them (ellipsis if cut)."""
    avg = max(1.0, font.getlength("abcdefghijklmnopqrstuvwxyz ") / 27)
    chars = max(8, int(width / avg))
    wrapped = textwrap.wrap(_single_spaced(text), width=chars, break_long_words=True) or [""]
    if len(wrapped) > lines:
        wrapped = wrapped[:lines]
        wrapped[-1] = wrapped[-1][: max(0, chars - 1)].rstrip() + "…"
    return wrapped


def text_panel(
    draw: ImageDraw.ImageDraw,
    text_lines: list[str],
    font: Font,
    xy: tuple[int, int],
    pad: int,
    fill: tuple[int, int, int, int] = (0, 0, 0, 150),
) -> Box:
    """Draw lines of white text on a translucent dark rounded panel; returns the panel's box."""
    x, y = xy
    spacing = max(2, pad // 2)
    boxes = [draw.textbbox((0, 0), line or " ", font=font) for line in text_lines]
    line_h = max(b[3] - b[1] for b in boxes)
    width = max(b[2] - b[0] for b in boxes)
    height = line_h * len(text_lines) + spacing * (len(text_lines) - 1)
    box = (x, y, x + width + 2 * pad, y + height + 2 * pad)
    draw.rounded_rectangle(box, radius=pad, fill=fill)
    for i, (line, b) in enumerate(zip(text_lines, boxes, strict=True)):
        draw.text((x + pad - b[0], y + pad + i * (line_h + spacing) - b[1]), line, font=font, fill="white")
    return box


def label_band(layer: Image.Image, *, compact: bool) -> None:
    """The honest label on every image: a full-width band, or a small tag on transparent output."""
    w, h = layer.size
    base = min(w, h)
    draw = ImageDraw.Draw(layer)
    size = max(10, base // 40)
    font = imaging.load_font(size)
    text = _BAND_TEXT
    if font.getlength(text) > 0.92 * w:
        text = "OFFLINE PREVIEW"
        while size > 6 and imaging.load_font(size).getlength(text) > 0.92 * w:
            size -= 1
        font = imaging.load_font(size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = max(3, size // 2)
    band_h = bottom - top + 2 * pad
    if compact:
        box = (pad, h - band_h - pad, pad + right - left + 2 * pad, h - pad)
        draw.rounded_rectangle(box, radius=pad, fill=(20, 20, 24, 230))
        draw.text((box[0] + pad - left, box[1] + pad - top), text, font=font, fill=(255, 214, 10))
    else:
        draw.rectangle((0, h - band_h, w, h), fill=(20, 20, 24, 225))
        draw.text(
            ((w - (right - left)) / 2 - left, h - band_h + pad - top), text, font=font, fill=(255, 214, 10)
        )


def index_badge(layer: Image.Image, index: int) -> Box:
    """ "#1", "#2", ... in the top-right corner; returns the badge's box."""
    base = min(layer.size)
    draw = ImageDraw.Draw(layer)
    font = imaging.load_font(max(10, base // 22))
    text = f"#{index + 1}"
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = max(3, base // 80)
    x1 = layer.width - pad
    box = (x1 - (right - left) - 2 * pad, pad, x1, pad + bottom - top + 2 * pad)
    draw.rounded_rectangle(box, radius=pad, fill=(0, 0, 0, 170))
    draw.text((box[0] + pad - left, box[1] + pad - top), text, font=font, fill="white")
    return box


def clear_layer(picture: Image.Image) -> Image.Image:
    """A transparent layer to draw translucent things on.

    ImageDraw only blends translucent ink on RGB images; on RGBA it would punch see-through
    holes. So decorations are drawn on a clear layer and alpha-composited in one go.
    """
    return Image.new("RGBA", picture.size, (0, 0, 0, 0))
