"""/blend on Slack. Slash commands carry no files, so a blend is a message to the bot (a mention)
that says `blend …` and has 2 to 5 images attached, used in the order they were attached;
`/imagebot blend` answers with how to do that."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from adapters.slack.files import FileFetcher
from bot.blending import MIN_IMAGES, check_count
from bot.domain import Attachment
from bot.errors import BotError

HOW_TO_BLEND = (
    "Slack commands can't carry files, so blend in a message: attach 2 to 5 images to a message"
    " that says `@imagebot blend` and, if you like, how to combine them, e.g. `@imagebot blend a"
    " cosy reading nook --ar 16:9`. The images are used in the order they were attached."
)
TOO_FEW_HINT = (
    "Attach them to the message that says `@imagebot blend`; for a picture of something else, use `/imagine`."
)
HELP_LINE = "`@imagebot blend [prompt]` with 2 to 5 images attached combines them, in order, into new ones."
_BLEND = re.compile(r"^\s*/?blend(?!\S)", re.IGNORECASE)


def blend_words(text: str) -> str | None:
    """What follows `blend` in a message that asks for one (the prompt, maybe empty), else None."""
    found = _BLEND.match(text)
    return text[found.end() :].strip() if found else None


async def blend_images(fetcher: FileFetcher, event: Mapping[str, Any]) -> list[Attachment]:
    """The message's images, in order; too few or too many are refused before any download,
    and a file that is not an image is named (FileFetcher) before any is downloaded."""
    files = [f for f in event.get("files") or [] if isinstance(f, Mapping)]
    try:
        check_count(len(files))
    except BotError as error:
        if len(files) >= MIN_IMAGES:
            raise
        # "@imagebot blend of coffee beans" may have meant a picture: say both ways.
        raise BotError(error.kind, f"{error.message} {TOO_FEW_HINT}") from None
    return await fetcher.fetch_all(files)
