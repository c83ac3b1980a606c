"""/blend: 2 to 5 uploaded images combined into new images by one multi-image edit.

A blend is one job whose inputs are the uploads, in the order given, sent together to the
images edit endpoint (`Operation.BLEND`; the executor sends every input and the instruction in
`bot.executor.INSTRUCTIONS`). The result is an ordinary set: U/V buttons and a session thread
work on it, and a reroll sends the same uploads (stored as the job's sources) again.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot import exact_text, options
from bot.answers import Outcome
from bot.choosing import OptionChooser
from bot.directives import split_directives
from bot.domain import Attachment, Operation, OptionOverrides, SessionKey, UserRef
from bot.errors import check_image_count, invalid
from bot.submission import OpenSession, Request, Submitter, decode_all

MIN_IMAGES, MAX_IMAGES = 2, 5
NO_OVERRIDES = OptionOverrides()


def check_count(count: int) -> None:
    """Refuse a blend of too few or too many images (the registry's blend declares the same range,
    so an adapter that counts files before downloading them says the same)."""
    check_image_count("blend", count, MIN_IMAGES, MAX_IMAGES)


def stored_prompt(count: int, words: str) -> str:
    """What the result's prompt says: how many images were blended, then the person's words
    (the default instruction is the executor's, so an empty prompt is never pretended)."""
    head = f"blend of {count} images"
    return f"{head}: {words}" if words else head


class Blending:
    def __init__(self, chooser: OptionChooser, submitter: Submitter) -> None:
        self.chooser = chooser
        self.submitter = submitter

    async def blend(
        self,
        actor: UserRef,
        where: SessionKey,
        images: Sequence[Attachment],
        text: str = "",
        overrides: OptionOverrides = NO_OVERRIDES,
        open_session: OpenSession | None = None,
    ) -> Outcome:
        """/blend: 2 to 5 uploaded images, in order, combined into new images. Check everything
        (count, flags, every image) before anything is stored, then queue one job with the uploads
        as its inputs, in order."""
        check_count(len(images))
        rest, asked = split_directives(text)
        for flag, given in (
            ("--style", asked.style),
            ("--template", asked.template),
            ("--compare", asked.compare),
        ):
            if given:
                raise invalid(f"{flag} does not work with /blend")
        words, flags = options.split_flags(rest)
        words = options.validate_prompt(words) if words.strip() else ""
        words = exact_text.with_texts(words, asked.texts)
        chosen = await self.chooser.for_new_request(actor, where, flags.merged_over(overrides))
        decoded = await decode_all(images)
        request = Request(Operation.BLEND, stored_prompt(len(images), words), chosen, uploads=decoded)
        return await self.submitter.submit(actor, where, request, open_session)
