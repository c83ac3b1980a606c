"""The one button codec (bot.buttons): ids round-trip, ids on old messages still decode, the
100-character limit is checked where an id is made, and an unknown verb gets a clear answer."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from adapters.discord.components import BUTTON_TEMPLATE, ImagebotButton
from bot.answers import Button
from bot.buttons import MAX_LENGTH, PATTERN, ButtonId, Verb
from bot.describing import VERBS as DESCRIBE_VERBS
from bot.describing import answer
from bot.domain import (
    ImageSet,
    Job,
    JobSpec,
    JobStatus,
    Operation,
    OptionOverrides,
    SessionKey,
    StoredImage,
    UserRef,
)
from bot.errors import BotError, ErrorKind
from bot.options import resolve_options
from bot.press import HANDLERS
from bot.records import ImageParams
from bot.replies import cancel_button, image_buttons, retry_buttons, set_buttons
from bot.suggestions import Suggestions

# What the Discord adapter matched before the codec existed: every id posted since must decode.
OLD_DISCORD_TEMPLATE = r"ib:(?P<verb>[a-z-]+):(?P<target>[0-9a-f]{8})(?::(?P<arg>[0-9.:]+))?"
POSTED = [
    ("ib:u:3f9a2c71:2", ButtonId(Verb.U, "3f9a2c71", "2")),
    ("ib:v:3f9a2c71:10", ButtonId(Verb.V, "3f9a2c71", "10")),
    ("ib:reroll:3f9a2c71", ButtonId(Verb.REROLL, "3f9a2c71")),
    ("ib:upscale:0badcafe", ButtonId(Verb.UPSCALE, "0badcafe")),
    ("ib:vary-subtle:0badcafe", ButtonId(Verb.VARY_SUBTLE, "0badcafe")),
    ("ib:vary-strong:0badcafe", ButtonId(Verb.VARY_STRONG, "0badcafe")),
    ("ib:edit:0badcafe", ButtonId(Verb.EDIT, "0badcafe")),
    ("ib:zoom:0badcafe:1.5", ButtonId(Verb.ZOOM, "0badcafe", "1.5")),
    ("ib:aspect:0badcafe:16:9", ButtonId(Verb.ASPECT, "0badcafe", "16:9")),
    ("ib:nobg:0badcafe", ButtonId(Verb.NOBG, "0badcafe")),
    ("ib:undo:0badcafe", ButtonId(Verb.UNDO, "0badcafe")),
    ("ib:use:0badcafe", ButtonId(Verb.USE, "0badcafe")),
    ("ib:retry:12345678", ButtonId(Verb.RETRY, "12345678")),
    ("ib:cancel:12345678", ButtonId(Verb.CANCEL, "12345678")),
]


@pytest.mark.parametrize(("text", "expected"), POSTED)
def test_ids_on_posted_messages_decode_and_encode_back_the_same(text: str, expected: ButtonId) -> None:
    assert re.fullmatch(OLD_DISCORD_TEMPLATE, text)  # one the old adapter answered
    assert ButtonId.decode(text) == expected
    assert expected.encode() == text
    assert re.fullmatch(BUTTON_TEMPLATE, text)
    assert re.fullmatch(PATTERN, text)


def test_every_verb_round_trips() -> None:
    for verb in Verb:
        for arg in (None, "2", "1:1"):
            button = ButtonId(verb, "abcd1234", arg)
            assert ButtonId.decode(button.encode()) == button


def test_an_empty_argument_is_kept_as_the_old_parser_kept_it() -> None:
    assert ButtonId.decode("ib:u:abcd1234:") == ButtonId(Verb.U, "abcd1234", "")


def test_the_length_limit_is_checked_when_an_id_is_made() -> None:
    fits = ButtonId(Verb.ASPECT, "abcd1234", "1" * (MAX_LENGTH - len("ib:aspect:abcd1234:")))
    assert len(fits.encode()) == MAX_LENGTH
    too_long = ButtonId(Verb.ASPECT, "abcd1234", "1" * (MAX_LENGTH - len("ib:aspect:abcd1234:") + 1))
    with pytest.raises(ValueError, match="at most 100"):
        too_long.encode()
    with pytest.raises(ValueError, match="at most 100"):
        Button(Verb.UNDO, "x" * 100, "Undo")  # a button no platform could carry is never made


def test_a_target_with_a_colon_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        ButtonId(Verb.UNDO, "a:b").encode()


@pytest.mark.parametrize("text", ["ib:frobnicate:abcd1234", "ib:U:abcd1234:1"])
def test_an_unknown_verb_is_a_clear_error(text: str) -> None:
    with pytest.raises(BotError) as caught:
        ButtonId.decode(text)
    assert caught.value.kind is ErrorKind.INVALID_INPUT
    assert "Unknown button action" in caught.value.message
    assert text.split(":")[1] in caught.value.message


@pytest.mark.parametrize("text", ["", "ib", "ib:u", "xx:u:abcd1234:1", "job:vary:1"])
def test_what_is_not_one_of_ours_says_so(text: str) -> None:
    with pytest.raises(BotError, match="not one of mine"):
        ButtonId.decode(text)
    assert not ButtonId.looks_like(text)


def test_a_plain_string_verb_becomes_the_verb_and_an_unknown_one_fails() -> None:
    assert Button("cancel", "12345678", "Cancel").verb is Verb.CANCEL  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a valid Verb"):
        Button("frobnicate", "12345678", "?")  # type: ignore[arg-type]


def test_only_edit_opens_a_form_and_every_other_verb_has_a_handler() -> None:
    assert {verb for verb in Verb if verb.opens_form} == {Verb.EDIT}
    assert set(HANDLERS) | DESCRIBE_VERBS == {verb for verb in Verb if not verb.opens_form}


def test_every_button_the_core_makes_is_carried_by_its_id() -> None:
    image_set = ImageSet(
        "abcd1234", 1, Operation.IMAGINE, "p", tuple(f"{i:08x}" for i in range(10)), "u", 0.0
    )
    image = StoredImage(
        "abcd1234", 1, "0" * 64, "image/png", 1536, 1024, Operation.IMAGINE, "p", ImageParams(), "u", 0.0
    )
    job = Job(
        id="12345678",
        session_id=1,
        where=SessionKey("console", "w", "c", "t"),
        requester=UserRef("console", "me", "me"),
        spec=JobSpec(
            Operation.IMAGINE,
            "p",
            resolve_options(OptionOverrides(), default_model="gpt-image-2", default_n=1),
        ),
        status=JobStatus.FAILED,
        created_at=0.0,
    )
    described = Suggestions("abcd1234", job.where, "u", "abcd1234", ("a", "b", "c", "d"), "m", 0.0)
    buttons = [
        *set_buttons(image_set),
        *image_buttons(image),
        *retry_buttons(job),
        cancel_button(job),
        *answer(described, "abcd1234").buttons,
    ]
    for button in buttons:
        assert ButtonId.decode(button.custom_id) == button.id
        assert Button.of(button.id, button.label, button.style) == button
    assert {b.verb for b in buttons} == set(Verb) - {Verb.USE}


async def test_a_discord_click_reaches_the_adapter_of_its_own_client() -> None:
    """Two adapters in one process (two bots): each click goes to the adapter of the client it
    came through, never to whichever adapter started last."""

    class Adapter:
        def __init__(self) -> None:
            self.clicks: list[str] = []

        async def on_click(self, interaction: object, custom_id: str) -> None:
            self.clicks.append(custom_id)

    first, second = Adapter(), Adapter()
    button = ImagebotButton("ib:u:abcd1234:1", "U1")
    await button.callback(SimpleNamespace(client=SimpleNamespace(adapter=first)))  # type: ignore[arg-type]
    await button.callback(SimpleNamespace(client=SimpleNamespace(adapter=second)))  # type: ignore[arg-type]
    assert first.clicks == second.clicks == ["ib:u:abcd1234:1"]
    assert not hasattr(ImagebotButton, "on_click")
