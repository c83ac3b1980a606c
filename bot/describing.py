"""/describe: an image → 4 prompt suggestions, each one click (a button) from /imagine.

The image is an upload (/describe, a message saying "describe" with a file), a stored image (the
Describe button under an image) or the thread's current image (a reply "describe"). The
describer (bot.providers.base.Describer: the text model through the Responses API, or the
offline one) writes the prompts; they are stored with their cost (a usage row, so /usage and the
budgets count it) and the answer carries one button per prompt, which names the stored record.
A press runs /imagine with that prompt where it was pressed, as the presser, with every normal
check (quota, budgets, roles).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import cast

from bot.answers import Button, Notice, Outcome
from bot.buttons import ButtonId, Verb
from bot.config import Settings
from bot.domain import Attachment, SessionKey, Usage, UserRef
from bot.errors import BotError, ErrorKind, invalid
from bot.generating import Generating
from bot.lookup import image_here
from bot.policy import Policy
from bot.ports import Storage
from bot.providers.base import Describer, InputImage
from bot.records import UsageRow
from bot.replies import filename_for
from bot.submission import decode_all, new_id, storage_faults_answered
from bot.suggestions import Suggestions
from bot.text import display_text

log = logging.getLogger(f"imagebot.{__name__}")

VERBS = frozenset({Verb.DESCRIBE, Verb.SUGGEST})  # the buttons handled here, not in bot.press
COUNT = 4  # suggestions per image
PROMPT_LIMIT = 600  # characters kept of each suggestion (a prompt, not an essay)
WORD = "describe"  # a message that is just this word asks for a description
NO_IMAGE = (
    "Nothing to describe here: attach an image (`/describe`, or a message saying `describe` with"
    " the image), or use it in a session thread to describe its current image."
)
# Characters that would format, link or quote on some platform: a suggestion is shown as text.
_MARKUP = re.compile(r"[`*_~|<>\[\]\\]")
# Runs of dashes become one en dash, so a suggestion can never carry --flags into /imagine.
_DASHES = re.compile(r"-{2,}|—")
DEFAULT_TEXT_PRICES = {"text_input": 5.0, "text_output": 30.0}  # USD per 1M tokens, errs high


def describer_of(provider: object) -> Describer | None:
    """The provider's describer, when it has one (both built-in providers do; a test's may not)."""
    return cast(Describer, provider) if callable(getattr(provider, "describe", None)) else None


def asks_to_describe(text: str) -> bool:
    """Whether a message (a thread reply, a mention) is the word "describe" and nothing else."""
    return text.strip().strip("!.?").lower() == WORD


def clean_prompt(text: str) -> str:
    """A suggestion as it is shown and used: one clean line, no markup, no --flags."""
    line = display_text(_MARKUP.sub("", _DASHES.sub("–", text)), PROMPT_LIMIT)
    return line.strip(" \"'“”")


def text_cost(usage: Usage | None, prices: Mapping[str, float]) -> float:
    """USD for a text-model call: input tokens (the image included) and output tokens."""
    if usage is None:
        return 0.0
    rates = {**DEFAULT_TEXT_PRICES, **prices}
    dollars = usage.input_tokens * rates["text_input"] + usage.output_tokens * rates["text_output"]
    return round(dollars / 1_000_000, 6)


# Every output token the OpenAI describer allows (bot.providers.openai_describe.MAX_OUTPUT_TOKENS;
# a test keeps the two equal): the estimate counts them all.
MAX_OUTPUT_TOKENS = 1200


def estimate_text_cost(
    size: tuple[int, int], prices: Mapping[str, float], max_output: int = MAX_OUTPUT_TOKENS
) -> float:
    """What describing an image may cost, before the call: the image's tiles at high detail
    (the most the API counts), the instructions, and every output token allowed."""
    fit = min(1.0, 2048 / max(*size, 1))  # fitted into 2048x2048 ...
    width, height = size[0] * fit, size[1] * fit
    short = min(1.0, 768 / max(min(width, height), 1))  # ... then the short side at most 768
    tiles = math.ceil(width * short / 512) * math.ceil(height * short / 512)
    image_tokens = 85 + 170 * tiles
    return text_cost(Usage(input_tokens=image_tokens + 400, output_tokens=max_output), prices)


class Describing:
    def __init__(
        self,
        settings: Settings,
        store: Storage,
        policy: Policy,
        describer: Describer | None,
        generating: Generating,
        clock: Callable[[], float],
        job_for_button: Callable[[str], str | None] = lambda _button: None,
    ) -> None:
        self.settings = settings
        self.job_for_button = job_for_button  # the active job a button started, if any
        self.store = store
        self.policy = policy
        self.describer = describer
        self.generating = generating
        self.clock = clock
        self._describing: set[tuple[str, str, str]] = set()  # stored images being described now

    # --- what to describe -----------------------------------------------------------------------
    async def upload(self, actor: UserRef, where: SessionKey, attachment: Attachment) -> Outcome:
        """/describe with an uploaded image (checked and stripped of metadata like every upload)."""
        ((_, decoded),) = await decode_all([attachment])
        image = InputImage(attachment.filename, decoded.data, decoded.mime)
        name = display_text(attachment.filename, 60) or "the image"
        return await self._describe(actor, where, image, (decoded.width, decoded.height), name)

    async def stored(self, actor: UserRef, where: SessionKey, image_id: str) -> Outcome:
        """The Describe button under an image of this workspace (a second press while the first
        is being answered is told so, not paid for twice)."""
        image = await image_here(self.store.images, image_id, where)
        self.policy.check_may_press(actor, image.requester)
        key = (where.platform, where.workspace, image.id)
        if key in self._describing:
            return Notice(f"Already on it: describing `{image.id}`.")
        self._describing.add(key)
        try:
            data = await self.store.blobs.get(image.blob)
            upload = InputImage(filename_for(image), data, image.mime)
            return await self._describe(actor, where, upload, (image.width, image.height), image.id)
        finally:
            self._describing.discard(key)

    async def message(
        self, actor: UserRef, where: SessionKey, attachments: Sequence[Attachment] = ()
    ) -> Outcome:
        """A message saying "describe": its attached image, else the thread's current image."""
        if len(attachments) > 1:
            raise invalid("Attach one image to describe at a time.")
        if attachments:
            return await self.upload(actor, where, attachments[0])
        session = await self.store.images.find_session(where)
        if session is not None and session.awaiting_pick:  # a grid nobody picked from: never guess
            raise invalid("Which image? Pick one first (U1, U2, …), then say `describe` again.")
        if session is None or session.current_image_id is None:
            raise invalid(NO_IMAGE)
        return await self.stored(actor, where, session.current_image_id)

    # --- a suggestion's button ------------------------------------------------------------------
    async def imagine(self, actor: UserRef, where: SessionKey, button: ButtonId) -> Outcome:
        """A suggestion pressed: /imagine with its prompt, here, as the presser (a second press
        while that job is active finds it, as every image button does)."""
        active = self.job_for_button(button.encode())
        if active is not None:
            return Notice(f"Already on it: job `{active}` is working on that.", job_id=active)
        found = await self.store.suggestions.get(button.target, within=where)
        if found is None:
            raise BotError(ErrorKind.NOT_FOUND, f"No suggestions with id `{button.target}` here.")
        self.policy.check_may_press(actor, found.requester)
        number = int(button.arg) if button.arg and button.arg.isdigit() else 0
        prompt = found.prompt(number)
        if prompt is None:
            raise invalid(f"There is no suggestion {button.arg} in `{found.id}`.")
        return await self.generating.imagine(actor, where, prompt, origin=button.encode())

    # --- the description ------------------------------------------------------------------------
    async def _describe(
        self, actor: UserRef, where: SessionKey, image: InputImage, size: tuple[int, int], source: str
    ) -> Outcome:
        describer = self.describer
        if describer is None:
            raise BotError(ErrorKind.UNAVAILABLE, "Describing images is not available with this provider.")
        model = self.settings.imagebot_text_model
        prices = self.settings.price_for(model)
        if describer.charges:  # refused with the figures before anything is paid
            await self.policy.check_budgets(
                self.policy.spend_limits(actor, where), estimate_text_cost(size, prices)
            )
        described = await describer.describe(image, COUNT, safety_identifier=actor.safety_identifier)
        prompts = tuple(p for p in (clean_prompt(s) for s in described.suggestions) if p)[:COUNT]
        if len(prompts) < COUNT:
            raise BotError(
                ErrorKind.UNAVAILABLE, f"The text model wrote fewer than {COUNT} usable prompts; try again."
            )
        usage = described.usage
        cost = text_cost(usage, prices) if describer.charges else 0.0
        record = Suggestions(
            id=new_id(),
            where=where,
            requester=actor.key,
            source=source,
            prompts=prompts,
            model=described.model,
            created_at=self.clock(),
            label=described.label,
            input_tokens=usage.input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            cost_usd=cost,
        )
        row = None
        if usage is not None or cost:
            row = UsageRow(
                record.id,
                where.platform,
                where.workspace,
                actor.key,
                record.model,
                0,
                record.input_tokens,
                record.output_tokens,
                cost,
            )
        with storage_faults_answered(where, "the suggestions"):
            await self.store.suggestions.record(record, row)
        log.info("describe %s [%s]: %d suggestions, ~$%.4f", record.id, where.platform, len(prompts), cost)
        return answer(record, source)


def answer(record: Suggestions, source: str) -> Notice:
    """The suggestions, numbered, with one button each that runs /imagine with it."""
    head = f"🔎 {len(record.prompts)} prompts for `{_MARKUP.sub('', source)}`"
    if record.label:
        head += f" [{record.label}]"
    lines = [head + ":"]
    lines.extend(f"{k}. {prompt}" for k, prompt in enumerate(record.prompts, 1))
    lines.append("Press a button to /imagine one of them.")
    buttons = tuple(
        Button(
            Verb.SUGGEST, record.id, f"Imagine {k}", arg=str(k), style="primary" if k == 1 else "secondary"
        )
        for k in range(1, len(record.prompts) + 1)
    )
    return Notice("\n".join(lines), buttons=buttons)
