"""bot.imaging: safe decoding of untrusted uploads, encoding, grids, fitting, outpaint masks."""

from __future__ import annotations

import io
import os
import struct
import time
import warnings
import zlib

import pytest
from PIL import Image, ImageDraw

from bot import imaging
from bot.domain import Placement
from bot.errors import BotError, ErrorKind
from tests.helpers import encode_png

MiB = 1024 * 1024


def jpeg(image: Image.Image, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", **kwargs)
    return buf.getvalue()


def solid(colour, size=(64, 48), mode="RGB") -> bytes:
    return encode_png(Image.new(mode, size, colour))


def open_image(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def rejects(data: bytes, filename: str = "upload", **kwargs) -> str:
    with pytest.raises(BotError) as caught:
        imaging.decode_upload(data, filename, **kwargs)
    assert caught.value.kind is ErrorKind.INVALID_INPUT
    return caught.value.message


def bomb_png(width: int, height: int) -> bytes:
    """A tiny real PNG whose IHDR is patched to declare width x height (with a valid CRC)."""
    data = bytearray(solid((255, 0, 0), (8, 8)))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


# ---- decode_upload ---------------------------------------------------------------------------


def test_decode_reports_real_format():
    data = jpeg(Image.new("RGB", (120, 80), (10, 200, 30)))
    decoded = imaging.decode_upload(data, "photo.png")  # the extension lies; the bytes decide
    assert (decoded.mime, decoded.width, decoded.height) == ("image/jpeg", 120, 80)
    assert "bytes" not in repr(decoded)
    assert str(len(data)) not in repr(decoded)


def test_decode_accepts_webp():
    buf = io.BytesIO()
    Image.new("RGBA", (40, 30), (1, 2, 3, 128)).save(buf, "WEBP")
    decoded = imaging.decode_upload(buf.getvalue(), "a.webp")
    assert (decoded.mime, decoded.size) == ("image/webp", "40x30")


@pytest.mark.parametrize(("width", "height"), [(50_000, 50_000), (8000, 6000), (100_000, 1000)])
def test_decompression_bomb_rejected_from_header(width, height):
    data = bomb_png(width, height)
    started = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DecompressionBombWarning would fail the test
        message = rejects(data, "big.png")
    assert time.monotonic() - started < 1.0
    assert message.startswith(f"big.png is {width}x{height} pixels")
    assert "images must be at most 40 megapixels" in message


def test_large_but_compressible_bomb_rejected():
    # A genuine 12000x12000 1-bit PNG: a few kilobytes that would decode to 144 megapixels.
    data = encode_png(Image.new("1", (12000, 12000), 0))
    assert len(data) < 100_000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        message = rejects(data, "zip.png")
    assert "12000x12000 pixels" in message
    assert "40 megapixels" in message


def test_jpeg_bomb_rejected_from_header():
    data = bytearray(jpeg(Image.new("RGB", (16, 16))))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)  # height, width
    message = rejects(bytes(data), "huge.jpg")
    assert message.startswith("huge.jpg is 65000x65000 pixels")


def test_pixel_limit_is_configurable():
    data = solid((0, 0, 0), (100, 100))
    assert "at most 0.005 megapixels" in rejects(data, "x.png", max_pixels=5000)
    assert imaging.decode_upload(data, "x.png", max_pixels=10_000).width == 100


def test_exif_orientation_is_applied():
    im = Image.new("RGB", (200, 100), (255, 0, 0))
    ImageDraw.Draw(im).rectangle((0, 0, 49, 99), fill=(0, 0, 255))  # blue on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    decoded = imaging.decode_upload(jpeg(im, exif=exif, quality=95), "phone.jpg")
    assert (decoded.width, decoded.height) == (100, 200)
    upright = open_image(decoded.data)
    assert upright.size == (100, 200)
    assert upright.getexif().get(0x0112, 1) == 1
    r, _g, b = upright.convert("RGB").getpixel((50, 10))  # the blue strip is now at the top
    assert b > 200
    assert r < 60


def test_upright_exif_is_dropped_too():
    exif = Image.Exif()
    exif[0x0112] = 1
    data = jpeg(Image.new("RGB", (30, 20)), exif=exif)
    decoded = imaging.decode_upload(data, "a.jpg")
    assert b"Exif" not in decoded.data
    assert (decoded.width, decoded.height) == (30, 20)


def test_pdf_is_not_an_image():
    data = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    assert rejects(data, "notes.pdf") == "notes.pdf is not an image (PNG, JPEG or WebP)"


def test_text_is_not_an_image():
    assert (
        rejects(b"hello, this is just text", "readme.png") == "readme.png is not an image (PNG, JPEG or WebP)"
    )


def test_gif_is_named():
    buf = io.BytesIO()
    Image.new("P", (10, 10)).save(buf, "GIF")
    assert rejects(buf.getvalue(), "anim.gif") == "anim.gif is a GIF; send PNG, JPEG or WebP"


def test_heic_is_named():
    data = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    assert rejects(data, "IMG_0001.HEIC") == "IMG_0001.HEIC is a HEIC photo; send PNG, JPEG or WebP"


def test_empty_file():
    assert rejects(b"", "blank.png") == "blank.png is empty"


def test_truncated_jpeg():
    data = jpeg(Image.frombytes("RGB", (256, 256), os.urandom(256 * 256 * 3)))
    assert rejects(data[: len(data) // 2], "photo.jpg") == "photo.jpg is damaged or truncated"


def test_truncated_png():
    data = encode_png(Image.frombytes("RGB", (128, 128), os.urandom(128 * 128 * 3)))
    assert rejects(data[: len(data) - 2000], "shot.png") == "shot.png is damaged or truncated"


def test_over_max_bytes():
    data = solid((1, 2, 3), (64, 64))
    assert (
        rejects(data, "photo.png", max_bytes=100)
        == f"photo.png is {len(data)} bytes; images must be under 100 bytes"
    )


def test_over_50_mb_message_wording():
    data = b"\x89PNG" + bytes(int(61.2 * MiB))
    assert rejects(data, "photo.png") == "photo.png is 61.2 MB; images must be under 50 MB"


def test_animated_png_rejected():
    frames = [Image.new("RGB", (20, 20), c) for c in ((255, 0, 0), (0, 255, 0))]
    buf = io.BytesIO()
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:])
    assert "is animated" in rejects(buf.getvalue(), "loop.png")


# ---- probe, encode, to_png, has_transparency, resample ----------------------------------------


def test_probe():
    assert imaging.probe(jpeg(Image.new("RGB", (33, 22)))) == ("image/jpeg", 33, 22)
    assert imaging.probe(solid((0, 0, 0), (5, 7))) == ("image/png", 5, 7)


@pytest.mark.parametrize(("fmt", "pil"), [("png", "PNG"), ("webp", "WEBP"), ("jpeg", "JPEG")])
def test_encode_formats(fmt, pil):
    im = Image.new("RGBA", (32, 32), (255, 0, 0, 0))
    out = open_image(imaging.encode(im, fmt, 80))
    assert out.format == pil
    assert out.size == (32, 32)


def test_encode_jpeg_flattens_alpha_onto_white():
    im = Image.new("RGBA", (16, 16), (255, 0, 0, 0))
    r, g, b = open_image(imaging.encode(im, "jpeg")).getpixel((8, 8))
    assert min(r, g, b) > 245


def test_encode_compression_changes_size():
    im = Image.frombytes("RGB", (128, 128), os.urandom(128 * 128 * 3))
    assert len(imaging.encode(im, "jpeg", 20)) < len(imaging.encode(im, "jpeg", 95))
    with pytest.raises(ValueError, match=r"compression must be 0\.\.100"):
        imaging.encode(im, "jpeg", 101)
    with pytest.raises(ValueError, match="unknown output format"):
        imaging.encode(im, "gif")


def test_to_png_and_transparency():
    data = jpeg(Image.new("RGB", (10, 10), (9, 9, 9)))
    converted = imaging.to_png(data)
    assert open_image(converted).format == "PNG"
    assert imaging.to_png(converted) is converted
    assert not imaging.has_transparency(data)
    assert not imaging.has_transparency(solid((0, 0, 0, 255), mode="RGBA"))
    assert imaging.has_transparency(solid((0, 0, 0, 10), mode="RGBA"))


def test_resample():
    out = open_image(imaging.resample(solid((10, 20, 30), (100, 50)), 400, 200))
    assert out.format == "PNG"
    assert out.size == (400, 200)
    assert out.getpixel((200, 100)) == (10, 20, 30)


# ---- grid ------------------------------------------------------------------------------------

COLOURS = [
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (255, 255, 0),
    (255, 0, 255),
    (0, 255, 255),
    (128, 0, 0),
    (0, 128, 0),
    (0, 0, 128),
    (128, 128, 0),
]


def cell_centre(index: int, cols: int, cell: int, gap: int, cell_h: int | None = None) -> tuple[int, int]:
    cell_h = cell if cell_h is None else cell_h
    row, col = divmod(index, cols)
    return gap + col * (cell + gap) + cell // 2, gap + row * (cell_h + gap) + cell_h // 2


def assert_close(actual, expected, tolerance=8):
    assert all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True)), (actual, expected)


@pytest.mark.parametrize(("n", "cols"), [(1, 1), (2, 2), (4, 2), (5, 3), (9, 3), (10, 4)])
def test_grid_reading_order(n, cols):
    images = [solid(c, (300, 200)) for c in COLOURS[:n]]
    cell, gap = 128, 6
    cell_h = 85  # 3:2 images make 3:2 cells
    grid = open_image(imaging.make_grid(images, cell=cell, gap=gap))
    rows = -(-n // cols)
    assert grid.format == "JPEG"  # a compact preview; the images stay as they are
    assert grid.size == (cols * cell + (cols + 1) * gap, rows * cell_h + (rows + 1) * gap)
    for i, colour in enumerate(COLOURS[:n]):
        assert_close(grid.getpixel(cell_centre(i, cols, cell, gap, cell_h)), colour)


def test_grid_of_four_is_two_by_two_with_badges():
    images = [solid(c, (256, 256)) for c in COLOURS[:4]]
    data = imaging.make_grid(images, cell=256, gap=8)
    grid = open_image(data)
    assert grid.size == (3 * 8 + 2 * 256, 3 * 8 + 2 * 256)
    assert_close(grid.getpixel((8 + 128, 8 + 128)), COLOURS[0])  # image 1 top-left
    assert_close(grid.getpixel((16 + 256 + 128, 8 + 128)), COLOURS[1])  # image 2 top-right
    assert_close(grid.getpixel((8 + 128, 16 + 256 + 128)), COLOURS[2])  # image 3 bottom-left
    # The number badge sits in the corner: its box is not the image's colour.
    corner = grid.crop((8, 8, 8 + 40, 8 + 40)).convert("RGB")
    assert corner.getcolors(4096) is not None
    assert len(corner.getcolors(4096)) > 1
    assert imaging.make_grid(images, cell=256, gap=8) == data  # deterministic


def test_grid_keeps_aspect():
    grid = open_image(imaging.make_grid([solid((255, 0, 0), (400, 100))], cell=200, gap=0))
    assert grid.size == (200, 50)  # the cell takes the image's shape: no empty bands
    assert_close(grid.getpixel((100, 25)), (255, 0, 0))


def test_grid_of_wide_images_has_wide_cells():
    images = [solid(c, (1536, 864)) for c in COLOURS[:4]]
    grid = open_image(imaging.make_grid(images, cell=256, gap=8))
    assert grid.size == (3 * 8 + 2 * 256, 3 * 8 + 2 * 144)
    # Every pixel inside a cell is the image: nothing was letterboxed.
    for i, colour in enumerate(COLOURS[:4]):
        row, col = divmod(i, 2)
        x0, y0 = 8 + col * (256 + 8), 8 + row * (144 + 8)
        assert_close(grid.getpixel((x0 + 200, y0 + 2)), colour)
        assert_close(grid.getpixel((x0 + 200, y0 + 141)), colour)


def test_grid_of_mixed_shapes_letterboxes_and_stretches_nothing():
    grid = open_image(
        imaging.make_grid([solid((255, 0, 0), (400, 100)), solid((0, 0, 255), (100, 400))], cell=200, gap=0)
    )
    assert grid.size == (400, 200)
    assert_close(grid.getpixel((100, 100)), (255, 0, 0))
    assert grid.getpixel((100, 10)) != (255, 0, 0)  # letterboxed, not stretched


def test_grid_needs_images():
    with pytest.raises(ValueError, match="needs at least one image"):
        imaging.make_grid([])


# ---- fit_under -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def noisy_png() -> bytes:
    """A 1920x1080 PNG of noise (about 6 MB): it compresses like nothing, so every limit below
    needs a re-encode, and the smallest a downscale as well."""
    return encode_png(Image.frombytes("RGB", (1920, 1080), os.urandom(1920 * 1080 * 3)))


def test_fit_under_returns_input_when_it_fits():
    data = solid((1, 2, 3))
    fitted = imaging.fit_under(data, "image/png", 10 * MiB)
    assert fitted == imaging.Fitted(data, "image/png", "png", False, None)


@pytest.mark.parametrize("limit", [4 * MiB, 1 * MiB])
def test_fit_under_really_fits(noisy_png, limit):
    assert len(noisy_png) > limit
    fitted = imaging.fit_under(noisy_png, "image/png", limit)
    assert len(fitted.data) <= limit
    assert fitted.reencoded
    assert fitted.mime == "image/jpeg"
    assert fitted.extension == "jpg"
    assert open_image(fitted.data).format == "JPEG"
    assert fitted.note is not None
    assert fitted.note.startswith("re-encoded as JPEG (quality ")
    assert f"to fit the {limit // MiB} MiB upload limit" in fitted.note
    assert "the original PNG" in fitted.note
    assert "is kept" in fitted.note


def test_fit_under_note_mentions_downscale(noisy_png):
    fitted = imaging.fit_under(noisy_png, "image/png", 512 * 1024)
    assert len(fitted.data) <= 512 * 1024
    width, height = open_image(fitted.data).size
    assert width < 1920
    assert "to fit the 512 KiB upload limit" in fitted.note
    assert f"scaled down to {width}x{height}" in fitted.note


def test_fit_under_keeps_transparency():
    im = Image.frombytes("RGB", (1280, 720), os.urandom(1280 * 720 * 3)).convert("RGBA")
    alpha = Image.new("L", im.size, 0)
    ImageDraw.Draw(alpha).ellipse((150, 75, 1130, 645), fill=255)
    im.putalpha(alpha)
    data = encode_png(im)
    assert len(data) > 2 * MiB
    for limit in (2 * MiB, 512 * 1024):
        fitted = imaging.fit_under(data, "image/png", limit)
        assert len(fitted.data) <= limit
        assert fitted.mime == "image/webp"
        assert fitted.extension == "webp"
        assert fitted.note.startswith("re-encoded as WEBP")
        out = open_image(fitted.data)
        assert out.format == "WEBP"
        assert out.mode == "RGBA"
        assert imaging.has_transparency(fitted.data)
        assert out.getpixel((5, 5))[3] < 20
        assert out.getpixel((out.width // 2, out.height // 2))[3] > 235


def test_fit_under_impossible_limit(noisy_png):
    with pytest.raises(ValueError, match="cannot fit"):
        imaging.fit_under(noisy_png, "image/png", 100)


# ---- outpainting and masks -------------------------------------------------------------------


def test_outpaint_inputs():
    placement = Placement(
        canvas_width=1536, canvas_height=1024, inner_width=768, inner_height=512, x=384, y=256
    )
    canvas_png, mask_png = imaging.outpaint_inputs(solid((200, 10, 10), (1024, 683)), placement)
    canvas, mask = open_image(canvas_png), open_image(mask_png)
    assert canvas.format == mask.format == "PNG"
    assert canvas.mode == mask.mode == "RGBA"
    assert canvas.size == mask.size == (1536, 1024)
    assert canvas.getpixel((768, 512)) == (200, 10, 10, 255)
    assert canvas.getpixel((10, 10))[3] == 0
    assert canvas.getpixel((1530, 1020))[3] == 0
    assert mask.getpixel((768, 512))[3] == 255
    assert mask.getpixel((384, 256))[3] == 255
    assert mask.getpixel((384 + 767, 256 + 511))[3] == 255
    assert mask.getpixel((383, 512))[3] == 0
    assert mask.getpixel((768, 256 + 512))[3] == 0
    assert mask.getpixel((0, 0))[3] == 0
    assert mask.getpixel((1535, 1023))[3] == 0


def test_outpaint_rejects_placement_outside_canvas():
    with pytest.raises(ValueError, match="does not fit inside its canvas"):
        imaging.outpaint_inputs(solid((0, 0, 0)), Placement(100, 100, 80, 80, 30, 0))


def mask_image(size, hole=True) -> bytes:
    im = Image.new("RGBA", size, (0, 0, 0, 255))
    if hole:
        ImageDraw.Draw(im).rectangle((10, 10, 40, 40), fill=(0, 0, 0, 0))
    return encode_png(im)


def test_mask_from_upload_ok():
    out = open_image(imaging.mask_from_upload(mask_image((64, 64)), 64, 64))
    assert out.format == "PNG"
    assert out.mode == "RGBA"
    assert out.size == (64, 64)
    assert out.getpixel((20, 20))[3] == 0
    assert out.getpixel((60, 60))[3] == 255


def test_mask_wrong_size():
    with pytest.raises(BotError) as caught:
        imaging.mask_from_upload(mask_image((512, 512)), 1024, 1024)
    assert (
        caught.value.message == "the mask is 512x512 but the image is 1024x1024; masks must be the same size"
    )


@pytest.mark.parametrize(
    "data",
    [mask_image((64, 64), hole=False), jpeg(Image.new("RGB", (64, 64))), solid((0, 0, 0), (64, 64))],
    ids=["opaque-rgba", "jpeg", "rgb-png"],
)
def test_mask_without_transparent_pixels(data):
    with pytest.raises(BotError) as caught:
        imaging.mask_from_upload(data, 64, 64)
    assert caught.value.message == "the mask has no transparent pixels: paint the area to change transparent"


def test_mask_must_be_an_image():
    with pytest.raises(BotError) as caught:
        imaging.mask_from_upload(b"%PDF-1.4 nope", 64, 64)
    assert caught.value.kind is ErrorKind.INVALID_INPUT
    assert caught.value.message == "the mask is not an image (PNG, JPEG or WebP)"


def test_gps_location_is_stripped_from_uploads() -> None:
    import io as _io

    from PIL import ExifTags, Image

    from bot.imaging import decode_upload

    exif = Image.Exif()
    exif[ExifTags.Base.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (48.0, 51.0, 24.0),
    }
    buf = _io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buf, "JPEG", exif=exif)
    decoded = decode_upload(buf.getvalue(), "holiday.jpg")
    with Image.open(_io.BytesIO(decoded.data)) as img:
        assert ExifTags.Base.GPSInfo not in img.getexif()
        assert img.size == (64, 48)
    assert decoded.mime == "image/jpeg"
