"""The offline provider: a deterministic local renderer for demos and tests, no API key needed.

It makes real images that visibly follow the request (colours and shapes seeded from the prompt,
the prompt text drawn on the image, edits derived from the input) and labels every one of them
"offline preview", so nobody mistakes them for the model's work. The same request always gives
byte-identical images; the variation key and the image index change them.

All Pillow work runs in a thread (`asyncio.to_thread`) so the event loop never stalls.
"""

from __future__ import annotations

import asyncio
import colorsys
import hashlib
import random
import textwrap
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageStat

from bot import imaging
from bot.errors import invalid
from bot.model_catalog import SizeRules
from bot.providers.base import GeneratedImage, InputImage, OnPartial, ProviderRequest, ProviderResult

LABEL = "offline preview"
_BAND_TEXT = "OFFLINE PREVIEW · rendered locally by imagebot, not by an AI model"
_DEFAULT_SIZE = (1024, 1024)
_LIMITS = SizeRules()
_MIN_EDGE = 16
_MAX_REFERENCE_THUMBS = 4
_KEY_TOLERANCE = 48  # how far (per channel) a pixel may be from the border colour to count as background

RGB = tuple[int, int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
Box = tuple[float, float, float, float]  # left, top, right, bottom, as Pillow measures text


class OfflineProvider:
    """Renders labelled preview images locally; implements `bot.providers.base.Provider`."""

    name = "offline"
    label: str | None = LABEL
    charges = False  # a local renderer: nothing is billed
    partial_images = 0

    async def run(self, request: ProviderRequest, on_partial: OnPartial | None = None) -> ProviderResult:
        """Generate or edit `request.options.n` images; previews of the first go to `on_partial`."""
        _check_request(request)
        if request.kind == "edit":
            job = await asyncio.to_thread(_prepare_edit, request)
        else:
            size = _explicit_size(request) or _DEFAULT_SIZE
            job = _Job(request, size, None, None, ())
        images: list[GeneratedImage] = []
        for index in range(request.options.n):
            picture, image = await asyncio.to_thread(_render, job, index)
            if index == 0 and on_partial is not None:
                for preview in await asyncio.to_thread(_previews, picture):
                    await on_partial(preview)
            images.append(image)
        return ProviderResult(images=tuple(images), usage=None, label=LABEL)

    async def close(self) -> None:
        return None


# ---- validation ------------------------------------------------------------------------------


def _check_request(request: ProviderRequest) -> None:
    """Defensive checks: the core validates options first, but never render garbage."""
    options = request.options
    if not 1 <= options.n <= 10:
        raise invalid(f"the number of images must be between 1 and 10, not {options.n}")
    if request.kind not in ("generate", "edit"):
        raise invalid(f"unknown request kind {request.kind!r}")
    if request.kind == "generate" and not request.prompt.strip():
        raise invalid("a prompt is needed to generate an image")
    if request.kind == "edit" and not request.images:
        raise invalid("an edit needs an image to edit")
    if options.output_format not in ("png", "webp", "jpeg"):
        raise invalid(f"unknown output format {options.output_format!r}; use png, webp or jpeg")
    if options.background == "transparent" and options.output_format == "jpeg":
        raise invalid("a transparent background needs PNG or WebP output, not JPEG")
    if options.compression is not None and not 0 <= options.compression <= 100:
        raise invalid(f"compression must be between 0 and 100, not {options.compression}")
    _explicit_size(request)


def _explicit_size(request: ProviderRequest) -> tuple[int, int] | None:
    try:
        size = request.options.dimensions()
    except ValueError:
        raise invalid(f"the size {request.options.size!r} is not WIDTHxHEIGHT or auto") from None
    if size is not None:
        w, h = size
        if not (_MIN_EDGE <= w <= _LIMITS.max_edge and _MIN_EDGE <= h <= _LIMITS.max_edge) or (
            w * h > _LIMITS.max_pixels
        ):
            raise invalid(
                f"the size {w}x{h} is outside what the offline preview renders "
                f"({_MIN_EDGE}-{_LIMITS.max_edge} px a side, at most 3840x2160 worth of pixels)"
            )
    return size


# ---- shared helpers --------------------------------------------------------------------------


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def _palette(rng: random.Random, count: int = 5) -> list[RGB]:
    """A few harmonious colours around a seeded hue."""
    hue = rng.random()
    colours = []
    for _ in range(count):
        h = (hue + rng.uniform(-0.18, 0.18) + (0.5 if rng.random() < 0.25 else 0.0)) % 1.0
        r, g, b = colorsys.hsv_to_rgb(h, rng.uniform(0.45, 0.9), rng.uniform(0.45, 0.95))
        colours.append((round(r * 255), round(g * 255), round(b * 255)))
    return colours


def _gradient(size: tuple[int, int], corners: list[RGB]) -> Image.Image:
    """A smooth gradient through four corner colours (top-left, top-right, bottom-left, ...)."""
    tiny = Image.new("RGB", (2, 2))
    for i, colour in enumerate(corners[:4]):
        tiny.putpixel((i % 2, i // 2), colour)
    return tiny.resize(size, Image.Resampling.BILINEAR)


def _sans(text: str) -> str:
    return " ".join(text.split())


def _wrap(text: str, font: Font, width: float, lines: int) -> list[str]:
    """Wrap `text` to lines no wider than `width` px, at most `lines` of them (ellipsis if cut)."""
    avg = max(1.0, font.getlength("abcdefghijklmnopqrstuvwxyz ") / 27)
    chars = max(8, int(width / avg))
    wrapped = textwrap.wrap(_sans(text), width=chars, break_long_words=True) or [""]
    if len(wrapped) > lines:
        wrapped = wrapped[:lines]
        wrapped[-1] = wrapped[-1][: max(0, chars - 1)].rstrip() + "…"
    return wrapped


def _text_panel(
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


def _label_band(layer: Image.Image, *, compact: bool) -> None:
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


def _index_badge(layer: Image.Image, index: int) -> Box:
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


def _clear_layer(picture: Image.Image) -> Image.Image:
    """A transparent layer to draw translucent things on.

    ImageDraw only blends translucent ink on RGB images; on RGBA it would punch see-through
    holes. So decorations are drawn on a clear layer and alpha-composited in one go.
    """
    return Image.new("RGBA", picture.size, (0, 0, 0, 0))


def _finish(picture: Image.Image, request: ProviderRequest) -> GeneratedImage:
    options = request.options
    data = imaging.encode(picture, options.output_format, options.compression)
    return GeneratedImage(data, options.mime, picture.width, picture.height, revised_prompt=None)


def _previews(picture: Image.Image) -> list[bytes]:
    """Two small blurred PNG previews, coarse then finer, as a streaming model would send."""
    out = []
    for divisor, blur in ((8, 3), (4, 1.5)):
        size = (max(1, picture.width // divisor), max(1, picture.height // divisor))
        small = picture.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        out.append(imaging.encode(small.filter(ImageFilter.GaussianBlur(blur)), "png"))
    return out


# ---- the plan of one request -----------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    request: ProviderRequest
    size: tuple[int, int]
    source: Image.Image | None  # edit: the first image, RGBA at the output size
    edit_area: Image.Image | None  # edit with a mask: L, 255 where the mask was transparent
    references: tuple[Image.Image, ...]


def _decode_input(image: InputImage, what: str) -> Image.Image:
    try:
        return imaging.load_image(image.data)
    except ValueError:
        raise invalid(f"{what} ({image.filename}) could not be read as an image") from None


def _auto_size(width: int, height: int) -> tuple[int, int]:
    """The input's own size, scaled down if it is beyond what the renderer makes."""
    scale = min(1.0, _LIMITS.max_edge / max(width, height), (_LIMITS.max_pixels / (width * height)) ** 0.5)
    return max(1, int(width * scale)), max(1, int(height * scale))


def _prepare_edit(request: ProviderRequest) -> _Job:
    """Decode the edit's inputs once for all variants."""
    first = _decode_input(request.images[0], "the image to edit").convert("RGBA")
    size = _explicit_size(request) or _auto_size(*first.size)
    edit_area = None
    if request.mask is not None:
        mask = _decode_input(request.mask, "the mask")
        if mask.size != first.size:
            raise invalid(
                f"the mask is {mask.width}x{mask.height} but the image is {first.width}x{first.height}; "
                "masks must be the same size"
            )
        alpha = mask.convert("RGBA").getchannel("A")
        edit_area = alpha.point(lambda a: 255 if a == 0 else 0)
        if edit_area.size != size:
            edit_area = edit_area.resize(size, Image.Resampling.NEAREST)
    source = first if first.size == size else first.resize(size, Image.Resampling.LANCZOS)
    references = tuple(
        _decode_input(ref, f"reference image {i}") for i, ref in enumerate(request.images[1:], 2)
    )
    return _Job(request, size, source, edit_area, references)


def _render(job: _Job, index: int) -> tuple[Image.Image, GeneratedImage]:
    if job.source is None:
        picture = _generate(job.request, job.size, index)
    else:
        picture = _edit(job, index)
    return picture, _finish(picture, job.request)


# ---- generate --------------------------------------------------------------------------------


def _generate(request: ProviderRequest, size: tuple[int, int], index: int) -> Image.Image:
    rng = _rng("generate", request.prompt, request.variation_key, index)
    colours = _palette(rng, 7)
    transparent = request.options.background == "transparent"
    w, h = size
    base = min(w, h)
    # Opaque pictures are drawn in RGB, where ImageDraw blends translucent shapes; on the
    # transparent background the shapes are opaque, so drawing them straight on RGBA is right.
    picture = Image.new("RGBA", size, (0, 0, 0, 0)) if transparent else _gradient(size, colours[:4])
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
    lines = _wrap(request.prompt, font, 0.8 * w - 2 * pad, 5)
    layer = _clear_layer(picture)
    _text_panel(ImageDraw.Draw(layer), lines, font, (round(0.06 * w), round(0.08 * h)), pad)
    _index_badge(layer, index)
    _label_band(layer, compact=transparent)
    picture = picture.convert("RGBA")
    picture.alpha_composite(layer)
    return picture if transparent else picture.convert("RGB")


# ---- edit ------------------------------------------------------------------------------------


def _edit(job: _Job, index: int) -> Image.Image:
    request = job.request
    assert job.source is not None
    rng = _rng("edit", request.prompt, request.variation_key, index)
    tint = _palette(rng, 1)[0]
    transparent = request.options.background == "transparent"
    source = job.source
    if job.edit_area is None:
        # The whole image may change: a light tint (and a few outlines), seeded per variant.
        picture = Image.blend(source, Image.new("RGBA", source.size, (*tint, 255)), 0.16)
        picture.putalpha(source.getchannel("A"))
        if not transparent:
            _outlines(picture, rng, tint)
            _decorate(picture, job, index, compact=False)
    else:
        # Only the mask's transparent area changes; everything drawn goes into the fill layer so
        # the kept pixels stay exactly as they were (this is what zoom-out looks like offline).
        fill = _fill_layer(source, job.edit_area, rng, tint)
        if not transparent:
            _decorate(fill, job, index, compact=False)
        picture = Image.composite(fill, source, job.edit_area)
    if transparent:
        # The offline "remove background": key out the border colour, then label the cut-out.
        picture = _remove_background(picture)
        _decorate(picture, job, index, compact=True)
    elif request.options.background == "opaque" and imaging.alpha_low(picture) < 255:
        flat = Image.new("RGBA", picture.size, (255, 255, 255, 255))
        flat.alpha_composite(picture)
        picture = flat
    return picture


def _outlines(picture: Image.Image, rng: random.Random, tint: RGB) -> None:
    w, h = picture.size
    base = min(w, h)
    layer = _clear_layer(picture)
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
    fill = _gradient((w, h), corners)
    draw = ImageDraw.Draw(fill, "RGBA")  # RGB: the translucent stripes blend
    step = max(12, min(w, h) // 16)
    offset = rng.randrange(step)
    for x in range(-h + offset, w, step):
        draw.line((x, h, x + h, 0), fill=(*tint, 70), width=max(2, step // 4))
    return fill.convert("RGBA")


def _decorate(picture: Image.Image, job: _Job, index: int, *, compact: bool) -> None:
    """The instruction caption, reference thumbnails, index and label, composited onto `picture`."""
    w, h = picture.size
    base = min(w, h)
    layer = _clear_layer(picture)
    font = imaging.load_font(max(10, base // 32))
    pad = max(4, base // 90)
    lines = _wrap(f"edit: {job.request.prompt}", font, 0.7 * w - 2 * pad, 2)
    panel = _text_panel(ImageDraw.Draw(layer), lines, font, (pad, pad), pad, fill=(0, 0, 0, 170))
    badge = _index_badge(layer, index)
    _references(layer, job.references, top=round(max(panel[3], badge[3])) + pad)
    _label_band(layer, compact=compact)
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
