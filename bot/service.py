"""The use cases of imagebot, once for every platform: the façade adapters call.

Adapters call these methods with typed requests and render the `Outcome` they get back; job
results arrive later through the presenter each adapter registers. Each use case lives on its
own desk (bot.desks wires them); this class runs them and turns every refusal (`BotError`) into
the reply that explains it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec

from bot.answers import Images, JobFailed, Notice, Outcome, Stage
from bot.buttons import ButtonId, Verb
from bot.config import Settings
from bot.describing import asks_to_describe
from bot.desks import Desks, wire_desks
from bot.domain import Attachment, ImageOptions, Job, OptionOverrides, Session, SessionKey, UserRef
from bot.errors import BotError
from bot.generating import NO_OVERRIDES
from bot.intake import IntakeDesk
from bot.job_events import Presenter
from bot.jobs import JobRunner
from bot.outcomes import describe_failure
from bot.ports import Storage
from bot.providers.base import Provider
from bot.replies import error_reply
from bot.submission import OpenSession, new_id

__all__ = ["ImageBot", "describe_failure", "new_id"]

log = logging.getLogger(f"imagebot.{__name__}")
DAY = 86_400.0

P = ParamSpec("P")
UseCase = Callable[Concatenate[UserRef, SessionKey, P], Coroutine[Any, Any, Outcome]]


@dataclass(frozen=True)
class PassThrough(Generic[P]):
    """A façade method that is a desk's method as it stands, run by `ImageBot._answer`."""

    pick: Callable[[Desks], UseCase[P]]
    check_channel: bool = True

    def __get__(self, bot: ImageBot, owner: type[ImageBot]) -> UseCase[P]:
        method = self.pick(bot.desks)

        async def run(actor: UserRef, where: SessionKey, /, *args: P.args, **kwargs: P.kwargs) -> Outcome:
            started = method(actor, where, *args, **kwargs)
            return await bot._answer(where, started, check_channel=self.check_channel)

        return run


class ImageBot:
    def __init__(
        self,
        settings: Settings,
        store: Storage,
        provider: Provider,
        runner: JobRunner,
        intake: IntakeDesk,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings, self.store, self.provider = settings, store, provider
        self.runner, self.intake = runner, intake
        self.desks = wire_desks(settings, store, provider, runner, clock)
        self.deliveries = self.desks.deliveries  # adapters record and read their posts here

    # --- life cycle -----------------------------------------------------------------------------
    def register_presenter(self, platform: str, presenter: Presenter) -> None:
        self.runner.register_presenter(platform, presenter)

    async def start(self) -> None:
        pruned = await self.intake.prune()
        if pruned:
            log.info("forgot %d handled requests older than a week", pruned)
        await self.runner.start()

    async def stop(self) -> None:
        await self.runner.stop()
        await self.intake.close()

    # --- use cases (each one's full story is on its desk's method) --------------------------------
    async def imagine(
        self,
        actor: UserRef,
        where: SessionKey,
        text: str,
        overrides: OptionOverrides = NO_OVERRIDES,
        references: Sequence[Attachment] = (),
        open_session: OpenSession | None = None,
        note: str | None = None,
    ) -> Outcome:
        """/imagine. `open_session` is called only once the request is accepted, so a refused one
        never leaves an empty thread behind; `note` is said under the queued line."""
        imagine = self.desks.generating.imagine(actor, where, text, overrides, references, open_session, note)
        return await self._answer(where, imagine)

    # Use cases that are their desk's method as it stands (its signature and its docstring there).
    imagine_parts = PassThrough(lambda desks: desks.generating.imagine_parts)  # template packs, --compare
    edit_upload = PassThrough(lambda desks: desks.generating.edit_upload)  # /edit
    vary_upload = PassThrough(lambda desks: desks.generating.vary_upload)  # the "Vary image" menu
    blend = PassThrough(lambda desks: desks.blending.blend)  # /blend
    show = PassThrough(lambda desks: desks.sessions.show)  # /show <id>
    edit_image = PassThrough(lambda desks: desks.sessions.edit_image)  # the Edit… form
    # IMAGEBOT_CHANNELS says where images are made: these make none (nor do queue, usage, history and
    # settings), so they answer in every channel.
    cancel = PassThrough(lambda desks: desks.reports.cancel, check_channel=False)
    style = PassThrough(lambda desks: desks.styles.command, check_channel=False)  # style list|save|...
    template = PassThrough(lambda desks: desks.templates.command, check_channel=False)  # template save|...

    async def options_for(self, actor: UserRef, where: SessionKey, request: OptionOverrides) -> ImageOptions:
        return await self.desks.chooser.for_new_request(actor, where, request)

    async def reply(
        self, actor: UserRef, where: SessionKey, text: str, attachments: Sequence[Attachment] = ()
    ) -> Outcome:
        """A reply in a session thread edits the current image; the word "describe" describes."""
        if asks_to_describe(text):
            return await self._answer(where, self.desks.describing.message(actor, where, attachments))
        return await self._answer(where, self.desks.sessions.reply(actor, where, text, attachments))

    async def describe(self, actor: UserRef, where: SessionKey, image: Attachment | None = None) -> Outcome:
        """/describe: prompt suggestions for an upload (without one: the thread's current image)."""
        described = self.desks.describing.message(actor, where, [image] if image else [])
        return await self._answer(where, described)

    async def press(self, actor: UserRef, where: SessionKey, button: ButtonId) -> Outcome:
        """A button click (or its console word): bot.press, except Describe and its suggestions."""
        if button.verb is Verb.DESCRIBE:
            return await self._answer(where, self.desks.describing.stored(actor, where, button.target))
        if button.verb is Verb.SUGGEST:
            return await self._answer(where, self.desks.describing.imagine(actor, where, button))
        return await self._answer(where, self.desks.buttons.press(actor, where, button))

    async def history(
        self, actor: UserRef, where: SessionKey, *, mine: bool = False, limit: int = 10
    ) -> Outcome:
        return await self.desks.sessions.history(actor, where, mine=mine, limit=limit)

    async def session_state(self, where: SessionKey) -> Session | None:
        """The thread's session, or None before its first image."""
        return await self.store.images.find_session(where)

    async def open_session(self, where: SessionKey) -> Session:
        """Record a session for a thread before its first image (the console's `new`)."""
        return await self.store.images.session_for(where)

    async def job_ended(self, job_id: str) -> bool:
        job = await self.store.jobs.get(job_id)
        return job is not None and job.status.finished

    async def finished(self, job_id: str) -> Stage:
        """Wait for a job submitted in this process to end; how it ended."""
        return await self.runner.wait(job_id)

    async def queue(self, actor: UserRef, where: SessionKey) -> Outcome:
        return self.desks.reports.queue(actor, where)

    async def usage(self, actor: UserRef, where: SessionKey) -> Outcome:
        return await self.desks.reports.usage(actor, where)

    async def settings_view(self, actor: UserRef, where: SessionKey) -> Outcome:
        return Notice(await self.desks.preferences.view(actor, where))

    async def update_settings(self, actor: UserRef, where: SessionKey, scope: str, changes: str) -> Outcome:
        async def update() -> Outcome:
            return Notice(await self.desks.preferences.update(actor, where, scope, changes))

        return await self._answer(where, update(), check_channel=False)

    # --- outcomes owed after a restart (delivered at least once, never lost) ----------------------
    async def undelivered(self, platform: str, within: float = DAY) -> list[tuple[Job, Images | JobFailed]]:
        """Outcomes of the last `within` seconds recorded but never posted (and failures' Retry)."""
        return await self.desks.outcomes.undelivered(platform, within)

    async def unfinalised(self, platform: str, within: float = DAY) -> list[tuple[Job, Images | JobFailed]]:
        """Posted outcomes whose status message never reached its end (the "✅ Done…" line)."""
        return await self.desks.outcomes.unfinalised(platform, within)

    async def _answer(
        self, where: SessionKey, use_case: Coroutine[Any, Any, Outcome], *, check_channel: bool = True
    ) -> Outcome:
        """Run a use case where the bot is enabled; a refusal becomes the reply that explains it."""
        try:
            if check_channel:
                self.desks.policy.check_channel(where)
        except BotError as error:
            use_case.close()  # never started
            return error_reply(error)
        try:
            return await use_case
        except BotError as error:
            return error_reply(error)
