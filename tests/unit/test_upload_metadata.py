"""Uploads lose every location and identity field before they are stored or sent anywhere."""

from __future__ import annotations

import io

import pytest
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

from bot.imaging import decode_upload

# Distinctive strings planted in each kind of metadata; none may survive in the bytes.
SECRETS = ("Jane Q. Photographer", "48.8566N", "Rue de Rivoli 42", "SERIAL-0042", "xmp-secret-place")
XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" photoshop:City="xmp-secret-place"'
    ' photoshop:Credit="Jane Q. Photographer"/></rdf:RDF></x:xmpmeta>'
)


def _exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Artist] = "Jane Q. Photographer"
    exif[ExifTags.Base.BodySerialNumber] = "SERIAL-0042"
    exif[ExifTags.Base.ImageDescription] = "Rue de Rivoli 42"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (48.0, 51.0, 24.0),
        ExifTags.GPS.GPSAreaInformation: "48.8566N",
    }
    return exif


def _picture(mode: str = "RGB") -> Image.Image:
    im = Image.new(mode, (96, 64), (200, 40, 40) if mode == "RGB" else (200, 40, 40, 128))
    im.paste((20, 20, 220) if mode == "RGB" else (20, 20, 220, 255), (0, 0, 48, 64))  # left half blue
    return im


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def jpeg_with_everything(orientation: int = 1) -> bytes:
    buf = io.BytesIO()
    _picture().save(
        buf,
        "JPEG",
        exif=_exif(orientation),
        xmp=XMP.encode(),
        comment=b"Rue de Rivoli 42",
        icc_profile=_srgb_icc(),
    )
    return buf.getvalue()


def png_with_everything() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "Rue de Rivoli 42")
    info.add_text("Comment", "48.8566N")
    info.add_itxt("Author", "Jane Q. Photographer")
    info.add_itxt("XML:com.adobe.xmp", XMP)
    info.add_text("Software", "SERIAL-0042", zip=True)
    buf = io.BytesIO()
    _picture("RGBA").save(buf, "PNG", pnginfo=info, exif=_exif(), icc_profile=_srgb_icc())
    return buf.getvalue()


def webp_with_everything() -> bytes:
    buf = io.BytesIO()
    _picture().save(buf, "WEBP", exif=_exif(), xmp=XMP.encode(), icc_profile=_srgb_icc(), quality=95)
    return buf.getvalue()


def assert_clean(data: bytes) -> None:
    for secret in SECRETS:
        assert secret.encode() not in data, f"{secret!r} survived the upload"
    with Image.open(io.BytesIO(data)) as im:
        exif = im.getexif()
        assert not exif, f"EXIF survived: {dict(exif)}"
        for key in ("xmp", "XML:com.adobe.xmp", "comment", "Location", "Comment", "Author", "exif"):
            assert key not in im.info, f"{key} survived"


@pytest.mark.parametrize(
    ("make", "mime"),
    [
        (jpeg_with_everything, "image/jpeg"),
        (png_with_everything, "image/png"),
        (webp_with_everything, "image/webp"),
    ],
)
def test_uploads_keep_pixels_and_colour_profile_but_no_metadata(make, mime) -> None:
    original = make()
    for secret in SECRETS[:3]:  # the fixture really carries what we claim to remove
        assert secret.encode() in original or secret.encode() in original.replace(b"\x00", b"")
    decoded = decode_upload(original, "holiday")
    assert decoded.mime == mime
    assert (decoded.width, decoded.height) == (96, 64)
    assert_clean(decoded.data)
    with Image.open(io.BytesIO(decoded.data)) as im:
        assert im.info.get("icc_profile"), "the colour profile may stay (it changes how pixels look)"
        left, right = im.convert("RGB").getpixel((10, 32)), im.convert("RGB").getpixel((80, 32))
        assert left[2] > 150
        assert right[0] > 150  # the picture itself is intact


def test_orientation_is_applied_before_the_metadata_goes() -> None:
    decoded = decode_upload(jpeg_with_everything(orientation=6), "portrait.jpg")  # 90° clockwise
    assert (decoded.width, decoded.height) == (64, 96)
    assert_clean(decoded.data)
    with Image.open(io.BytesIO(decoded.data)) as im:
        top = im.convert("RGB").getpixel((32, 10))
        assert top[2] > 150  # the blue left half is now on top
