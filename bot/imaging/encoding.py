"""Encoding our own images as PNG, WebP or JPEG, and the alpha questions encoding depends on."""

from __future__ import annotations

import io

from PIL import Image

from bot.domain import MIME_BY_FORMAT
from bot.imaging.reading import load_image, sniff

DEFAULT_QUALITY = 90  # webp/jpeg quality when the options name no compression


def has_alpha(im: Image.Image) -> bool:
    """Whether the image carries alpha data at all (not whether any pixel is see-through)."""
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def is_transparent(im: Image.Image) -> bool:
    """Whether at least one pixel is not fully opaque."""
    if not has_alpha(im):
        return False
    return alpha_low(im if im.mode == "RGBA" else im.convert("RGBA")) < 255


def alpha_low(rgba: Image.Image) -> int:
    """The lowest alpha of an RGBA image's pixels (255: fully opaque)."""
    low = rgba.getchannel("A").getextrema()[0]
    # A one-band image's extrema are (low, high); Pillow's types also allow per-band pairs.
    return int(low[0] if isinstance(low, tuple) else low)


def png_ready(im: Image.Image) -> Image.Image:
    """The image in a mode PNG can store: unchanged if it already is, else RGB or RGBA."""
    if im.mode in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
        return im
    return im.convert("RGBA" if has_alpha(im) else "RGB")


def flatten(im: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """An RGB copy with any alpha composited onto `background`."""
    if not has_alpha(im):
        return im if im.mode == "RGB" else im.convert("RGB")
    rgba = im.convert("RGBA")
    out = Image.new("RGB", rgba.size, background)
    out.paste(rgba, mask=rgba.getchannel("A"))
    return out


def encode(
    image: Image.Image, output_format: str = "png", compression: int | None = None, *, png_level: int = 6
) -> bytes:
    """Encode as png, webp or jpeg; `compression` is the 0..100 quality for webp/jpeg;
    `png_level` is zlib's effort for png (1: about twice as fast, files about half again larger).

    JPEG cannot hold alpha, so transparent pixels are composited onto white.
    """
    fmt = output_format.lower()
    fmt = "jpeg" if fmt == "jpg" else fmt
    if fmt not in MIME_BY_FORMAT:
        raise ValueError(f"unknown output format {output_format!r}")
    if compression is not None and not 0 <= compression <= 100:
        raise ValueError(f"compression must be 0..100, not {compression}")
    quality = DEFAULT_QUALITY if compression is None else compression
    buf = io.BytesIO()
    if fmt == "png":
        png_ready(image).save(buf, "PNG", compress_level=png_level)
    elif fmt == "webp":
        im = image.convert("RGBA") if has_alpha(image) else image.convert("RGB")
        im.save(buf, "WEBP", quality=quality, method=4)
    else:
        flatten(image).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def to_png(data: bytes) -> bytes:
    """The image as PNG bytes (returned unchanged when it already is a PNG)."""
    if sniff(data) == "PNG":
        return data
    return encode(load_image(data), "png")


def has_transparency(data: bytes) -> bool:
    """Whether any pixel of the image is not fully opaque."""
    return is_transparent(load_image(data))


def resample(data: bytes, width: int, height: int) -> bytes:
    """A high-quality (Lanczos) resize to width x height, as PNG: the local-upscale fallback."""
    if width <= 0 or height <= 0:
        raise ValueError(f"bad target size {width}x{height}")
    im = load_image(data)
    im = im.convert("RGBA" if has_alpha(im) else "RGB")
    return encode(im.resize((width, height), Image.Resampling.LANCZOS), "png")
