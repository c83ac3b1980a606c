"""The offline renderer's pictures: what a generate or an edit looks like, variant by variant.

A generated picture is seeded shapes on a gradient with the prompt written on it; an edit tints
the input (or fills only the mask's transparent area) and captions it with the instruction; a
transparent background keys out the border colour. Every picture carries the offline label.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageStat

from bot import imaging
from bot.providers.base import ProviderRequest
from bot.providers.offline_drawing import (
    RGB,
    clear_layer,
    gradient,
    index_badge,
    label_band,
    palette,
    seeded_rng,
    text_panel,
    wrap,
)

_MAX_REFERENCE_THUMBS = 4
_KEY_TOLERANCE = 48  # how far (per channel) a pixel may be from the border colour to count as background


@dataclass(frozen=True)
class Plan:
    """One request, its inputs decoded once for all its variants."""

    request: ProviderRequest
    size: tuple[int, int]
    source: Image.Image | None  # edit: the first image, RGBA at the output size
    edit_area: Image.Image | None  # edit with a mask: L, 255 where the mask was transparent
    references: tuple[Image.Image, ...]


def draw_picture(plan: Plan, index: int) -> Image.Image:
    """Variant `index` of the plan's request: generated, or an edit of its source."""
    if plan.source is None:
        return _generate(plan.request, plan.size, index)
    return _edit(plan, plan.source, index)


# ---- generate --------------------------------------------------------------------------------


def _generate(request: ProviderRequest, size: tuple[int, int], index: int) -> Image.Image:
    rng = seeded_rng("generate", request.prompt, request.variation_key, index)
    colours = palette(rng, 7)
    transparent = request.options.background == "transparent"
    w, h = size
    base = min(w, h)
    # Opaque pictures are drawn in RGB, where ImageDraw blends translucent shapes; on the
    # transparent background the shapes are opaque, so drawing them straight on RGBA is right.
    picture = Image.new("RGBA", size, (0, 0, 0, 0)) if transparent else gradient(size, colours[:4])
    draw = ImageDraw.Draw(picture, "RGBA")
    # Shapes stay inside the middle of the picture, so a transparent background shows at the edges.
    for _ in range(rng.randint(5, 9)):
        cx, cy = rng.uniform(0.22, 0.78) * w, rng.uniform(0.22, 0.78) * h
        r = rng.uniform(0.06, 0.2) * base
        colour = rng.choice(colours)
        alpha = 255 if transparent else rng.randint(150, 230)
        fill = (*colour, alpha)
        kind = rng.choice(("circle", "square", "triangle", "ring"))
        if kind == "circle":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
        elif kind == "square":
            draw.rounded_rectangle((cx - r, cy - r * 0.7, cx + r, cy + r * 0.7), radius=r * 0.2, fill=fill)
        elif kind == "triangle":
            draw.regular_polygon((cx, cy, r), 3, rotation=rng.uniform(0, 120), fill=fill)
        else:
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=fill, width=max(2, round(r * 0.25)))
    font = imaging.load_font(max(12, base // 22))
    pad = max(6, base // 60)
    lines = wrap(request.prompt, font, 0.8 * w - 2 * pad, 5)
    layer = clear_layer(picture)
    # Below the top-left corner, where a grid puts its cell number.
    text_panel(ImageDraw.Draw(layer), lines, font, (round(0.06 * w), round(0.13 * h)), pad)
    index_badge(layer, index)
    label_band(layer, compact=transparent)
    picture = picture.convert("RGBA")
    picture.alpha_composite(layer)
    return picture if transparent else picture.convert("RGB")


# ---- edit ------------------------------------------------------------------------------------


def _edit(plan: Plan, source: Image.Image, index: int) -> Image.Image:
    request = plan.request
    rng = seeded_rng("edit", request.prompt, request.variation_key, index)
    tint = palette(rng, 1)[0]
    transparent = request.options.background == "transparent"
    if plan.edit_area is None:
        # The whole image may change: a light tint (and a few outlines), seeded per variant.
        picture = Image.blend(source, Image.new("RGBA", source.size, (*tint, 255)), 0.16)
        picture.putalpha(source.getchannel("A"))
        if not transparent:
            _outlines(picture, rng, tint)
            _decorate(picture, plan, index, compact=False)
    else:
        # Only the mask's transparent area changes; everything drawn goes into the fill layer so
        # the kept pixels stay exactly as they were (this is what zoom-out looks like offline).
        fill = _fill_layer(source, plan.edit_area, rng, tint)
        if not transparent:
            _decorate(fill, plan, index, compact=False)
        picture = Image.composite(fill, source, plan.edit_area)
    if transparent:
        # The offline "remove background": key out the border colour, then label the cut-out.
        picture = _remove_background(picture)
        _decorate(picture, plan, index, compact=True)
    elif request.options.background == "opaque" and imaging.alpha_low(picture) < 255:
        flat = Image.new("RGBA", picture.size, (255, 255, 255, 255))
        flat.alpha_composite(picture)
        picture = flat
    return picture


def _outlines(picture: Image.Image, rng: random.Random, tint: RGB) -> None:
    w, h = picture.size
    base = min(w, h)
    layer = clear_layer(picture)
    draw = ImageDraw.Draw(layer)
    for _ in range(3):
        cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.2, 0.8) * h
        r = rng.uniform(0.05, 0.14) * base
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(*tint, 200), width=max(2, base // 200))
    picture.alpha_composite(layer)


def _fill_layer(source: Image.Image, edit_area: Image.Image, rng: random.Random, tint: RGB) -> Image.Image:
    """New content for the area to fill: a gradient in the kept region's colours, plus a pattern."""
    w, h = source.size
    keep = ImageChops.invert(edit_area)
    rgb = source.convert("RGB")
    fallback: list[float] = (
        ImageStat.Stat(rgb, mask=keep).mean if keep.getbbox() else [float(c) for c in tint]
    )
    corners: list[RGB] = []
    half_w, half_h = max(1, w // 2), max(1, h // 2)
    for y0, y1 in ((0, half_h), (half_h, h)):
        for x0, x1 in ((0, half_w), (half_w, w)):
            quarter_keep = keep.crop((x0, y0, x1, y1)) if x1 > x0 and y1 > y0 else None
            if quarter_keep is not None and quarter_keep.getbbox():
                mean = ImageStat.Stat(rgb.crop((x0, y0, x1, y1)), mask=quarter_keep).mean
            else:
                mean = fallback
            r, g, b = (round(0.8 * c + 0.2 * t) for t, c in zip(tint, mean, strict=True))
            corners.append((r, g, b))
    fill = gradient((w, h), corners)
    draw = ImageDraw.Draw(fill, "RGBA")  # RGB: the translucent stripes blend
    step = max(12, min(w, h) // 16)
    offset = rng.randrange(step)
    for x in range(-h + offset, w, step):
        draw.line((x, h, x + h, 0), fill=(*tint, 70), width=max(2, step // 4))
    return fill.convert("RGBA")


def _decorate(picture: Image.Image, plan: Plan, index: int, *, compact: bool) -> None:
    """The instruction caption, reference thumbnails, index and label, composited onto `picture`."""
    w, h = picture.size
    base = min(w, h)
    layer = clear_layer(picture)
    font = imaging.load_font(max(10, base // 32))
    pad = max(4, base // 90)
    lines = wrap(f"edit: {plan.request.prompt}", font, 0.7 * w - 2 * pad, 2)
    panel = text_panel(ImageDraw.Draw(layer), lines, font, (pad, pad), pad, fill=(0, 0, 0, 170))
    badge = index_badge(layer, index)
    _references(layer, plan.references, top=round(max(panel[3], badge[3])) + pad)
    label_band(layer, compact=compact)
    picture.alpha_composite(layer)


def _references(layer: Image.Image, references: tuple[Image.Image, ...], top: int) -> None:
    """Small thumbnails of the reference images in the top-right corner, so their use shows."""
    if not references:
        return
    w, h = layer.size
    thumb = max(24, min(w, h) // 6)
    border = max(2, thumb // 40)
    x = w - border
    for ref in references[:_MAX_REFERENCE_THUMBS]:
        small = ref.convert("RGBA")
        small.thumbnail((thumb, thumb), Image.Resampling.LANCZOS)
        x -= small.width + 2 * border
        frame = Image.new("RGBA", (small.width + 2 * border, small.height + 2 * border), (255, 255, 255, 255))
        frame.alpha_composite(small, (border, border))
        layer.paste(frame, (max(0, x), top))
        x -= border
    extra = len(references) - _MAX_REFERENCE_THUMBS
    if extra > 0:
        draw = ImageDraw.Draw(layer)
        font = imaging.load_font(max(10, thumb // 4))
        draw.text((max(0, x - font.getlength(f"+{extra}")), top), f"+{extra}", font=font, fill="white")


def _remove_background(picture: Image.Image) -> Image.Image:
    """Key out what looks like the background: pixels near the border colour, connected to it.

    Connectivity is found by flood-filling from the edges on a small copy (fast even at 4K);
    the full-resolution colour test keeps the cut-out's edges crisp.
    """
    rgb = picture.convert("RGB")
    w, h = rgb.size
    border = Image.new("L", (w, h), 0)
    ImageDraw.Draw(border).rectangle((0, 0, w - 1, h - 1), outline=255, width=max(1, min(w, h) // 100))
    red, green, blue = (round(c) for c in ImageStat.Stat(rgb, mask=border).median)
    distance = ImageChops.difference(rgb, Image.new("RGB", (w, h), (red, green, blue)))
    channels = distance.split()
    farthest = ImageChops.lighter(ImageChops.lighter(channels[0], channels[1]), channels[2])
    similar = farthest.point(lambda d: 255 if d <= _KEY_TOLERANCE else 0)

    scale = min(1.0, 256 / max(w, h))
    small = similar.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.NEAREST)
    sw, sh = small.size
    for x, y in ((0, 0), (sw - 1, 0), (0, sh - 1), (sw - 1, sh - 1), (sw // 2, 0), (sw // 2, sh - 1)):
        if small.getpixel((x, y)) == 255:
            ImageDraw.floodfill(small, (x, y), 128)
    connected = small.point(lambda v: 255 if v == 128 else 0).resize((w, h), Image.Resampling.BILINEAR)
    connected = connected.point(lambda v: 255 if v >= 128 else 0)
    background = ImageChops.multiply(similar, connected)
    out = picture.convert("RGBA")
    out.putalpha(ImageChops.darker(out.getchannel("A"), ImageChops.invert(background)))
    return out
