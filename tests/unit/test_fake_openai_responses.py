"""The fake's POST /v1/responses is strict like the real API, through the real SDK: what it does
not accept is a 400 with the API's error body, and what it does not model fails the test."""

from __future__ import annotations

import base64

import openai
import pytest

from tests.fakes.openai import FakeOpenAI
from tests.helpers import png, sdk_client

IMAGE = "data:image/png;base64," + base64.b64encode(png(64, 32)).decode()


def message(*parts: dict) -> list[dict]:
    return [{"role": "user", "content": list(parts)}]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": "gpt-6-sol"}, "input"),
        ({"model": "gpt-6-sol", "input": "hi", "max_output_tokens": 3}, "max_output_tokens"),
        (
            {"model": "gpt-6-sol", "input": message({"type": "input_image", "image_url": IMAGE})},
            "input[0].content[0].detail",
        ),
        (
            {
                "model": "gpt-6-sol",
                "input": message(
                    {"type": "input_image", "image_url": "data:image/png;base64,!!", "detail": "auto"}
                ),
            },
            "input[0].content[0].image_url",
        ),
        (
            {
                "model": "gpt-6-sol",
                "input": "hi",
                "text": {"format": {"type": "json_schema", "name": "x y", "schema": {}}},
            },
            "text.format.name",
        ),
        ({"model": "gpt-6-sol", "input": "hi", "extra_body": {"colour": "red"}}, "colour"),
    ],
)
async def test_bad_requests_are_refused_with_the_apis_error(
    fake_openai: FakeOpenAI, params: dict, param: str
) -> None:
    client = sdk_client(fake_openai.base_url, "sk-test", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(**params)
    await client.close()
    assert caught.value.param == param
    assert fake_openai.responses.calls[0].status == 400


async def test_what_the_fake_does_not_model_fails_loudly() -> None:
    with pytest.raises(AssertionError, match="input_image by URL"):  # noqa: PT012 - the fake's exit raises
        async with FakeOpenAI() as fake:
            client = sdk_client(fake.base_url, "sk-test", max_retries=0)
            part = {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "auto"}
            with pytest.raises(openai.BadRequestError):
                await client.responses.create(model="gpt-6-sol", input=message(part))
            await client.close()


async def test_a_good_request_gets_a_response_the_sdk_reads(fake_openai: FakeOpenAI) -> None:
    client = sdk_client(fake_openai.base_url, "sk-test", max_retries=0)
    response = await client.responses.create(
        model="gpt-6-sol",
        input=message(
            {"type": "input_text", "text": "describe"},
            {"type": "input_image", "image_url": IMAGE, "detail": "low"},
        ),
    )
    await client.close()
    assert response.status == "completed"
    assert response.model == "gpt-6-sol"
    assert response.output_text.startswith("1. Prompt 1: a 64x32 picture mostly #c81e1e")
    assert response.usage is not None
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert fake_openai.responses.calls[0].image_sizes == [(64, 32)]
