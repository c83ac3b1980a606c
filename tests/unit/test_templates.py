"""Prompt templates (bot/templates.py): what `template save` accepts, and filling one in."""

from __future__ import annotations

import pytest

from bot.errors import BotError
from bot.starter_templates import STARTERS, starter
from bot.templates import PACK_MAX, Template, fill, parse_template

RENDER = "Render this text exactly as written, letter for letter, with nothing added:"


def template(text: str, name: str = "product-shot") -> Template:
    return Template(name, parse_template(text), "personal", "test:alice")


def refusal(call: object) -> str:
    with pytest.raises(BotError) as caught:
        call()  # type: ignore[operator]
    return caught.value.message


def test_placeholders_are_filled_and_text_ones_are_quoted_and_asked_for_exactly() -> None:
    shot = template("a photo of {product} on white, the headline {headline:text} above it --ar 16:9")
    filled = fill(shot, {"product": "red sneaker", "headline": "SALE 50%"})
    assert not filled.is_pack
    (part,) = filled.parts
    assert part.prompt == (
        f"a photo of red sneaker on white, the headline “SALE 50%” above it. {RENDER} “SALE 50%”."
    )
    assert filled.flags.aspect == "16:9"


def test_a_missing_placeholder_is_named_with_an_example() -> None:
    shot = template("a photo of {product} with {headline:text}")
    message = refusal(lambda: fill(shot, {}))
    assert message.startswith("template product-shot needs product= and headline=")
    assert '--template product-shot product="..." headline="..."' in message
    assert refusal(lambda: fill(shot, {"product": "mug"})).startswith("template product-shot needs headline=")


def test_an_unknown_filling_is_named_with_the_closest_one() -> None:
    shot = template("a photo of {product} in {colour}")
    message = refusal(lambda: fill(shot, {"product": "mug", "colour": "red", "color": "red"}))
    assert "no placeholder color= (did you mean colour=?)" in message
    assert "it takes product= and colour=" in message
    assert "fills nothing" in refusal(lambda: fill(template("a plain mug"), {"size": "big"}))
    assert "product= is empty" in refusal(lambda: fill(shot, {"product": " ", "colour": "red"}))


def test_a_filling_is_data_not_more_placeholders_and_typed_words_and_text_are_added() -> None:
    shot = template("a poster of {thing}, title {title:text}")
    filled = fill(shot, {"thing": "{title} and {{x}}", "title": "Hi"}, extra="moody lighting", texts=("Now",))
    assert filled.parts[0].prompt == (
        f"a poster of {{title}} and {{{{x}}}}, title “Hi”, moody lighting. {RENDER} “Hi”, “Now”."
    )


def test_a_template_pack_produces_one_prompt_per_part_each_filled() -> None:
    pack = template(
        "white: {product} on pure white || lifestyle: {product} in a kitchen || {product} on a shelf --ar 1:1"
    )
    assert pack.body.is_pack
    filled = fill(pack, {"product": "a copper kettle"})
    assert filled.is_pack
    assert [(p.label, p.prompt) for p in filled.parts] == [
        ("white", "a copper kettle on pure white"),
        ("lifestyle", "a copper kettle in a kitchen"),
        ("#3", "a copper kettle on a shelf"),
    ]
    assert filled.flags.aspect == "1:1"
    starter_pack = starter("product-pack")
    assert starter_pack is not None
    parts = fill(starter_pack, {"product": "a red sneaker"}).parts
    assert [p.label for p in parts] == ["white", "lifestyle", "context"]
    assert all(p.prompt.startswith("a red sneaker ") for p in parts)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a photo of {product", "unmatched '{'"),
        ("a photo of product}", "unmatched '}'"),
        ("a photo of {product name}", "placeholder {product name} is not valid"),
        ("a photo of {}", "placeholder {} is not valid"),
        ("a photo of {x:bold}", "placeholder {x:bold} is not valid"),
        ("a photo of {9lives}", "placeholder {9lives} is not valid"),
        ("", "the template's prompt is empty"),
        ("--ar 16:9", "the template's prompt is empty"),
        ("a: one || ", "prompt 2 of the pack is empty"),
        ("a: one || a: two", "the same label"),
        (" || ".join(["x"] * (PACK_MAX + 1)), f"at most {PACK_MAX} prompts"),
        ("a: one || b: two --n 2", "leave out --n"),
        ('a poster --text "SALE"', "write {name:text}"),
        ("a poster --template other", "not --style, --template"),
        ("a poster --colour red", "--colour"),
    ],
)
def test_a_malformed_template_is_refused_when_saved(text: str, message: str) -> None:
    assert message in refusal(lambda: parse_template(text))


def test_braces_can_be_written_and_a_lone_prompt_keeps_its_colon() -> None:
    note = template("Note: a json sign showing {{ and }} with {word}")
    assert note.body.parts[0].label is None
    assert fill(note, {"word": "hi"}).parts[0].prompt == "Note: a json sign showing { and } with hi"
    quoted = fill(template("a sign reading {words:text}"), {"words": "the “best” bread"}).parts[0].prompt
    assert quoted == f'a sign reading “the "best" bread”. {RENDER} “the "best" bread”.'


def test_the_starter_library_covers_the_briefs_teams_write() -> None:
    names = {t.name for t in STARTERS}
    assert names >= {
        "product-white",
        "product-lifestyle",
        "editorial-portrait",
        "interior",
        "social-post",
        "poster",
        "logo-on-product",
    }
    assert all(t.scope == "starter" and t.body.placeholders for t in STARTERS)
    assert starter("POSTER") is starter("poster")
