"""The library flags are read once, before the image options: --style, --template with its
key="value" fillings, --text (repeatable, quoted) and --compare."""

from __future__ import annotations

import pytest

from bot.directives import Directives, split_directives
from bot.errors import BotError


def test_text_without_library_flags_is_left_alone() -> None:
    assert split_directives("a fox --ar 16:9 x=1") == ("a fox --ar 16:9 x=1", Directives())


def test_each_flag_is_read_and_taken_out() -> None:
    rest, asked = split_directives(
        'a poster --style brand --text "SALE 50%" --text “Ends Sunday” --compare gpt-image-2,GPT-image-2.5-flare --n 2'
    )
    assert rest == "a poster --n 2"
    assert asked.style == "brand"
    assert asked.texts == ("SALE 50%", "Ends Sunday")
    assert asked.compare == ("gpt-image-2", "gpt-image-2.5-flare")


def test_template_fillings_are_read_only_after_a_template() -> None:
    rest, asked = split_directives('--template product-shot product="red sneaker" headline=“SALE 50%” --n 1')
    assert asked.template == "product-shot"
    assert dict(asked.fills) == {"product": "red sneaker", "headline": "SALE 50%"}
    assert rest == "--n 1"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("a fox --style", "--style needs a value"),
        ("a fox --style bad/name", "style name 'bad/name' is not valid"),
        ('a fox --text "never closed', "the quote is never closed"),
        ('a fox --text ""', "--text is empty"),
        ("a fox --compare gpt-image-2", "--compare needs 2 to 4 models"),
        ("a fox --compare a,a", "a model is named twice"),
        ("a fox --style a --style b", "--style was given twice"),
        ('--template t x="1" x="2"', "x was given twice"),
        ("--template t x=", "x= needs a value"),
    ],
)
def test_bad_library_flags_are_refused_specifically(text: str, says: str) -> None:
    with pytest.raises(BotError) as refused:
        split_directives(text)
    assert says in refused.value.message
