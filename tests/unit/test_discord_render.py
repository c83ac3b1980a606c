"""Discord button layout: every set size fits Discord's 5 rows of 5, picks and variations apart."""

from __future__ import annotations

import pytest

from adapters.discord.render import build_view, button_rows
from bot.domain import ImageSet, Operation
from bot.replies import image_buttons, set_buttons


def a_set(count: int) -> ImageSet:
    return ImageSet("abcd1234", 1, Operation.IMAGINE, "p", tuple(f"{i:08x}" for i in range(count)), "u", 0.0)


@pytest.mark.parametrize("count", range(2, 11))
async def test_every_set_size_fits_five_rows_of_five(count: int) -> None:
    rows = button_rows(set_buttons(a_set(count)))
    assert len(rows) <= 5
    assert all(len(row) <= 5 for row in rows)
    assert sum(len(row) for row in rows) == 2 * count + 1  # U1..Un, V1..Vn and reroll: nothing dropped
    for row in rows:
        assert len({b.verb for b in row}) == 1  # a row holds one kind of button
    view = build_view(set_buttons(a_set(count)))  # discord.py itself accepts the layout
    assert view is not None
    assert len(view.children) == 2 * count + 1
    assert all(len(item.custom_id) <= 100 for item in view.children)


async def test_single_image_buttons_fit() -> None:
    from bot.domain import StoredImage
    from bot.records import ImageParams

    image = StoredImage(
        "abcd1234", 1, "0" * 64, "image/png", 1024, 1024, Operation.IMAGINE, "p", ImageParams(), "u", 0.0
    )
    rows = button_rows(image_buttons(image))
    assert [len(r) for r in rows] == [5, 5, 1]  # Describe on a row of its own
    labels = [b.label for row in rows for b in row]
    assert "Make square" not in labels
    assert {"Make 16:9", "Make 9:16"} <= set(labels)


async def test_a_prompt_in_a_caption_cannot_format_or_link() -> None:
    from adapters.discord.render import render
    from bot.answers import Caption, Images

    caption = Caption(
        "abcd1234",
        "free nitro: [click here](https://evil.example) **now**",
        "gpt-image-2",
        "1024x1024",
        "Eve_",
    )
    parts = await render(
        Images(f"🎨 Here you go\n{caption.render()}", caption, images=()), file_limit=10_000_000
    )
    assert "\\[click here](https://evil.example)" in parts.content
    assert "\\*\\*now\\*\\*" in parts.content
    assert "by Eve\\_" in parts.content
    assert parts.content.startswith("🎨 Here you go\n`abcd1234`")  # the bot's own formatting stays
