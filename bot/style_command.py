"""The `style` command as the registry declares it (bot/commands.py lists it): its arguments and
its handler, a thin call into the house-styles use cases (bot/styles.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.answers import Outcome
from bot.command_model import Arg, ArgKind, Call, Command
from bot.styles import ACTIONS as STYLE_ACTIONS

if TYPE_CHECKING:
    from bot.service import ImageBot

STYLE_IMAGES = ("image", "image2", "image3", "image4")  # up to 4 references (Discord: fields)


async def _style(bot: ImageBot, call: Call) -> Outcome:
    uploads = [image for name in STYLE_IMAGES if (image := call.image(name)) is not None]
    words, name = call.text("text"), call.text("name")
    return await bot.style(call.actor, call.where, call.text("action"), name, words, uploads)


STYLE_COMMAND = Command(
    "style",
    "House styles: save, list, show, reword, rename or delete a look",
    _style,
    args=(
        Arg("action", "What to do", ArgKind.CHOICE, choices=STYLE_ACTIONS, shown_as="action"),
        Arg("name", "The style's name (letters, digits, - or _)"),
        Arg("text", "save, words: its words (save --workspace: the team's; --from ID); rename: the new name"),
        # The first image is also a console `--image PATH`; the others are Discord fields only.
        Arg("image", "A reference image for save", ArgKind.IMAGE),
        *(Arg(n, "Another reference image", ArgKind.IMAGE, field_only=True) for n in STYLE_IMAGES[1:]),
    ),
    help="house styles for `--style NAME`: list, save, show, words, rename, delete",
)
