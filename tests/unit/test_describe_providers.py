"""/describe's describers: the OpenAI one through the real SDK against the fake Responses API
(the image sent as an input_image data URL, the answer read robustly, errors in words), the
offline one deterministic, and the default text model one the installed SDK knows."""

from __future__ import annotations

import base64
from typing import get_args

import pytest
from openai.types.shared import ChatModel

from bot.config import DEFAULT_TEXT_MODEL
from bot.errors import BotError, ErrorKind
from bot.providers.base import InputImage
from bot.providers.offline import OfflineProvider
from bot.providers.openai import OpenAIProvider
from tests.fakes.openai import FakeOpenAI
from tests.helpers import make_settings, png

RED = InputImage("red.png", png(800, 600, color=(200, 30, 30)), "image/png")


def provider(fake: FakeOpenAI, **extra: object) -> OpenAIProvider:
    values: dict = {"api_key": "sk-test", "base_url": fake.base_url, "max_retries": 0}
    values.update(extra)
    return OpenAIProvider(**values)


def test_the_default_text_model_is_one_the_installed_sdk_lists(tmp_path) -> None:
    # An SDK upgrade that drops the model fails here, not in production.
    assert DEFAULT_TEXT_MODEL in get_args(ChatModel)
    assert make_settings(tmp_path).imagebot_text_model == DEFAULT_TEXT_MODEL
    assert make_settings(tmp_path, imagebot_text_model="gpt-6-luna").imagebot_text_model == "gpt-6-luna"


async def test_describe_sends_the_image_to_the_responses_api(fake_openai: FakeOpenAI) -> None:
    p = provider(fake_openai, text_model="gpt-6-sol")
    described = await p.describe(RED, 4, safety_identifier="0123abcd")
    await p.close()
    [call] = fake_openai.responses.calls
    assert call.status == 200
    assert call.model == "gpt-6-sol"
    assert call.body["safety_identifier"] == "0123abcd"
    assert call.image_sizes == [(800, 600)]
    assert call.images == [RED.data]  # the very bytes, as a data URL
    content = call.body["input"][0]["content"]
    assert content[1]["image_url"] == "data:image/png;base64," + base64.b64encode(RED.data).decode()
    assert "exactly 4" in call.texts[0]
    assert fake_openai.requests == []  # not the Images API
    assert len(described.suggestions) == 4
    assert all("800x600" in s and "#c81e1e" in s for s in described.suggestions)  # what it saw
    assert described.model == "gpt-6-sol"
    assert described.usage is not None
    assert described.usage.input_tokens > 85
    assert described.label is None


@pytest.mark.parametrize(
    "answer",
    [
        '{"prompts": ["a", "b", "c", "d", "e"]}',
        'Sure! ["a", "b", "c", "d"] hope that helps',
        "Here you go:\n1. a\n2) b\n3. c\n- d",
    ],
)
async def test_answers_are_read_as_json_or_a_numbered_list(fake_openai: FakeOpenAI, answer: str) -> None:
    fake_openai.responses.answer_next(answer)
    p = provider(fake_openai)
    described = await p.describe(RED, 4)
    await p.close()
    assert described.suggestions == ("a", "b", "c", "d")


@pytest.mark.parametrize("answer", ["", "I can't help with that.", '{"prompts": ["only one"]}', "1. a\n2. b"])
async def test_a_malformed_answer_is_a_clear_error(fake_openai: FakeOpenAI, answer: str) -> None:
    fake_openai.responses.answer_next(answer)
    p = provider(fake_openai)
    with pytest.raises(BotError) as caught:
        await p.describe(RED, 4)
    await p.close()
    assert caught.value.kind is ErrorKind.UNAVAILABLE
    assert "could not be read as 4 prompts" in caught.value.message


async def test_api_errors_are_said_in_words(fake_openai: FakeOpenAI) -> None:
    fake_openai.responses.fail_next(500)
    p = provider(fake_openai)
    with pytest.raises(BotError) as caught:
        await p.describe(RED, 4)
    await p.close()
    assert caught.value.kind is ErrorKind.UNAVAILABLE
    assert "OpenAI is having trouble" in caught.value.message


async def test_the_fake_refuses_what_the_api_refuses(fake_openai: FakeOpenAI) -> None:
    bad = InputImage("x.png", b"not an image", "image/png")
    p = provider(fake_openai)
    with pytest.raises(BotError) as caught:
        await p.describe(bad, 4)
    await p.close()
    assert caught.value.kind is ErrorKind.INVALID_INPUT
    assert fake_openai.responses.calls[0].status == 400


async def test_offline_suggestions_come_from_the_colours_and_size() -> None:
    offline = OfflineProvider()
    first = await offline.describe(RED, 4)
    again = await offline.describe(RED, 4)
    blue = await offline.describe(InputImage("b.png", png(300, 900, color=(30, 50, 160)), "image/png"), 4)
    assert first == again  # deterministic
    assert first.label == "offline preview"
    assert first.usage is None
    assert len(first.suggestions) == 4
    assert len(set(first.suggestions)) == 4
    assert all("crimson" in s for s in first.suggestions)
    assert "wide landscape" in first.suggestions[0]
    assert "800x600" in first.suggestions[3]
    assert all("deep blue" in s for s in blue.suggestions)
    assert "tall portrait" in blue.suggestions[0]
