"""The Build-a-prompt composer (bot.prompt_builder): four layers in order, empty ones skipped,
style and text as the library flags the core reads back, and a specific refusal for each bad
layer."""

from __future__ import annotations

import pytest

from bot import exact_text
from bot.directives import split_directives
from bot.errors import BotError
from bot.prompt_builder import LAYER_MAX_CHARS, PromptLayers, check_field, compose, shown


def refusal(layers: PromptLayers) -> str:
    with pytest.raises(BotError) as caught:
        compose(layers)
    return caught.value.message


def test_the_four_layers_read_in_order_and_empty_ones_are_skipped() -> None:
    layers = PromptLayers(
        subject="a red fox curled up asleep.",
        environment="  in a snowy pine forest at dawn, ",
        lighting="",
        camera="close-up, 85mm lens",
    )
    assert (
        compose(layers) == "a red fox curled up asleep, in a snowy pine forest at dawn, close-up, 85mm lens"
    )
    assert compose(PromptLayers("a lighthouse")) == "a lighthouse"


def test_style_and_text_become_the_library_flags_and_read_back_whole() -> None:
    layers = PromptLayers(
        subject="a poster", style="brand", text='SUMMER SALE\n\n50% off "today"\n  ', camera="flat lay"
    )
    composed = compose(layers)
    assert composed.startswith("a poster, flat lay --style brand --text ")
    rest, asked = split_directives(composed)
    assert rest == "a poster, flat lay"
    assert asked.style == "brand"
    assert asked.texts == ("SUMMER SALE", '50% off "today"')  # one piece per line, empty lines left out


def test_a_layer_is_one_clean_line_of_data() -> None:
    composed = compose(PromptLayers("a cat\x1b[31m on\nthe\u202e moon"))
    assert composed == "a cat on the moon"


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        (PromptLayers(""), "The subject is empty"),
        (PromptLayers(" \u200b "), "The subject is empty"),
        (PromptLayers(" , . ", lighting="dusk"), "The subject is empty"),
        (PromptLayers("a fox", lighting="dusk --ar 16:9"), "The lighting layer has --ar"),
        (PromptLayers("a fox", camera="\u2014ar 16:9"), "The camera layer has \u2014ar"),
        (PromptLayers("a fox", environment="woods --style brand"), "The environment layer has --style"),
        (PromptLayers("a fox", camera="x" * (LAYER_MAX_CHARS + 1)), "The camera layer is 501 characters"),
        (PromptLayers("a fox", style="two words"), "style name 'two words' is not valid"),
        (PromptLayers("a fox", text="x" * 201), "A line of the text to render is 201 characters"),
        (PromptLayers("a fox", text="\n".join("abcdefghi")), "The text to render has 9 lines"),
        (PromptLayers("a fox", text='say "hi" \u201dthere\u201d'), "holds both"),
    ],
)
def test_each_bad_layer_gets_its_own_message(layers: PromptLayers, expected: str) -> None:
    assert expected in refusal(layers)


def test_the_shown_line_is_the_command_to_type_in_a_code_span() -> None:
    composed = compose(PromptLayers("a `fox`", text="HELLO"))
    line = shown(composed, "/imagine")
    assert line.endswith("`/imagine a 'fox' --text \"HELLO\"`")
    assert line.count("`") == 2  # the person's backticks cannot end the span early
    assert exact_text.sentence(["HELLO"]) not in line  # shown as typed, not as sent to the model


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("camera", "wide --ar 1:1", "The camera layer has --ar"),
        ("subject", "y" * (LAYER_MAX_CHARS + 1), "The subject layer is 501 characters"),
        ("style", "no spaces please", "style name 'no spaces please' is not valid"),
        ("text", "x" * 201, "A line of the text to render is 201 characters"),
    ],
)
def test_one_field_is_checked_on_its_own_as_the_whole_form_would(
    name: str, value: str, expected: str
) -> None:
    with pytest.raises(BotError) as caught:
        check_field(name, value)
    assert expected in caught.value.message
    check_field(name, "fine")  # and a good value passes
