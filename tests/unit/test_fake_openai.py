"""The OpenAI Images fake, exercised through the real ``openai`` SDK.

These tests pin the fake to the wire facts in ../shared/reference/openai-images-wire.md: if the SDK
can talk to it, and it refuses what the API refuses, the bot's tests can trust it.
"""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator

import openai
import pytest
from PIL import Image

from tests.fakes.openai import FakeOpenAI
from tests.helpers import png, sdk_client


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    sdk = sdk_client(fake.base_url, fake.api_key, max_retries=0)
    yield sdk
    await sdk.close()


def split_png(w: int, h: int, left: tuple[int, int, int], right: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (w, h), left)
    image.paste(right, (w // 2, 0, w, h))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def mask_png(w: int, h: int, *, edit_left_half: bool = False) -> bytes:
    """Alpha 0 marks where to edit: everywhere, or only the left half."""
    mask = Image.new("RGBA", (w, h), (0, 0, 0, 0 if not edit_left_half else 255))
    if edit_left_half:
        mask.paste((0, 0, 0, 0), (0, 0, w // 2, h))
    out = io.BytesIO()
    mask.save(out, format="PNG")
    return out.getvalue()


def decode(b64: str | None) -> Image.Image:
    assert b64 is not None
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


# -- generate ---------------------------------------------------------------------------------


async def test_generate_three_pngs_at_arbitrary_size(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    result = await client.images.generate(model="gpt-image-2", prompt="a lighthouse", size="1536x864", n=3)

    assert result.data is not None
    assert len(result.data) == 3
    for item in result.data:
        image = decode(item.b64_json)
        assert (image.format, image.size) == ("PNG", (1536, 864))
    assert result.size == "1536x864"
    assert result.output_format == "png"
    assert result.usage is not None
    assert result.usage.output_tokens > 0
    assert result.usage.input_tokens_details.text_tokens > 0
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens
    assert result._request_id == "req_fake_000001"

    rec = fake.last
    assert rec.endpoint == "generations"
    assert rec.status == 200
    assert rec.fields == {"model": "gpt-image-2", "prompt": "a lighthouse", "size": "1536x864", "n": 3}
    assert rec.headers["content-type"] == "application/json"
    assert fake.generations == [rec]
    assert fake.edits == []


async def test_returned_images_are_recorded_in_order_with_their_colours(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
):
    await client.images.generate(model="gpt-image-2", prompt="warm-up", size="1024x1024")
    result = await client.images.generate(model="gpt-image-2", prompt="three", size="1024x1024", n=3)

    assert result.data is not None
    sent = [base64.b64decode(item.b64_json or "") for item in result.data]
    assert sent == fake.returned[1] == fake.last.returned
    colours = [decode(item.b64_json).getpixel((512, 512)) for item in result.data]
    assert colours == [FakeOpenAI.color_for(2, k) for k in range(3)] == fake.last.colors
    assert len(set(colours)) == 3


async def test_usage_grows_with_size_and_n(client: openai.AsyncOpenAI):
    async def output_tokens(size: str, n: int) -> int:
        r = await client.images.generate(model="gpt-image-2", prompt="p", size=size, n=n, quality="high")
        assert r.usage is not None
        return r.usage.output_tokens

    one = await output_tokens("1024x1024", 1)
    assert await output_tokens("1024x1024", 2) == 2 * one
    assert await output_tokens("2048x1152", 1) > one


async def test_auto_size_quality_and_safety_identifier_echo(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    result = await client.images.generate(
        model="gpt-image-2", prompt="p", size="auto", n=None, safety_identifier="user-hash-1"
    )

    assert result.size == "1024x1024"
    assert result.quality == "medium"  # "auto" is resolved, as the API reports what it used
    assert result.background == "opaque"
    assert result.safety_identifier == "user-hash-1"
    assert fake.last.fields["n"] is None  # the SDK sends an explicit None as JSON null


async def test_transparent_webp_has_alpha_zero_pixels(client: openai.AsyncOpenAI):
    result = await client.images.generate(
        model="gpt-image-2.5-flare",
        prompt="logo",
        size="1024x1024",
        background="transparent",
        output_format="webp",
    )

    assert result.data is not None
    image = decode(result.data[0].b64_json)
    assert image.format == "WEBP"
    assert image.mode == "RGBA"
    assert image.getchannel("A").getextrema()[0] == 0
    assert result.background == "transparent"


async def test_jpeg_with_compression(client: openai.AsyncOpenAI):
    result = await client.images.generate(
        model="gpt-image-1.5", prompt="p", size="1024x1536", output_format="jpeg", output_compression=50
    )

    assert result.data is not None
    image = decode(result.data[0].b64_json)
    assert (image.format, image.size) == ("JPEG", (1024, 1536))


async def test_xhigh_quality_accepted_on_flare(client: openai.AsyncOpenAI):
    result = await client.images.generate(
        model="gpt-image-2.5-flare", prompt="p", size="1024x1024", quality="xhigh"
    )
    assert result.quality == "xhigh"


async def test_standard_size_accepted_on_standard_size_model(client: openai.AsyncOpenAI):
    result = await client.images.generate(model="chatgpt-image-latest", prompt="p", size="1536x1024")
    assert result.size == "1536x1024"


# -- what the API refuses ---------------------------------------------------------------------

INVALID_GENERATE = [
    pytest.param({"size": "1000x1000"}, "multiples of 16", id="size-not-multiple-of-16"),
    pytest.param({"size": "4000x1000"}, "multiples of 16", id="size-4000x1000"),
    pytest.param({"size": "3072x1008"}, "aspect ratio", id="size-ratio-over-3"),
    pytest.param({"size": "4032x1344"}, "longest edge", id="size-edge-over-3840"),
    pytest.param({"size": "3840x2176"}, "at most 8294400 pixels", id="size-too-many-pixels"),
    pytest.param({"size": "512x512"}, "at least 655360 pixels", id="size-too-few-pixels"),
    pytest.param({"size": "1024x4096"}, "aspect ratio", id="size-tall"),
    pytest.param({"size": "big"}, "WIDTHxHEIGHT", id="size-garbage"),
    pytest.param(
        {"model": "chatgpt-image-latest", "size": "1536x864"}, "Supported sizes", id="standard-only"
    ),
    pytest.param({"model": "gpt-image-1.5", "size": "1536x864"}, "Supported sizes", id="standard-only-1.5"),
    pytest.param({"quality": "xhigh"}, "'xhigh' is not supported with model 'gpt-image-2'", id="xhigh-on-2"),
    pytest.param({"quality": "hd"}, "'hd'", id="dalle-quality"),
    pytest.param(
        {"background": "transparent", "output_format": "jpeg"}, "Transparent", id="transparent-jpeg"
    ),
    pytest.param({"output_compression": 50}, "output_compression is only supported", id="compression-png"),
    pytest.param({"output_compression": 101, "output_format": "webp"}, "<= 100", id="compression-101"),
    pytest.param({"n": 0}, ">= 1", id="n-0"),
    pytest.param({"n": 11}, "<= 10", id="n-11"),
    pytest.param({"partial_images": 4}, "<= 3", id="partial-4"),
    pytest.param({"moderation": "high"}, "'high'", id="moderation-value"),
    pytest.param({"prompt": "x" * 32_001}, "maximum length 32000", id="prompt-too-long"),
    pytest.param({"style": "vivid"}, "not supported for GPT image models", id="legacy-style"),
    pytest.param({"extra_body": {"seed": 1}}, "Unknown parameter: 'seed'", id="unknown-param"),
    pytest.param({"extra_body": {"input_fidelity": "low"}}, "Unknown parameter", id="fidelity-on-generate"),
    pytest.param({"extra_body": {"n": "2"}}, "expected an integer", id="n-as-json-string"),
]


@pytest.mark.parametrize(("kwargs", "message"), INVALID_GENERATE)
async def test_generate_rejects_what_the_api_rejects(
    fake: FakeOpenAI, client: openai.AsyncOpenAI, kwargs: dict, message: str
):
    call = {"model": "gpt-image-2", "prompt": "p", "size": "1024x1024", **kwargs}
    with pytest.raises(openai.BadRequestError) as info:
        await client.images.generate(**call)

    assert message in info.value.message
    assert info.value.type == "invalid_request_error"
    assert fake.last.status == 400
    assert fake.last.returned == []


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("gpt-image-1", "shut down on October 23, 2026"),
        ("dall-e-2", "retired on May 12, 2026"),
        ("dall-e-3", "retired on May 12, 2026"),
        ("gpt-image-9", "does not exist"),
    ],
)
async def test_retired_and_unknown_models_are_not_found(client: openai.AsyncOpenAI, model: str, message: str):
    with pytest.raises(openai.NotFoundError) as info:
        await client.images.generate(model=model, prompt="p")
    assert info.value.code == "model_not_found"
    assert message in info.value.message


async def test_model_is_required(client: openai.AsyncOpenAI):
    with pytest.raises(openai.BadRequestError, match="Missing required parameter: 'model'"):
        await client.images.generate(prompt="p")


async def test_wrong_api_key_is_401(fake: FakeOpenAI):
    sdk = sdk_client(fake.base_url, "sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        await sdk.images.generate(model="gpt-image-2", prompt="p")
    await sdk.close()
    assert info.value.code == "invalid_api_key"
    assert fake.last.status == 401


# -- edit -------------------------------------------------------------------------------------


async def test_edit_two_images_and_mask(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    cat, room = png(1536, 1024, color=(200, 30, 30)), png(1536, 1024, color=(30, 30, 200))
    result = await client.images.edit(
        model="gpt-image-2",
        prompt="put the cat in the room",
        image=[("cat.png", cat, "image/png"), ("room.png", room, "image/png")],
        mask=("mask.png", mask_png(1536, 1024), "image/png"),
        size="1536x1024",
        n=2,
        quality="high",
    )

    assert result.data is not None
    assert len(result.data) == 2
    assert {decode(d.b64_json).size for d in result.data} == {(1536, 1024)}
    rec = fake.last
    assert rec.endpoint == "edits"
    assert fake.edits == [rec]
    # Multipart scalars arrive as strings.
    assert rec.fields == {
        "prompt": "put the cat in the room",
        "model": "gpt-image-2",
        "n": "2",
        "quality": "high",
        "size": "1536x1024",
    }
    assert [(f.field, f.filename, f.content_type) for f in rec.files] == [
        ("image[]", "cat.png", "image/png"),
        ("image[]", "room.png", "image/png"),
        ("mask", "mask.png", "image/png"),
    ]
    assert [f.data for f in rec.images] == [cat, room]
    assert rec.mask is not None
    assert rec.mask.size == (1536, 1024)
    assert rec.mask.mode == "RGBA"
    assert result.usage is not None
    assert result.usage.input_tokens_details.image_tokens > 0


async def test_edit_single_image_uses_field_image_and_its_size_for_auto(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
):
    result = await client.images.edit(
        model="gpt-image-2", prompt="p", image=("in.png", png(1280, 720), "image/png"), size="auto"
    )
    assert result.size == "1280x720"
    assert [f.field for f in fake.last.files] == ["image"]


@pytest.mark.parametrize(
    ("model", "expected"),
    [("gpt-image-2", "992x752"), ("chatgpt-image-latest", "1536x1024")],
)
async def test_edit_auto_size_fits_the_models_sizes(client: openai.AsyncOpenAI, model: str, expected: str):
    """An input that is not a valid size resolves to the nearest size the model can make."""
    result = await client.images.edit(model=model, prompt="p", image=("in.png", png(1000, 750), "image/png"))
    assert result.size == expected
    assert result.data is not None
    assert decode(result.data[0].b64_json).size == tuple(map(int, expected.split("x")))


async def test_edit_output_is_derived_from_the_first_input(client: openai.AsyncOpenAI):
    red, blue = (220, 20, 20), (20, 20, 220)
    source = split_png(1024, 1024, red, blue)

    whole = await client.images.edit(model="gpt-image-2", prompt="p", image=("s.png", source, "image/png"))
    masked = await client.images.edit(
        model="gpt-image-2",
        prompt="p",
        image=("s.png", source, "image/png"),
        mask=("m.png", mask_png(1024, 1024, edit_left_half=True), "image/png"),
    )

    assert whole.data is not None
    assert masked.data is not None
    out = decode(whole.data[0].b64_json).convert("RGB")
    left, right = out.getpixel((100, 512)), out.getpixel((900, 512))
    assert left[0] > left[2]
    assert right[2] > right[0]  # still red on the left, blue on the right
    assert left != red  # but tinted: the edit changed it
    out = decode(masked.data[0].b64_json).convert("RGB")
    assert out.getpixel((100, 512)) != red  # edited where the mask is transparent
    assert out.getpixel((900, 512)) == blue  # kept where it is opaque


async def test_edit_with_raw_bytes_is_rejected_for_its_mimetype(client: openai.AsyncOpenAI):
    with pytest.raises(openai.BadRequestError) as info:
        await client.images.edit(model="gpt-image-2", prompt="p", image=png(1024, 1024))
    assert "application/octet-stream" in info.value.message


INVALID_EDIT = [
    pytest.param({"mask": ("m.png", mask_png(512, 512), "image/png")}, "do not match", id="mask-wrong-size"),
    pytest.param({"mask": ("m.png", png(1024, 1024), "image/png")}, "alpha channel", id="mask-no-alpha"),
    pytest.param({"mask": ("m.png", b"not an image", "image/png")}, "must be a PNG", id="mask-not-png"),
    pytest.param(
        {"image": ("x.png", b"not an image", "image/png")}, "could not be decoded", id="undecodable"
    ),
    pytest.param(
        {"image": ("x.gif", b"GIF89a", "image/gif")}, "unsupported mimetype ('image/gif')", id="gif"
    ),
    pytest.param({"image": [("a.png", png(64, 64), "image/png")] * 17}, "at most 16", id="too-many-images"),
    pytest.param({"input_fidelity": "high"}, "omit this parameter", id="fidelity-on-gpt-image-2"),
    pytest.param({"extra_body": {"moderation": "low"}}, "Unknown parameter: 'moderation'", id="moderation"),
    pytest.param({"size": "1000x1000"}, "multiples of 16", id="size"),
    pytest.param({"n": 11}, "<= 10", id="n-11"),
]


@pytest.mark.parametrize(("kwargs", "message"), INVALID_EDIT)
async def test_edit_rejects_what_the_api_rejects(client: openai.AsyncOpenAI, kwargs: dict, message: str):
    call = {"model": "gpt-image-2", "prompt": "p", "image": ("a.png", png(1024, 1024), "image/png"), **kwargs}
    with pytest.raises(openai.BadRequestError) as info:
        await client.images.edit(**call)
    assert message in info.value.message


async def test_input_fidelity_is_accepted_where_supported(client: openai.AsyncOpenAI):
    image = ("a.png", png(1024, 1024), "image/png")
    await client.images.edit(model="gpt-image-1.5", prompt="p", image=image, input_fidelity="high")
    with pytest.raises(openai.BadRequestError, match="'high'"):
        await client.images.edit(model="gpt-image-1-mini", prompt="p", image=image, input_fidelity="high")


# -- streaming --------------------------------------------------------------------------------


async def test_streaming_generate_yields_partials_then_completed_per_image(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
):
    stream = await client.images.generate(
        model="gpt-image-2", prompt="p", size="1024x1536", n=2, partial_images=2, stream=True
    )
    events = [event async for event in stream]

    partial, done = "image_generation.partial_image", "image_generation.completed"
    assert [e.type for e in events] == [partial, partial, done, partial, partial, done]
    assert [getattr(e, "partial_image_index", None) for e in events] == [0, 1, None, 0, 1, None]
    completed = [e for e in events if e.type == done]
    assert [decode(e.b64_json).size for e in completed] == [(1024, 1536)] * 2
    assert [base64.b64decode(e.b64_json) for e in completed] == fake.last.returned
    assert all(e.usage is not None and e.usage.output_tokens > 0 for e in completed)
    assert fake.last.fields["stream"] is True
    assert fake.last.stream


async def test_streaming_edit_uses_edit_event_types(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    stream = await client.images.edit(
        model="gpt-image-2",
        prompt="p",
        image=("a.png", png(1024, 1024), "image/png"),
        partial_images=1,
        stream=True,
    )
    events = [event async for event in stream]

    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]
    assert fake.last.fields["stream"] == "true"


async def test_stream_error_is_raised_while_iterating(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    fake.stream_error_next("moderation_blocked", "Your request was rejected by the safety system.")
    stream = await client.images.generate(model="gpt-image-2", prompt="p", partial_images=2, stream=True)

    seen = []
    with pytest.raises(openai.APIError) as info:  # noqa: PT012 - the error comes while iterating
        async for event in stream:
            seen.append(event.type)

    assert seen == ["image_generation.partial_image"]
    assert not isinstance(info.value, openai.APIStatusError)  # a mid-stream error has no status
    assert info.value.code == "moderation_blocked"
    assert fake.last.events == ["image_generation.partial_image", "error"]


# -- scripted failures ------------------------------------------------------------------------


async def test_rate_limit_is_retried_by_the_sdk(fake: FakeOpenAI):
    fake.fail_next(429, headers={"retry-after": "0"})
    sdk = sdk_client(fake.base_url, fake.api_key, max_retries=2)
    result = await sdk.images.generate(model="gpt-image-2", prompt="p", size="1024x1024")
    await sdk.close()

    assert result.data is not None
    assert len(result.data) == 1
    assert [r.status for r in fake.requests] == [429, 200]
    assert [r.headers["x-stainless-retry-count"] for r in fake.requests] == ["0", "1"]
    assert fake.requests[0].error is not None
    assert fake.requests[0].error["code"] == "rate_limit_exceeded"


async def test_server_error_not_retried_when_told_so(fake: FakeOpenAI):
    fake.fail_next(500, headers={"x-should-retry": "false"})
    sdk = sdk_client(fake.base_url, fake.api_key, max_retries=2)
    with pytest.raises(openai.InternalServerError):
        await sdk.images.generate(model="gpt-image-2", prompt="p")
    await sdk.close()
    assert len(fake.requests) == 1


async def test_moderation_refusal(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    fake.refuse_next("self-harm")
    with pytest.raises(openai.BadRequestError) as info:
        await client.images.generate(model="gpt-image-2", prompt="p")

    assert info.value.code == "moderation_blocked"
    assert info.value.type == "image_generation_user_error"
    assert "safety_violations=[self-harm]" in info.value.message
    assert info.value.request_id == "req_fake_000001"
    # The refusal is used up: the next request succeeds.
    await client.images.generate(model="gpt-image-2", prompt="p")
    assert [r.status for r in fake.requests] == [400, 200]


async def test_invalid_request_does_not_consume_scripted_failure(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
):
    fake.refuse_next()
    with pytest.raises(openai.BadRequestError, match="multiples of 16"):
        await client.images.generate(model="gpt-image-2", prompt="p", size="1000x1000")
    with pytest.raises(openai.BadRequestError, match="safety system"):
        await client.images.generate(model="gpt-image-2", prompt="p")


# -- strictness and timing --------------------------------------------------------------------


async def test_unknown_route_makes_exit_fail():
    with pytest.raises(AssertionError, match="GET /v1/models"):  # noqa: PT012 - raised on leaving the fake
        async with FakeOpenAI() as fake:
            sdk = sdk_client(fake.base_url, fake.api_key, max_retries=0)
            with pytest.raises(openai.NotFoundError, match="Invalid URL"):
                await sdk.models.list()
            await sdk.close()
            assert fake.unexpected == ["GET /v1/models"]


async def test_unmodelled_feature_makes_exit_fail():
    with pytest.raises(AssertionError, match="unsupported output_format=gif"):  # noqa: PT012 - raised on leaving the fake
        async with FakeOpenAI() as fake:
            sdk = sdk_client(fake.base_url, fake.api_key, max_retries=0)
            with pytest.raises(openai.BadRequestError):
                await sdk.images.generate(model="gpt-image-2", prompt="p", output_format="gif")
            await sdk.close()


async def test_gate_holds_a_request_until_released(fake: FakeOpenAI, client: openai.AsyncOpenAI):
    fake.gate = asyncio.Event()
    job = asyncio.create_task(client.images.generate(model="gpt-image-2", prompt="held"))

    rec = await fake.wait_for_requests(1)
    assert rec.fields["prompt"] == "held"
    assert rec.status is None
    assert not job.done()

    fake.gate.set()
    result = await asyncio.wait_for(job, timeout=5)
    assert result.data is not None
    assert rec.status == 200


async def test_held_request_is_answered_when_the_fake_closes():
    fake = FakeOpenAI()
    await fake.start()
    fake.gate = asyncio.Event()  # never released
    sdk = sdk_client(fake.base_url, fake.api_key, max_retries=0)
    job = asyncio.create_task(sdk.images.generate(model="gpt-image-2", prompt="p"))
    await fake.wait_for_requests(1)

    await asyncio.wait_for(fake.close(), timeout=5)
    with pytest.raises(openai.InternalServerError):
        await asyncio.wait_for(job, timeout=5)
    await sdk.close()


async def test_delay_makes_a_short_client_timeout_fire(fake: FakeOpenAI):
    fake.delay = 30.0
    sdk = sdk_client(fake.base_url, fake.api_key, max_retries=0, timeout=0.2)
    with pytest.raises(openai.APITimeoutError):
        await sdk.images.generate(model="gpt-image-2", prompt="p")
    await sdk.close()
