"""The render-exactly sentence is written and read back by one module (bot.exact_text)."""

from __future__ import annotations

import pytest

from bot import exact_text


@pytest.mark.parametrize(
    ("prompt", "shown"),
    [
        ("a poster for a bakery", "a poster for a bakery"),
        ("a poster!", "a poster!"),
        ("", ""),
        ("a sign: ", "a sign:"),
    ],
)
def test_the_sentence_reads_back_to_the_pieces_and_the_persons_words(prompt: str, shown: str) -> None:
    sent = exact_text.with_texts(prompt, ["SALE 50%", "say “hi”"])
    assert exact_text.found_in(sent) == ("SALE 50%", 'say "hi"')  # curly quotes inside become straight
    assert exact_text.without_texts(sent) == shown


def test_no_pieces_leave_the_prompt_alone() -> None:
    assert exact_text.with_texts("a fox", []) == "a fox"
    assert exact_text.found_in("a fox “quoted” in the prompt") == ()


def test_pieces_from_two_sentences_are_all_found_in_order() -> None:
    twice = exact_text.with_texts(exact_text.with_texts("a mug", ["GOOD"]), ["MORNING"])
    assert exact_text.found_in(twice) == ("GOOD", "MORNING")
