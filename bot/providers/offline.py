"""The offline provider: a deterministic local renderer for demos and tests, no API key needed.

It makes real images that visibly follow the request (colours and shapes seeded from the prompt,
the prompt text drawn on the image, edits derived from the input) and labels every one of them
"offline preview", so nobody mistakes them for the model's work. The same request always gives
byte-identical images; the variation key and the image index change them.

All Pillow work runs in a thread (`asyncio.to_thread`) so the event loop never stalls.

This module takes the requests: checks, sizes, decoding the inputs once, partial previews and
encoding. What the pictures look like is `offline_pictures`; its drawing kit is `offline_drawing`.
"""

from __future__ import annotations

import asyncio

from PIL import Image, ImageFilter

from bot import imaging
from bot.errors import invalid
from bot.model_catalog import SizeRules
from bot.providers.base import (
    Descriptions,
    GeneratedImage,
    InputImage,
    OnPartial,
    ProviderRequest,
    ProviderResult,
)
from bot.providers.offline_describe import OfflineDescriber
from bot.providers.offline_pictures import Plan, draw_picture

LABEL = "offline preview"
_DEFAULT_SIZE = (1024, 1024)
_LIMITS = SizeRules()
_MIN_EDGE = 16


# A local preview: encoded fast rather than small (the encode was half of its CPU; the files,
# ~120 KB at 1024x1024, stay on this machine).
PNG_LEVEL = 1


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
            plan = await asyncio.to_thread(_prepare_edit, request)
        else:
            size = _explicit_size(request) or _DEFAULT_SIZE
            plan = Plan(request, size, None, None, ())
        images: list[GeneratedImage] = []
        for index in range(request.options.n):
            picture, image = await asyncio.to_thread(_render, plan, index)
            if index == 0 and on_partial is not None:
                for preview in await asyncio.to_thread(_previews, picture):
                    await on_partial(preview)
            images.append(image)
        return ProviderResult(images=tuple(images), usage=None, label=LABEL)

    async def describe(
        self, image: InputImage, n: int, *, safety_identifier: str | None = None
    ) -> Descriptions:
        """/describe offline: suggestions from the image's colours and size (labelled)."""
        return await OfflineDescriber().describe(image, n)

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


# ---- preparing and rendering -----------------------------------------------------------------


def _decode_input(image: InputImage, what: str) -> Image.Image:
    try:
        return imaging.load_image(image.data)
    except ValueError:
        raise invalid(f"{what} ({image.filename}) could not be read as an image") from None


def _auto_size(width: int, height: int) -> tuple[int, int]:
    """The input's own size, scaled down if it is beyond what the renderer makes."""
    scale = min(1.0, _LIMITS.max_edge / max(width, height), (_LIMITS.max_pixels / (width * height)) ** 0.5)
    return max(1, int(width * scale)), max(1, int(height * scale))


def _prepare_edit(request: ProviderRequest) -> Plan:
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
    return Plan(request, size, source, edit_area, references)


def _render(plan: Plan, index: int) -> tuple[Image.Image, GeneratedImage]:
    picture = draw_picture(plan, index)
    return picture, _finish(picture, plan.request)


def _finish(picture: Image.Image, request: ProviderRequest) -> GeneratedImage:
    options = request.options
    data = imaging.encode(picture, options.output_format, options.compression, png_level=PNG_LEVEL)
    return GeneratedImage(data, options.mime, picture.width, picture.height, revised_prompt=None)


def _previews(picture: Image.Image) -> list[bytes]:
    """Two small blurred PNG previews, coarse then finer, as a streaming model would send."""
    out = []
    for divisor, blur in ((8, 3), (4, 1.5)):
        size = (max(1, picture.width // divisor), max(1, picture.height // divisor))
        small = picture.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        out.append(imaging.encode(small.filter(ImageFilter.GaussianBlur(blur)), "png", png_level=PNG_LEVEL))
    return out
