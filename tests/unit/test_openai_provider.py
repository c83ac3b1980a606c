"""The OpenAI provider through the real SDK against the fake Images API: requests as the API
wants them, and every failure mapped to a kind a person understands."""

from __future__ import annotations

import pytest

from bot.domain import ImageOptions
from bot.errors import BotError, ErrorKind
from bot.providers.base import InputImage, ProviderRequest
from bot.providers.openai import OpenAIProvider
from tests.fakes.openai import FakeOpenAI
from tests.helpers import png

OPTIONS = ImageOptions(model="gpt-image-2", size="1024x1024", n=1)


def provider(fake: FakeOpenAI, **extra: object) -> OpenAIProvider:
    values: dict = {"api_key": "sk-test", "base_url": fake.base_url, "max_retries": 0, "partial_images": 0}
    values.update(extra)
    return OpenAIProvider(**values)


async def test_edit_sends_named_typed_parts_and_a_hashed_user(fake_openai: FakeOpenAI) -> None:
    p = provider(fake_openai)
    request = ProviderRequest(
        kind="edit",
        prompt="add a moon",
        options=OPTIONS,
        images=(
            InputImage("a.png", png(1024, 1024), "image/png"),
            InputImage("b.png", png(64, 64), "image/png"),
        ),
        mask=InputImage("mask.png", png(1024, 1024, mode="RGBA", color=(0, 0, 0, 0)), "image/png"),
        safety_identifier="0123abcd",
    )
    result = await p.run(request)
    await p.close()
    sent = fake_openai.last
    assert [(f.field, f.filename, f.content_type) for f in sent.files] == [
        ("image[]", "a.png", "image/png"),
        ("image[]", "b.png", "image/png"),
        ("mask", "mask.png", "image/png"),
    ]
    assert sent.fields["model"] == "gpt-image-2"
    assert sent.fields["safety_identifier"] == "0123abcd"
    assert "moderation" not in sent.fields  # a generate-only parameter
    assert (result.images[0].width, result.images[0].height) == (1024, 1024)
    assert result.usage is not None
    assert result.usage.output_tokens > 0


@pytest.mark.parametrize(
    ("script", "kind", "words"),
    [
        (
            lambda f: f.refuse_next("sexual"),
            ErrorKind.REFUSED,
            ["safety system", "sexual", "nothing was charged"],
        ),
        (
            lambda f: f.fail_next(429, headers={"retry-after-ms": "1"}),
            ErrorKind.RATE_LIMITED,
            ["rate-limiting"],
        ),
        (lambda f: f.fail_next(500), ErrorKind.UNAVAILABLE, ["trouble"]),
        (
            lambda f: f.fail_next(401, code="invalid_api_key", message="Incorrect API key"),
            ErrorKind.INTERNAL,
            ["OPENAI_API_KEY"],
        ),
        (
            lambda f: f.fail_next(400, code="invalid_value", message="Invalid size"),
            ErrorKind.INVALID_INPUT,
            ["Invalid size"],
        ),
    ],
    ids=["refused", "rate-limited", "server-error", "bad-key", "invalid"],
)
async def test_failures_are_classified(
    fake_openai: FakeOpenAI, script, kind: ErrorKind, words: list[str]
) -> None:
    script(fake_openai)
    p = provider(fake_openai)
    with pytest.raises(BotError) as caught:
        await p.run(ProviderRequest(kind="generate", prompt="a fox", options=OPTIONS))
    await p.close()
    assert caught.value.kind is kind
    for word in words:
        assert word in caught.value.message
    assert "sk-test" not in caught.value.message  # never the key


async def test_a_refusal_in_the_middle_of_a_stream(fake_openai: FakeOpenAI) -> None:
    fake_openai.stream_error_next()
    p = provider(fake_openai, partial_images=2)
    previews: list[bytes] = []

    async def keep(preview: bytes) -> None:
        previews.append(preview)

    with pytest.raises(BotError) as caught:
        await p.run(ProviderRequest(kind="generate", prompt="a fox", options=OPTIONS), on_partial=keep)
    await p.close()
    assert caught.value.kind is ErrorKind.REFUSED
    assert caught.value.category == "violence"


async def test_a_timeout_is_unavailable(fake_openai: FakeOpenAI) -> None:
    fake_openai.delay = 2.0
    p = provider(fake_openai, timeout=0.2)
    with pytest.raises(BotError) as caught:
        await p.run(ProviderRequest(kind="generate", prompt="a fox", options=OPTIONS))
    await p.close()
    assert caught.value.kind is ErrorKind.UNAVAILABLE
    assert "too long" in caught.value.message
