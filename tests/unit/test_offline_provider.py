"""The offline provider: deterministic, labelled, honours the options, and edits really edit."""

from __future__ import annotations

import asyncio
import io
import time

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from bot import imaging
from bot.domain import ImageOptions, Placement
from bot.errors import BotError, ErrorKind
from bot.providers.base import InputImage, Provider, ProviderRequest
from bot.providers.offline import LABEL, OfflineProvider
from tests.helpers import encode_png

MODEL = "gpt-image-2"


def opts(size="1024x1024", **kwargs) -> ImageOptions:
    return ImageOptions(MODEL, size, **kwargs)


def generate(prompt="a lighthouse at dusk", variation_key="", **kwargs) -> ProviderRequest:
    return ProviderRequest("generate", prompt, opts(**kwargs), variation_key=variation_key)


def input_image(image: Image.Image, name="input.png") -> InputImage:
    return InputImage(name, encode_png(image), "image/png")


def edit(
    prompt: str, *images: Image.Image, mask: Image.Image | None = None, size="auto", **kwargs
) -> ProviderRequest:
    return ProviderRequest(
        "edit",
        prompt,
        opts(size, **kwargs),
        images=tuple(input_image(im, f"in{i}.png") for i, im in enumerate(images)),
        mask=input_image(mask, "mask.png") if mask is not None else None,
    )


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    return sum(ImageStat.Stat(diff).mean) / 3


@pytest.fixture
def provider() -> OfflineProvider:
    return OfflineProvider()


async def test_is_a_labelled_provider(provider):
    p: Provider = provider  # satisfies the protocol
    assert p.name == "offline"
    assert p.label == LABEL == "offline preview"
    result = await provider.run(generate())
    assert result.label == "offline preview"
    assert result.usage is None
    assert all(image.revised_prompt is None for image in result.images)
    await provider.close()


async def test_deterministic(provider):
    first = await provider.run(generate(n=2))
    second = await OfflineProvider().run(generate(n=2))
    assert [i.data for i in first.images] == [i.data for i in second.images]


async def test_prompts_keys_and_indices_differ(provider):
    base = await provider.run(generate(n=2))
    other_prompt = await provider.run(generate("a red bicycle in the rain"))
    rerolled = await provider.run(generate(variation_key="reroll-1"))
    one, two = (decode(i.data) for i in base.images)
    assert mean_difference(one, two) > 5  # visibly, not just a few pixels
    assert mean_difference(one, decode(other_prompt.images[0].data)) > 5
    assert mean_difference(one, decode(rerolled.images[0].data)) > 5


@pytest.mark.parametrize("size", ["1536x864", "3840x2160", "1024x1536", "2160x3840"])
async def test_sizes_honoured(provider, size):
    result = await provider.run(generate(size=size))
    image = result.images[0]
    w, h = (int(v) for v in size.split("x"))
    assert (image.width, image.height) == (w, h)
    assert decode(image.data).size == (w, h)


async def test_auto_size_is_square(provider):
    result = await provider.run(generate(size="auto"))
    assert decode(result.images[0].data).size == (1024, 1024)


async def test_n_images(provider):
    result = await provider.run(generate(n=10, size="1024x1024"))
    assert len(result.images) == 10
    assert len({i.data for i in result.images}) == 10


@pytest.mark.parametrize(
    ("fmt", "pil", "mime"), [("webp", "WEBP", "image/webp"), ("jpeg", "JPEG", "image/jpeg")]
)
async def test_format_honoured(provider, fmt, pil, mime):
    result = await provider.run(generate(output_format=fmt, compression=70))
    image = result.images[0]
    assert image.mime == mime
    assert decode(image.data).format == pil


async def test_transparent_background(provider):
    for fmt in ("png", "webp"):
        result = await provider.run(generate(background="transparent", output_format=fmt))
        im = decode(result.images[0].data)
        assert im.mode == "RGBA"
        low, high = im.getchannel("A").getextrema()
        assert low == 0
        assert high == 255
        assert im.getpixel((2, 2))[3] == 0  # the corner is background


async def test_opaque_by_default(provider):
    result = await provider.run(generate())
    assert not imaging.has_transparency(result.images[0].data)


async def test_label_band_is_drawn(provider):
    # The bottom rows are the dark "offline preview" band, whatever the prompt's colours.
    for prompt in ("sunny yellow meadow", "white snow field", "deep blue ocean"):
        result = await provider.run(generate(prompt))
        im = decode(result.images[0].data).convert("RGB")
        band = im.crop((0, im.height - 6, im.width, im.height))
        assert max(ImageStat.Stat(band).mean) < 80


async def test_generate_speed(provider):
    started = time.monotonic()
    await provider.run(generate())
    assert time.monotonic() - started < 1.0


async def test_does_not_block_the_event_loop(provider):
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        await provider.run(generate(size="3840x2160"))
    finally:
        task.cancel()
    assert ticks > 10


async def test_on_partial_gets_decodable_pngs(provider):
    previews: list[bytes] = []

    async def on_partial(data: bytes) -> None:
        previews.append(data)

    result = await provider.run(generate(n=3), on_partial)
    assert 1 <= len(previews) <= 2
    final = decode(result.images[0].data)
    for data in previews:
        im = decode(data)
        assert im.format == "PNG"
        assert im.width < final.width


# ---- edits -----------------------------------------------------------------------------------


def subject(size=(800, 600), background=(240, 240, 240), colour=(200, 30, 30)) -> Image.Image:
    im = Image.new("RGB", size, background)
    w, h = size
    ImageDraw.Draw(im).ellipse((w * 0.3, h * 0.25, w * 0.7, h * 0.75), fill=colour)
    return im


async def test_edit_is_derived_from_the_input(provider):
    colour = (30, 160, 90)
    result = await provider.run(edit("make it warmer", Image.new("RGB", (640, 480), colour)))
    image = result.images[0]
    assert (image.width, image.height) == (640, 480)  # size auto → the input's own size
    im = decode(image.data).convert("RGB")
    middle = im.crop((100, 150, 540, 380))
    mean = ImageStat.Stat(middle).mean
    assert all(abs(m - c) < 45 for m, c in zip(mean, colour, strict=True)), mean
    assert mean_difference(im, Image.new("RGB", im.size, colour)) > 3  # but visibly changed


async def test_edit_resizes_to_the_requested_size(provider):
    result = await provider.run(edit("make it blue", subject(), size="1536x1024"))
    assert decode(result.images[0].data).size == (1536, 1024)


async def test_edit_deterministic_and_variants_differ(provider):
    request = edit("add snow", subject(), n=2)
    first, second = await provider.run(request), await provider.run(request)
    assert [i.data for i in first.images] == [i.data for i in second.images]
    one, two = (decode(i.data) for i in first.images)
    assert mean_difference(one, two) > 2
    other = await provider.run(edit("make it night", subject()))
    assert other.images[0].data != first.images[0].data


async def test_references_are_visible(provider):
    base = await provider.run(edit("put the logo on it", subject()))
    logo = Image.new("RGB", (200, 200), (0, 90, 255))
    with_ref = await provider.run(edit("put the logo on it", subject(), logo))
    a, b = decode(base.images[0].data), decode(with_ref.images[0].data)
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox()
    assert diff is not None
    assert diff[0] > a.width // 2  # the thumbnail sits in the right-hand corner


async def test_masked_edit_changes_only_the_transparent_area(provider):
    source = subject((1024, 768))
    mask = Image.new("RGBA", source.size, (0, 0, 0, 255))
    hole = (600, 100, 1000, 700)
    ImageDraw.Draw(mask).rectangle(hole, fill=(0, 0, 0, 0))
    result = await provider.run(edit("add a window", source, mask=mask))
    out = decode(result.images[0].data).convert("RGB")
    assert out.size == source.size
    keep = (0, 0, 590, 768)
    assert ImageChops.difference(out.crop(keep), source.crop(keep)).getbbox() is None  # PNG: exact
    assert mean_difference(out.crop(hole), source.crop(hole)) > 10


async def test_masked_edit_in_jpeg_keeps_pixels_within_tolerance(provider):
    source = subject((1024, 768))
    mask = Image.new("RGBA", source.size, (0, 0, 0, 255))
    ImageDraw.Draw(mask).rectangle((600, 100, 1000, 700), fill=(0, 0, 0, 0))
    result = await provider.run(edit("add a window", source, mask=mask, output_format="jpeg"))
    out = decode(result.images[0].data)
    keep = (0, 0, 560, 768)
    assert mean_difference(out.crop(keep), source.crop(keep)) < 3


async def test_zoom_out_fills_the_border(provider):
    source = subject((1024, 1024))
    placement = Placement(1536, 1536, 1024, 1024, 256, 256)
    canvas, mask = imaging.outpaint_inputs(encode_png(source), placement)
    request = ProviderRequest(
        "edit",
        "zoom out",
        opts("1536x1536"),
        images=(InputImage("canvas.png", canvas, "image/png"),),
        mask=InputImage("mask.png", mask, "image/png"),
    )
    out = decode((await provider.run(request)).images[0].data)
    assert out.size == (1536, 1536)
    assert not imaging.has_transparency((await provider.run(request)).images[0].data)
    inner = out.convert("RGB").crop((256, 256, 1280, 1280))
    assert ImageChops.difference(inner, source).getbbox() is None


async def test_remove_background(provider):
    result = await provider.run(edit("remove the background", subject(), background="transparent"))
    image = result.images[0]
    assert image.mime == "image/png"
    out = decode(image.data)
    assert out.mode == "RGBA"
    assert out.size == (800, 600)
    assert out.getpixel((400, 300))[3] == 255  # the subject stays
    assert out.getpixel((150, 300))[3] == 0
    assert out.getpixel((650, 300))[3] == 0  # background gone
    assert out.getpixel((799, 300))[3] == 0


async def test_remove_background_webp(provider):
    result = await provider.run(
        edit("remove the background", subject(), background="transparent", output_format="webp")
    )
    out = decode(result.images[0].data)
    assert out.format == "WEBP"
    assert out.mode == "RGBA"
    assert out.getpixel((150, 300))[3] < 10


async def test_edit_partials(provider):
    previews: list[bytes] = []

    async def on_partial(data: bytes) -> None:
        previews.append(data)

    await provider.run(edit("make it warmer", subject()), on_partial)
    assert 1 <= len(previews) <= 2
    assert all(decode(p).format == "PNG" for p in previews)


async def test_large_edit_works(provider):
    result = await provider.run(edit("make it warmer", subject((3840, 2160))))
    assert decode(result.images[0].data).size == (3840, 2160)


# ---- bad requests ----------------------------------------------------------------------------


def bad_requests():
    ok = subject((64, 64))
    yield "n=0", generate(n=0)
    yield "n=11", generate(n=11)
    yield "edit without image", ProviderRequest("edit", "x", opts())
    yield "empty prompt", generate("   ")
    yield "silly size", generate(size="99999x10")
    yield "unparsable size", generate(size="big")
    yield "transparent jpeg", generate(background="transparent", output_format="jpeg")
    yield "mask size", edit("x", ok, mask=Image.new("RGBA", (32, 32)))
    yield (
        "undecodable input",
        ProviderRequest("edit", "x", opts(), images=(InputImage("a.png", b"not an image", "image/png"),)),
    )


@pytest.mark.parametrize("request_", [r for _, r in bad_requests()], ids=[name for name, _ in bad_requests()])
async def test_bad_requests_are_invalid_input(provider, request_):
    with pytest.raises(BotError) as caught:
        await provider.run(request_)
    assert caught.value.kind is ErrorKind.INVALID_INPUT
    assert caught.value.message


async def test_mask_size_message(provider):
    with pytest.raises(BotError) as caught:
        await provider.run(edit("x", subject((64, 64)), mask=Image.new("RGBA", (32, 32))))
    assert caught.value.message == "the mask is 32x32 but the image is 64x64; masks must be the same size"
