"""bot.describing's small rules: what counts as asking to describe, how a suggestion is cleaned
(shown as text, never markup, never --flags), and what a description is priced at."""

from __future__ import annotations

from bot.describing import asks_to_describe, clean_prompt, estimate_text_cost, text_cost
from bot.domain import Usage
from bot.options import split_flags


def test_only_the_word_itself_asks_to_describe() -> None:
    assert asks_to_describe("describe")
    assert asks_to_describe("  Describe! ")
    assert not asks_to_describe("describe the fox in more detail")
    assert not asks_to_describe("make it describe-able")


def test_a_suggestion_cannot_carry_flags_or_markup() -> None:
    dirty = "A *bold* [link](http://x) <@everyone> `code` fox --n 10 --ar 21:9\u202e\n2nd line"
    cleaned = clean_prompt(dirty)
    _, flags = split_flags(cleaned)
    assert flags.n is None
    assert flags.aspect is None  # the model's words never become options
    for char in "*[]<>`\u202e\n":
        assert char not in cleaned
    assert cleaned.startswith("A bold link(http://x) @everyone code fox")
    assert clean_prompt('  "A quoted prompt"  ') == "A quoted prompt"
    assert len(clean_prompt("word " * 500)) <= 600


def test_a_text_model_call_is_priced_from_its_tokens_and_estimated_high() -> None:
    prices = {"text_input": 2.0, "text_output": 10.0}
    assert text_cost(Usage(input_tokens=1_000_000, output_tokens=100_000), prices) == 3.0
    assert text_cost(None, prices) == 0.0
    # Without a text_output price, output is priced high rather than free.
    assert text_cost(Usage(output_tokens=1_000_000), {"text_input": 1.0}) == 30.0
    small = estimate_text_cost((512, 512), prices)
    large = estimate_text_cost((4000, 3000), prices)
    assert 0 < small < large
    # Never below what a real answer of the same size costs: all output tokens allowed counted.
    assert small >= text_cost(Usage(input_tokens=85 + 170, output_tokens=1200), prices)


def test_the_estimate_counts_every_output_token_the_describer_allows() -> None:
    from bot.describing import MAX_OUTPUT_TOKENS
    from bot.providers import openai_describe

    assert MAX_OUTPUT_TOKENS == openai_describe.MAX_OUTPUT_TOKENS
