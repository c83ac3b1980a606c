"""Fitting an image under a platform's upload limit, saying what was done to it."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

from PIL import Image

from bot.domain import FORMAT_BY_MIME, MIME_BY_FORMAT
from bot.imaging.encoding import encode, flatten, is_transparent
from bot.imaging.reading import load_image

_QUALITY_STEPS = (90, 75, 60)
_MIN_EDGE = 16


@dataclass(frozen=True)
class Fitted:
    """The result of `fit_under`: bytes that fit, and what (if anything) was done to them."""

    data: bytes = field(repr=False)
    mime: str
    extension: str  # "png", "jpg" or "webp", for the uploaded file's name
    reencoded: bool
    note: str | None  # a sentence for the chat message when the image was re-encoded


def _human_limit(n: int) -> str:
    """ "10 MiB", "1.5 MiB", "800 KiB", "500 bytes"."""
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


def _extension(mime: str) -> str:
    fmt = FORMAT_BY_MIME.get(mime, mime.rsplit("/", 1)[-1])
    return "jpg" if fmt == "jpeg" else fmt


def fit_under(data: bytes, mime: str, max_bytes: int) -> Fitted:
    """Return the image unchanged if it fits in `max_bytes`; otherwise re-encode it to fit.

    Transparent images become WebP (keeping alpha), the rest JPEG; quality is lowered step by
    step and, if even the lowest quality is too big, the image is scaled down until it fits.
    Raises ValueError when it cannot fit even at a tiny size.
    """
    if len(data) <= max_bytes:
        return Fitted(data, mime, _extension(mime), False, None)
    im = load_image(data)
    transparent = is_transparent(im)
    target = "webp" if transparent else "jpeg"
    im = im.convert("RGBA") if transparent else flatten(im)
    original = FORMAT_BY_MIME.get(mime, "image").upper()
    limit = _human_limit(max_bytes)

    def done(out: bytes, quality: int, scaled: Image.Image | None) -> Fitted:
        how = f"re-encoded as {target.upper()} (quality {quality})"
        kept = f"the original {original} is kept"
        if scaled is not None:
            how += f" and scaled down to {scaled.width}x{scaled.height}"
            kept = f"the original {original} ({im.width}x{im.height}) is kept"
        note = f"{how} to fit the {limit} upload limit; {kept}"
        return Fitted(out, MIME_BY_FORMAT[target], _extension(MIME_BY_FORMAT[target]), True, note)

    def attempt(image: Image.Image, quality: int) -> bytes:
        if target == "jpeg":
            return encode(image, "jpeg", quality)
        # The fastest WebP method and lossy alpha: this copy only has to fit, the original is kept.
        buf = io.BytesIO()
        image.save(buf, "WEBP", quality=quality, alpha_quality=quality, method=0)
        return buf.getvalue()

    out = b""
    for quality in _QUALITY_STEPS:
        out = attempt(im, quality)
        if len(out) <= max_bytes:
            return done(out, quality, None)
    quality = _QUALITY_STEPS[-1]
    # Bytes shrink roughly with the pixel count: jump close to the right scale, then creep down.
    scale = min(0.95, math.sqrt(max_bytes / len(out)) * 0.95)
    too_big = 1.0  # the smallest scale known not to fit
    while True:
        size = (round(im.width * scale), round(im.height * scale))
        if min(size) < _MIN_EDGE:
            raise ValueError(f"cannot fit a {im.width}x{im.height} image under {limit}")
        scaled = im.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        out = attempt(scaled, quality)
        if len(out) <= max_bytes:
            break
        too_big = scale
        scale *= min(0.85, math.sqrt(max_bytes / len(out)))
    # Downscaling smooths detail away, so the estimate overshoots; a few bisection steps back up
    # keep noticeably more of the image while staying under the limit.
    for _ in range(3):
        if len(out) >= 0.7 * max_bytes:
            break
        middle = math.sqrt(scale * too_big)
        size = (round(im.width * middle), round(im.height * middle))
        larger = im.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        retry = attempt(larger, quality)
        if len(retry) <= max_bytes:
            scale, scaled, out = middle, larger, retry
        else:
            too_big = middle
    return done(out, quality, scaled)
