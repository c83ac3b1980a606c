"""The font every drawn label uses (grid numbers, offline previews)."""

from __future__ import annotations

import threading

from PIL import ImageFont

_fonts = threading.local()  # FreeType faces are not safe to share between threads


def load_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's built-in scalable font at `size` px (cached per thread)."""
    cache: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] | None = getattr(_fonts, "cache", None)
    if cache is None:
        cache = _fonts.cache = {}
    size = max(6, int(size))
    if size not in cache:
        cache[size] = ImageFont.load_default(size=size)
    return cache[size]
