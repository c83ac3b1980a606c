"""The style rule (bot/style_apply.py) and how `style save` reads its line (bot/styles.py)."""

from __future__ import annotations

import pytest

from bot import exact_text
from bot.domain import Operation, StoredImage
from bot.errors import BotError
from bot.records import ImageParams
from bot.style_apply import MAX_INPUT_IMAGES, check_inputs, style_words, styled_prompt, unknown_style
from bot.style_records import Style, StyleScope
from bot.styles import SaveAsk, _words_of, read_save


def style(name: str = "brand", text: str = "soft light", images: int = 0) -> Style:
    return Style(
        1, StyleScope("test", "team", ""), name, text, tuple(f"i{k}" for k in range(images)), "a", 0.0
    )


def test_the_text_is_appended_after_a_comma() -> None:
    assert styled_prompt("a fox", style()) == "a fox, soft light"
    assert styled_prompt("a fox, ", style()) == "a fox, soft light"
    assert styled_prompt("a fox", style(text="")) == "a fox"
    assert styled_prompt("a fox", None) == "a fox"


def test_style_words_are_the_tail_after_the_first_comma() -> None:
    assert style_words("a red fox in snow, golden hour,  35mm film") == "golden hour, 35mm film"
    assert style_words("a red fox in snow") == ""


def test_the_input_limit_counts_the_request_and_the_style() -> None:
    check_inputs(MAX_INPUT_IMAGES - 4, style(images=4))
    check_inputs(MAX_INPUT_IMAGES, None)
    with pytest.raises(BotError, match="17 in all, but the image API takes at most 16"):
        check_inputs(13, style(images=4))


def test_unknown_names_suggest_the_closest() -> None:
    styles = [style("brand"), style("bright"), style("noir")]
    assert unknown_style("brnd", styles).message == "no style named 'brnd' here; closest: brand, bright"
    assert "`style list`" in unknown_style("zzzz", styles).message
    assert "there are no styles yet" in unknown_style("zzzz", []).message


@pytest.mark.parametrize(
    ("line", "asked"),
    [
        ("", SaveAsk(None, (), False)),
        ("soft light, grain", SaveAsk("soft light, grain", (), False)),
        ('text="soft light" --workspace', SaveAsk("soft light", (), True)),
        ("--from 3f9a2c71 —from `abcd1234` grain", SaveAsk("grain", ("3f9a2c71", "abcd1234"), False)),
        ('text=""', SaveAsk("", (), False)),
    ],
)
def test_save_reads_its_line(line: str, asked: SaveAsk) -> None:
    assert read_save(line) == asked


def test_saved_words_skip_uploads_and_the_exact_text_sentence() -> None:
    def image(op: Operation, prompt: str) -> StoredImage:
        return StoredImage("i", 1, "b", "image/png", 8, 8, op, prompt, ImageParams(), "u", 0.0)

    poster = exact_text.with_texts("a poster, risograph, two inks", ["SALE, 50%"])
    assert (
        _words_of([image(Operation.UPLOAD, "a, b.png"), image(Operation.IMAGINE, poster)])
        == "risograph, two inks"
    )
    assert _words_of([image(Operation.UPLOAD, "a, b.png")]) == ""
