"""The offline describer: deterministic prompt suggestions from an image's colours and size.

No model looks at the picture: the dominant colours (named from a small palette), how light it
is and its shape are put into four prompt patterns, so the same image always gets the same
suggestions, and they are labelled "offline preview" like the offline images.
"""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from bot.errors import invalid
from bot.providers.base import Descriptions, InputImage

LABEL = "offline preview"
MODEL = "offline"
_PALETTE: dict[str, tuple[int, int, int]] = {
    "black": (20, 20, 20),
    "charcoal grey": (70, 70, 75),
    "silver grey": (160, 160, 165),
    "white": (240, 240, 240),
    "crimson": (200, 30, 30),
    "rose pink": (235, 140, 170),
    "orange": (240, 140, 30),
    "golden yellow": (240, 210, 50),
    "olive": (120, 120, 40),
    "green": (50, 160, 60),
    "teal": (30, 140, 140),
    "sky blue": (120, 180, 235),
    "deep blue": (30, 50, 160),
    "violet": (130, 60, 180),
    "brown": (120, 75, 40),
    "beige": (220, 200, 160),
}


class OfflineDescriber:
    """Implements `bot.providers.base.Describer` without any network or cost."""

    charges = False

    async def describe(
        self, image: InputImage, n: int, *, safety_identifier: str | None = None
    ) -> Descriptions:
        suggestions = await asyncio.to_thread(_suggest, image.data, n)
        return Descriptions(suggestions=suggestions, model=MODEL, usage=None, label=LABEL)


def color_name(rgb: tuple[int, int, int]) -> str:
    """The palette's nearest colour name."""
    return min(_PALETTE, key=lambda name: sum((a - b) ** 2 for a, b in zip(_PALETTE[name], rgb, strict=True)))


def _suggest(data: bytes, n: int) -> tuple[str, ...]:
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            small = opened.convert("RGB").resize((48, 48), Image.Resampling.BILINEAR)
    except (OSError, ValueError):
        raise invalid("That file could not be read as an image.") from None
    # An RGB image's pixels are (r, g, b) tuples.
    pixels = [(int(p[0]), int(p[1]), int(p[2])) for p in small.get_flattened_data() if isinstance(p, tuple)]
    counts: dict[str, int] = {}
    for pixel in pixels:
        name = color_name(pixel)
        counts[name] = counts.get(name, 0) + 1
    ranked = sorted(counts, key=lambda name: (-counts[name], name))
    # A one- or two-colour image still names three colours (the fillers are neutral).
    first, second, third = (ranked + [c for c in ("white", "black", "silver grey") if c not in ranked])[:3]
    lightness = sum(r + g + b for r, g, b in pixels) / (3 * len(pixels))
    mood = "bright, airy" if lightness > 150 else "dark, moody" if lightness < 90 else "balanced"
    shape = (
        "wide landscape" if width > height * 1.1 else "tall portrait" if height > width * 1.1 else "square"
    )
    patterns = (
        f"A {shape} photograph of a {mood} scene dominated by {first} and {second}, soft natural"
        " light, 35mm lens, shallow depth of field",
        f"Minimalist poster: bold {first} shapes on a {second} background with {third} accents,"
        " flat colours, clean geometric composition",
        f"Watercolour painting in {first}, {second} and {third} tones, {shape} format, loose brush"
        " strokes on textured paper",
        f"Cinematic film still, {first} highlights against {second} shadows, {mood} atmosphere,"
        f" framed {width}x{height}, anamorphic lens flare",
        f"Isometric 3D illustration in a {first} and {third} palette, {mood} lighting, soft shadows",
    )
    return tuple(patterns[i % len(patterns)] for i in range(n))
