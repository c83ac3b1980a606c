"""Pillow helpers: safe decoding of uploads, encoding, grids, fitting under upload limits, masks.

Every function here is synchronous and CPU-bound; async callers run them in a thread
(`asyncio.to_thread`) so the event loop never stalls (DESIGN.md §3).

Untrusted bytes go through `decode_upload` (and `mask_from_upload`), which raise `BotError`s with
messages meant for the person who sent the file. Everything else works on our own, already
validated images and raises `ValueError` for programming errors.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps

from bot.domain import FORMAT_BY_MIME, MIME_BY_FORMAT, Placement
from bot.errors import invalid

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_QUALITY = 90  # webp/jpeg quality when the options name no compression

_ACCEPTED = {"PNG": "image/png", "JPEG": "image/jpeg", "MPO": "image/jpeg", "WEBP": "image/webp"}
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


@dataclass(frozen=True)
class Fitted:
    """The result of `fit_under`: bytes that fit, and what (if anything) was done to them."""

    data: bytes = field(repr=False)
    mime: str
    extension: str  # "png", "jpg" or "webp", for the uploaded file's name
    reencoded: bool
    note: str | None  # a sentence for the chat message when the image was re-encoded


# ---- opening ---------------------------------------------------------------------------------


def _sniff(data: bytes) -> str | None:
    """The Pillow format name the bytes really are (by their magic numbers), or None."""
    Image.init()
    prefix = data[:16]
    for fmt in Image.ID:
        accept = Image.OPEN[fmt][1]
        if accept is None:  # plugins without a signature check would "accept" anything
            continue
        try:
            result = accept(prefix)
        except Exception:
            continue
        if result and not isinstance(result, str):
            return fmt
    return None


def _open_lazy(data: bytes, fmt: str, filename: str = "") -> Image.Image:
    """Parse only the header, through the plugin's factory.

    `Image.open` would also run Pillow's own decompression-bomb check, which warns or raises
    based on the process-wide `Image.MAX_IMAGE_PIXELS`; we check our own limit instead, before
    any pixels are decoded, so neither the warning nor the error can escape.
    """
    factory = Image.OPEN[fmt][0]
    return factory(io.BytesIO(data), filename)


def _mime_of(im: Image.Image) -> str:
    fmt = (im.format or "").upper()
    return _ACCEPTED.get(fmt) or Image.MIME.get(fmt, "application/octet-stream")


def load_image(data: bytes) -> Image.Image:
    """Open and fully decode trusted image bytes (ours or already validated); ValueError if not."""
    fmt = _sniff(data)
    if fmt is None:
        raise ValueError("not an image Pillow can read")
    try:
        im = _open_lazy(data, fmt)
        im.load()
    except Exception as exc:
        raise ValueError(f"cannot decode {fmt} image: {exc}") from exc
    return im


def probe(data: bytes) -> tuple[str, int, int]:
    """MIME type, width and height of trusted image bytes, reading only the header."""
    fmt = _sniff(data)
    if fmt is None:
        raise ValueError("not an image Pillow can read")
    im = _open_lazy(data, fmt)
    return _mime_of(im), im.width, im.height


# ---- untrusted uploads -----------------------------------------------------------------------


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
    fmt = _sniff(data)
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
    fmt = _sniff(data)
    if fmt not in _ACCEPTED:
        raise invalid(_rejected_format(data, name))
    damaged = invalid(f"{name} is damaged or truncated")
    try:
        im = _open_lazy(data, fmt, name)
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
    mime = _ACCEPTED[fmt]

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
        _png_ready(upright).save(buf, "PNG", icc_profile=icc)
        mime = "image/png"
    return DecodedImage(buf.getvalue(), mime, upright.width, upright.height)


# ---- encoding --------------------------------------------------------------------------------


def _image_has_alpha(im: Image.Image) -> bool:
    """Whether the image carries alpha data at all (not whether any pixel is see-through)."""
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _image_is_transparent(im: Image.Image) -> bool:
    """Whether at least one pixel is not fully opaque."""
    if not _image_has_alpha(im):
        return False
    return alpha_low(im if im.mode == "RGBA" else im.convert("RGBA")) < 255


def alpha_low(rgba: Image.Image) -> int:
    """The lowest alpha of an RGBA image's pixels (255: fully opaque)."""
    low = rgba.getchannel("A").getextrema()[0]
    # A one-band image's extrema are (low, high); Pillow's types also allow per-band pairs.
    return int(low[0] if isinstance(low, tuple) else low)


def _png_ready(im: Image.Image) -> Image.Image:
    if im.mode in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
        return im
    return im.convert("RGBA" if _image_has_alpha(im) else "RGB")


def _flatten(im: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """An RGB copy with any alpha composited onto `background`."""
    if not _image_has_alpha(im):
        return im if im.mode == "RGB" else im.convert("RGB")
    rgba = im.convert("RGBA")
    out = Image.new("RGB", rgba.size, background)
    out.paste(rgba, mask=rgba.getchannel("A"))
    return out


def encode(image: Image.Image, output_format: str = "png", compression: int | None = None) -> bytes:
    """Encode as png, webp or jpeg; `compression` is the 0..100 quality for webp/jpeg.

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
        _png_ready(image).save(buf, "PNG")
    elif fmt == "webp":
        im = image.convert("RGBA") if _image_has_alpha(image) else image.convert("RGB")
        im.save(buf, "WEBP", quality=quality, method=4)
    else:
        _flatten(image).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def to_png(data: bytes) -> bytes:
    """The image as PNG bytes (returned unchanged when it already is a PNG)."""
    if _sniff(data) == "PNG":
        return data
    return encode(load_image(data), "png")


def has_transparency(data: bytes) -> bool:
    """Whether any pixel of the image is not fully opaque."""
    return _image_is_transparent(load_image(data))


def resample(data: bytes, width: int, height: int) -> bytes:
    """A high-quality (Lanczos) resize to width x height, as PNG: the local-upscale fallback."""
    if width <= 0 or height <= 0:
        raise ValueError(f"bad target size {width}x{height}")
    im = load_image(data)
    im = im.convert("RGBA" if _image_has_alpha(im) else "RGB")
    return encode(im.resize((width, height), Image.Resampling.LANCZOS), "png")


# ---- text ------------------------------------------------------------------------------------

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


# ---- grid ------------------------------------------------------------------------------------

_GRID_BACKGROUND = (32, 34, 37)


def grid_columns(n: int) -> int:
    """Columns of a grid of n images: 1, 2 (up to 4), 3 (up to 9), 4 (10 and beyond)."""
    if n <= 1:
        return 1
    return math.ceil(math.sqrt(n))


def _fit_into(im: Image.Image, box: int) -> Image.Image:
    scale = min(box / im.width, box / im.height)
    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
    return im.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0 if scale < 1 else None)


def _checkerboard(size: tuple[int, int], square: int) -> Image.Image:
    cols, rows = math.ceil(size[0] / square), math.ceil(size[1] / square)
    tiny = Image.new("L", (cols, rows), 204)
    for y in range(rows):
        for x in range((y + 1) % 2, cols, 2):
            tiny.putpixel((x, y), 153)
    board = tiny.resize((cols * square, rows * square), Image.Resampling.NEAREST)
    return board.crop((0, 0, *size)).convert("RGB")


def make_grid(images: Sequence[bytes], *, cell: int = 512, gap: int = 8) -> bytes:
    """A PNG preview of a set, in reading order, each image numbered so people can say U2/V3.

    Image 1 is top-left, then left to right and top to bottom; each image is fitted into a
    cell x cell box keeping its aspect, and the cells are as wide and tall as the fitted images
    need; transparent ones are shown over a checkerboard.
    """
    if not images:
        raise ValueError("make_grid needs at least one image")
    n = len(images)
    cols = grid_columns(n)
    rows = math.ceil(n / cols)
    fitted_all = []
    for data in images:
        im = load_image(data)
        fitted_all.append(_fit_into(im.convert("RGBA" if _image_has_alpha(im) else "RGB"), cell))
    # Cells take the images' own shape (a set of 16:9 images makes 16:9 cells), so wide or tall
    # sets are not letterboxed into squares with wide empty bands.
    cell_w = max(f.width for f in fitted_all)
    cell_h = max(f.height for f in fitted_all)
    canvas = Image.new(
        "RGB", (cols * cell_w + (cols + 1) * gap, rows * cell_h + (rows + 1) * gap), _GRID_BACKGROUND
    )
    draw = ImageDraw.Draw(canvas)
    font = load_font(max(12, cell // 14))
    pad = max(4, cell // 48)
    for i, fitted in enumerate(fitted_all):
        row, col = divmod(i, cols)
        cell_x, cell_y = gap + col * (cell_w + gap), gap + row * (cell_h + gap)
        x, y = cell_x + (cell_w - fitted.width) // 2, cell_y + (cell_h - fitted.height) // 2
        if fitted.mode == "RGBA":
            canvas.paste(_checkerboard(fitted.size, max(4, cell // 32)), (x, y))
            canvas.paste(fitted, (x, y), fitted)
        else:
            canvas.paste(fitted, (x, y))
        label = str(i + 1)
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        w, h = right - left, bottom - top
        side = max(w, h) + 2 * pad
        bx, by = x + pad, y + pad
        draw.rounded_rectangle((bx, by, bx + side, by + side), radius=side // 4, fill=(0, 0, 0))
        draw.text(
            (bx + (side - w) / 2 - left, by + (side - h) / 2 - top), label, font=font, fill=(255, 255, 255)
        )
    return encode(canvas, "png")


# ---- fitting under an upload limit -----------------------------------------------------------

_QUALITY_STEPS = (90, 75, 60)
_MIN_EDGE = 16


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
    transparent = _image_is_transparent(im)
    target = "webp" if transparent else "jpeg"
    im = im.convert("RGBA") if transparent else _flatten(im)
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


# ---- outpainting and masks -------------------------------------------------------------------


def outpaint_inputs(data: bytes, placement: Placement) -> tuple[bytes, bytes]:
    """The (canvas, mask) PNG pair for outpainting `data` onto a larger canvas.

    The canvas is RGBA: the image, resized (Lanczos) to the inner size, pasted at (x, y), the
    rest fully transparent. The mask has alpha 255 over the pasted image and alpha 0 where the
    model should paint ("fully transparent areas indicate where the image should be edited").
    """
    p = placement
    if p.inner_width <= 0 or p.inner_height <= 0:
        raise ValueError(f"bad inner size {p.inner_width}x{p.inner_height}")
    if p.x < 0 or p.y < 0 or p.x + p.inner_width > p.canvas_width or p.y + p.inner_height > p.canvas_height:
        raise ValueError(f"placement {p} does not fit inside its canvas")
    im = load_image(data).convert("RGBA")
    inner = im.resize((p.inner_width, p.inner_height), Image.Resampling.LANCZOS)
    canvas = Image.new("RGBA", (p.canvas_width, p.canvas_height), (0, 0, 0, 0))
    canvas.paste(inner, (p.x, p.y))
    mask = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    mask.paste((255, 255, 255, 255), (p.x, p.y, p.x + p.inner_width, p.y + p.inner_height))
    return encode(canvas, "png"), encode(mask, "png")


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
    if not _image_has_alpha(im) or rgba.getchannel("A").getextrema()[0] != 0:
        raise invalid("the mask has no transparent pixels: paint the area to change transparent")
    return encode(rgba, "png")
