"""Untrusted uploads: validated by content, within size limits, re-encoded without metadata.

Failures raise `BotError`s whose messages are meant for the person who sent the file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageOps

from bot.errors import invalid
from bot.imaging.encoding import encode, has_alpha, png_ready
from bot.imaging.reading import ACCEPTED_FORMATS, load_image, open_lazy, sniff

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000

# How to name a rejected format in a sentence ("anim.gif is a GIF; ...").
_FORMAT_NAMES = {
    "GIF": "a GIF",
    "BMP": "a BMP",
    "DIB": "a BMP",
    "TIFF": "a TIFF",
    "ICO": "an icon (ICO)",
    "CUR": "a cursor (CUR)",
    "ICNS": "an icon (ICNS)",
    "PSD": "a Photoshop (PSD) file",
    "AVIF": "an AVIF",
    "JPEG2000": "a JPEG 2000",
    "EPS": "an EPS",
    "TGA": "a TGA",
    "QOI": "a QOI",
    "PPM": "a PPM",
    "PCX": "a PCX",
    "DDS": "a DDS",
}
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
_SEND_INSTEAD = "send PNG, JPEG or WebP"


@dataclass(frozen=True)
class DecodedImage:
    """A validated upload: its (possibly re-encoded, upright) bytes and real format and size."""

    data: bytes = field(repr=False)
    mime: str
    width: int
    height: int

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


def _human_bytes(n: int | float) -> str:
    """ "61.2 MB", "50 MB", "12 KB", "300 bytes" (binary units, as chat platforms count them)."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{int(n)} bytes"


def _rejected_format(data: bytes, name: str) -> str:
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return f"{name} is a HEIC photo; {_SEND_INSTEAD}"
    fmt = sniff(data)
    if fmt is None:
        return f"{name} is not an image (PNG, JPEG or WebP)"
    return f"{name} is {_FORMAT_NAMES.get(fmt, f'a {fmt} image')}; {_SEND_INSTEAD}"


def decode_upload(
    data: bytes,
    filename: str = "upload",
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> DecodedImage:
    """Validate an untrusted upload and return it upright, with its real format and size.

    Checks, in order: not empty, at most `max_bytes`, really PNG/JPEG/WebP (by content, not
    extension), not animated, at most `max_pixels` (read from the header, before decoding, so
    decompression bombs cost nothing), fully decodable. The EXIF orientation is applied, so width
    and height describe what people see, and the image is re-encoded without any metadata
    (`_without_metadata`).
    """
    name = filename or "upload"
    if not data:
        raise invalid(f"{name} is empty")
    if len(data) > max_bytes:
        raise invalid(f"{name} is {_human_bytes(len(data))}; images must be under {_human_bytes(max_bytes)}")
    fmt = sniff(data)
    if fmt not in ACCEPTED_FORMATS:
        raise invalid(_rejected_format(data, name))
    damaged = invalid(f"{name} is damaged or truncated")
    try:
        im = open_lazy(data, fmt, name)
    except Exception as exc:  # Pillow raises SyntaxError, OSError, struct.error, ... on bad headers
        raise damaged from exc
    width, height = im.size
    if width <= 0 or height <= 0:
        raise damaged
    if width * height > max_pixels:
        raise invalid(
            f"{name} is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"images must be at most {max_pixels / 1e6:g} megapixels"
        )
    # MPO (camera JPEGs with extra preview frames) is fine; animated PNG/WebP is not a still.
    if fmt in ("PNG", "WEBP") and getattr(im, "is_animated", False):
        raise invalid(f"{name} is animated; send a single still image (PNG, JPEG or WebP)")
    try:
        im.load()
    except Exception as exc:
        raise damaged from exc
    mime = ACCEPTED_FORMATS[fmt]

    return _without_metadata(im, mime)


def _without_metadata(im: Image.Image, mime: str) -> DecodedImage:
    """The upload upright and re-encoded with its pixels only: no EXIF (GPS, Artist, camera
    serial), no XMP packet, no comments or PNG text chunks (Location, Author...). Only what
    changes how the pixels look survives: the ICC colour profile and PNG/GIF-style transparency.

    Every upload goes through this, so no location or identity reaches the provider or storage.
    """
    upright = ImageOps.exif_transpose(im)  # a copy, even when nothing had to turn
    kept: dict[str | tuple[int, int], Any] = {
        key: im.info[key] for key in ("icc_profile", "transparency") if key in im.info
    }
    upright.info = kept
    buf = io.BytesIO()
    icc = kept.get("icc_profile")
    if mime == "image/jpeg" and upright.mode in ("L", "RGB", "CMYK"):
        # A photo stays a photo: PNG would make it several times larger (and over limits).
        upright.save(buf, "JPEG", quality=95, icc_profile=icc)
    elif mime == "image/webp":
        upright.save(buf, "WEBP", quality=95, method=4, icc_profile=icc)
    else:
        png_ready(upright).save(buf, "PNG", icc_profile=icc)
        mime = "image/png"
    return DecodedImage(buf.getvalue(), mime, upright.width, upright.height)


def mask_from_upload(data: bytes, width: int, height: int) -> bytes:
    """Validate an uploaded mask for a width x height image and return it as an RGBA PNG.

    It must be a valid image upload, exactly the image's size, and have some fully
    transparent (alpha 0) pixels: those mark the area to change.
    """
    decoded = decode_upload(data, "the mask")
    if (decoded.width, decoded.height) != (width, height):
        raise invalid(
            f"the mask is {decoded.width}x{decoded.height} but the image is {width}x{height}; "
            "masks must be the same size"
        )
    im = load_image(decoded.data)
    rgba = im.convert("RGBA")
    if not has_alpha(im) or rgba.getchannel("A").getextrema()[0] != 0:
        raise invalid("the mask has no transparent pixels: paint the area to change transparent")
    return encode(rgba, "png")
