"""Text people typed is shown as one clean line: no controls, escapes or bidi overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answers import Caption, problem_kind
from bot.text import display_text, has_visible
from tests.helpers import make_settings
from tests.integration.helpers import ALICE, THREAD, running_bot

HOSTILE = (
    "a \x1b[2J\x1b[31mred\x1b[0m fox\x07 \u202eevil\u202c \u2066x\u2069 \x1b]0;title\x07\r\nnext\x00line"
)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (HOSTILE, "a red fox evil x nextline"),
        ("tabs\tand\nnew\nlines", "tabs and new lines"),
        ("\u200bzero\u200dwidth\ufeff", "zerowidth"),
        ("emoji 🦊 and accents: café", "emoji 🦊 and accents: café"),
    ],
)
def test_display_text_keeps_only_what_prints(raw: str, shown: str) -> None:
    assert display_text(raw) == shown


def test_display_text_cuts_to_a_limit() -> None:
    assert display_text("x" * 50, 10) == "x" * 9 + "…"


@pytest.mark.parametrize("raw", ["", "   ", "\u200b\u200b", "\x00\x01", "\u202e\u202c", "\x1b[31m\x1b[0m"])
def test_nothing_visible(raw: str) -> None:
    assert not has_visible(raw)


def test_captions_show_prompt_and_name_clean() -> None:
    line = Caption("abcd1234", HOSTILE, "gpt-image-2", "1024x1024", "Eve\u202e\x1b[1m").render()
    assert not any(ch in line for ch in "\x1b\x07\x00\r\n\u202e\u202c\u2066\u2069")
    assert "“a red fox evil x nextline”" in line
    assert "by Eve" in line


async def test_history_and_queue_lines_are_clean_and_an_invisible_prompt_is_refused(data_dir: Path) -> None:
    async with running_bot(make_settings(data_dir)) as (bot, presenter):
        made = await bot.imagine(ALICE, THREAD, HOSTILE + " --n 1")
        await presenter.final(made.job_id)
        for reply in (await bot.history(ALICE, THREAD), await bot.history(ALICE, THREAD, mine=True)):
            assert "a red fox evil x nextline" in reply.text
            assert not any(ch in reply.text for ch in "\x1b\x07\x00\u202e")
        empty = await bot.imagine(ALICE, THREAD, "\u200b\x00 \u202e --n 1")
        assert problem_kind(empty) == "invalid_input"
        assert "the prompt is empty" in empty.text
