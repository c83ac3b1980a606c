"""Reading image bytes: what format they really are, their header, and their pixels.

Formats are told by content (magic numbers), never by file name or declared MIME type.
"""

from __future__ import annotations

import io

from PIL import Image

# The formats uploads may be in, with the MIME type each is stored as. MPO (camera JPEGs with
# extra preview frames) is a JPEG to everyone downstream.
ACCEPTED_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "MPO": "image/jpeg", "WEBP": "image/webp"}


def sniff(data: bytes) -> str | None:
    """The Pillow format name the bytes really are (by their magic numbers), or None."""
    Image.init()
    prefix = data[:16]
    for fmt in Image.ID:
        accept = Image.OPEN[fmt][1]
        if accept is None:  # plugins without a signature check would "accept" anything
            continue
        try:
            result = accept(prefix)
        # Each plugin's signature check is its own code and may fail in its own way on a short or
        # odd prefix; any failure only means "not this format".
        except Exception:  # noqa: BLE001
            continue
        if result and not isinstance(result, str):
            return fmt
    return None


def open_lazy(data: bytes, fmt: str, filename: str = "") -> Image.Image:
    """Parse only the header, through the plugin's factory.

    `Image.open` would also run Pillow's own decompression-bomb check, which warns or raises
    based on the process-wide `Image.MAX_IMAGE_PIXELS`; we check our own limit instead, before
    any pixels are decoded, so neither the warning nor the error can escape.
    """
    factory = Image.OPEN[fmt][0]
    return factory(io.BytesIO(data), filename)


def _mime_of(im: Image.Image) -> str:
    fmt = (im.format or "").upper()
    return ACCEPTED_FORMATS.get(fmt) or Image.MIME.get(fmt, "application/octet-stream")


def load_image(data: bytes, *, covering: tuple[int, int] | None = None) -> Image.Image:
    """Open and fully decode trusted image bytes (ours or already validated); ValueError if not.

    With `covering`, a format that can decode at a reduced scale (JPEG: 1/2, 1/4, 1/8) does so,
    as long as the result still covers that box: a thumbnail never pays for every pixel.
    """
    fmt = sniff(data)
    if fmt is None:
        raise ValueError("not an image Pillow can read")
    try:
        im = open_lazy(data, fmt)
        if covering is not None:
            im.draft(im.mode, covering)
        im.load()
    except Exception as exc:
        raise ValueError(f"cannot decode {fmt} image: {exc}") from exc
    return im


def probe(data: bytes) -> tuple[str, int, int]:
    """MIME type, width and height of trusted image bytes, reading only the header."""
    fmt = sniff(data)
    if fmt is None:
        raise ValueError("not an image Pillow can read")
    im = open_lazy(data, fmt)
    return _mime_of(im), im.width, im.height
