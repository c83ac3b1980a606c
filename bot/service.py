"""The use cases of imagebot, once for every platform: the façade adapters call.

Adapters call these methods with typed requests and render the `Outcome` they get back; job
results arrive later through the presenter each adapter registers. Each use case lives in its
own module (generating, sessions, press, reports, preferences); this class wires them and turns
every refusal (`BotError`) into the reply that explains it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from bot.answers import Images, JobFailed, Notice, Outcome, Stage
from bot.blending import Blending
from bot.buttons import ButtonId, Verb
from bot.choosing import OptionChooser
from bot.config import Settings
from bot.deliveries import DeliveryLog
from bot.describing import Describing, asks_to_describe, describer_of
from bot.domain import Attachment, ImageOptions, Job, JobPart, OptionOverrides, Session, SessionKey, UserRef
from bot.errors import BotError
from bot.generating import NO_OVERRIDES, Generating
from bot.intake import IntakeDesk
from bot.job_events import Presenter
from bot.jobs import JobRunner
from bot.lookup import image_here
from bot.outcomes import Outcomes, describe_failure
from bot.policy import Policy
from bot.ports import Storage
from bot.preferences import SettingsDesk
from bot.press import Buttons
from bot.providers.base import Provider
from bot.replies import error_reply
from bot.reports import Reports
from bot.sessions import Sessions
from bot.styles import Styles
from bot.submission import OpenSession, Submitter, new_id
from bot.template_desk import TemplateDesk

__all__ = ["ImageBot", "describe_failure", "new_id"]

log = logging.getLogger(f"imagebot.{__name__}")
DAY = 86_400.0


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
        self.settings = settings
        self.store = store
        self.provider = provider
        self.runner = runner
        self.intake = intake
        self.clock = clock
        self.policy = Policy(settings, store.jobs, provider, clock)
        self.chooser = OptionChooser(settings, store.preferences)
        submitter = Submitter(store, runner, self.policy, clock)
        self.templates = TemplateDesk(store.templates, self.chooser.resolve)
        self.styles = Styles(store, clock)
        self.generating = Generating(self.chooser, submitter, self.templates, self.styles)
        self.blending = Blending(self.chooser, submitter)
        self.sessions = Sessions(store, self.generating)
        self.reports = Reports(settings, store.jobs, runner, self.policy)
        self.buttons = Buttons(
            settings, store, runner, self.policy, self.chooser, submitter, self.sessions, self.reports
        )
        self.settings_desk = SettingsDesk(
            settings, store.preferences, self.chooser.resolve, self.styles.check_default
        )
        self.outcomes = Outcomes(store, clock)
        self.describing = Describing(
            settings,
            store,
            self.policy,
            describer_of(provider),
            self.generating,
            clock,
            job_for_button=runner.active_job_for_origin,
        )
        self.deliveries = DeliveryLog(store.jobs, store.intake)

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

    # --- use cases --------------------------------------------------------------------------------
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
        """/imagine: N new images from a prompt (with optional reference images).

        `open_session`, when given, is called once the request is valid and accepted, and returns
        the thread that becomes the session (e.g. a thread created under the acknowledgement), so
        a refused request never leaves an empty thread behind. `note` is said under the queued
        line (/build shows the prompt it composed there)."""
        return await self._answer(
            where, self.generating.imagine(actor, where, text, overrides, references, open_session, note)
        )

    async def imagine_parts(
        self,
        actor: UserRef,
        where: SessionKey,
        parts: Sequence[JobPart],
        open_session: OpenSession | None = None,
        *,
        title: str | None = None,
    ) -> Outcome:
        """Several different requests (2-4 parts) as one job and one labelled grid (template
        packs; --compare is its case of one prompt across models). See Generating.imagine_parts."""
        return await self._answer(
            where, self.generating.imagine_parts(actor, where, parts, open_session, title=title)
        )

    async def options_for(self, actor: UserRef, where: SessionKey, request: OptionOverrides) -> ImageOptions:
        return await self.chooser.for_new_request(actor, where, request)

    async def edit_upload(
        self,
        actor: UserRef,
        where: SessionKey,
        image: Attachment,
        instruction: str,
        mask: Attachment | None = None,
        overrides: OptionOverrides = NO_OVERRIDES,
        references: Sequence[Attachment] = (),
        open_session: OpenSession | None = None,
    ) -> Outcome:
        """/edit: start (or continue) a session from an uploaded image and edit it."""
        edit = self.generating.edit_upload(
            actor, where, image, instruction, mask, overrides, references, open_session
        )
        return await self._answer(where, edit)

    async def vary_upload(
        self,
        actor: UserRef,
        where: SessionKey,
        image: Attachment,
        *,
        strong: bool = False,
        open_session: OpenSession | None = None,
    ) -> Outcome:
        """The "Vary image" menu on any message with an image: variations of that picture."""
        vary = self.generating.vary_upload(actor, where, image, strong=strong, open_session=open_session)
        return await self._answer(where, vary)

    async def blend(
        self,
        actor: UserRef,
        where: SessionKey,
        images: Sequence[Attachment],
        text: str = "",
        overrides: OptionOverrides = NO_OVERRIDES,
        open_session: OpenSession | None = None,
    ) -> Outcome:
        """/blend: 2 to 5 uploaded images, in order, combined into new images (bot.blending)."""
        blend = self.blending.blend(actor, where, images, text, overrides, open_session)
        return await self._answer(where, blend)

    async def reply(
        self, actor: UserRef, where: SessionKey, text: str, attachments: Sequence[Attachment] = ()
    ) -> Outcome:
        """A reply in a session thread: edit the current image (README: "Refine in the thread");
        the word "describe" describes the attached image, or the current one (bot.describing)."""
        if asks_to_describe(text):
            return await self._answer(where, self.describing.message(actor, where, attachments))
        return await self._answer(where, self.sessions.reply(actor, where, text, attachments))

    async def describe(self, actor: UserRef, where: SessionKey, image: Attachment | None = None) -> Outcome:
        """/describe: 4 prompt suggestions for an uploaded image (without one: the thread's
        current image), each with a button that runs /imagine with it."""
        return await self._answer(where, self.describing.message(actor, where, [image] if image else []))

    async def edit_image(self, actor: UserRef, where: SessionKey, image_id: str, instruction: str) -> Outcome:
        """The Edit… form: an instruction applied to a given image."""

        async def edit() -> Outcome:
            image = await image_here(self.store.images, image_id, where)
            return await self.generating.edit_image(actor, where, image, instruction)

        return await self._answer(where, edit())

    async def press(self, actor: UserRef, where: SessionKey, button: ButtonId) -> Outcome:
        """A button click (or its console word); what each verb does is in bot.press
        (Describe and the suggestions under a description: bot.describing)."""
        if button.verb is Verb.DESCRIBE:
            return await self._answer(where, self.describing.stored(actor, where, button.target))
        if button.verb is Verb.SUGGEST:
            return await self._answer(where, self.describing.imagine(actor, where, button))
        return await self._answer(where, self.buttons.press(actor, where, button))

    async def show(
        self, actor: UserRef, where: SessionKey, ident: str, open_session: OpenSession | None = None
    ) -> Outcome:
        """/show <id>: re-post an image (and make it current here) or a whole set, with buttons."""
        return await self._answer(where, self.sessions.show(actor, where, ident, open_session))

    async def history(
        self, actor: UserRef, where: SessionKey, *, mine: bool = False, limit: int = 10
    ) -> Outcome:
        return await self.sessions.history(actor, where, mine=mine, limit=limit)

    async def session_state(self, where: SessionKey) -> Session | None:
        """The thread's session (current image, last set), or None before its first image."""
        return await self.store.images.find_session(where)

    async def open_session(self, where: SessionKey) -> Session:
        """Record a session for a thread before its first image (the console's `new`)."""
        return await self.store.images.session_for(where)

    async def job_ended(self, job_id: str) -> bool:
        """Whether a job this bot made has ended (done, failed or cancelled)."""
        job = await self.store.jobs.get(job_id)
        return job is not None and job.status.finished

    async def finished(self, job_id: str) -> Stage:
        """Wait for a job submitted in this process to end; how it ended."""
        return await self.runner.wait(job_id)

    async def queue(self, actor: UserRef, where: SessionKey) -> Outcome:
        return self.reports.queue(actor, where)

    async def cancel(self, actor: UserRef, where: SessionKey, job_id: str | None = None) -> Outcome:
        return await self._answer(where, self.reports.cancel(actor, where, job_id), check_channel=False)

    async def usage(self, actor: UserRef, where: SessionKey) -> Outcome:
        return await self.reports.usage(actor, where)

    async def settings_view(self, actor: UserRef, where: SessionKey) -> Outcome:
        """/settings with no changes: the defaults in force here, layer by layer."""
        return Notice(await self.settings_desk.view(actor, where))

    async def update_settings(self, actor: UserRef, where: SessionKey, scope: str, changes: str) -> Outcome:
        """/settings <me|channel|workspace> <--flags | reset>: change one layer of defaults."""
        try:
            text = await self.settings_desk.update(actor, where, scope, changes)
        except BotError as error:
            return error_reply(error)
        return Notice(text)

    async def style(
        self,
        actor: UserRef,
        where: SessionKey,
        action: str,
        name: str,
        words: str,
        uploads: Sequence[Attachment] = (),
    ) -> Outcome:
        """`style list|save|show|words|rename|delete ...`: the house styles (bot/styles.py)."""
        return await self._answer(
            where, self.styles.command(actor, where, action, name, words, uploads), check_channel=False
        )

    async def template(
        self, actor: UserRef, where: SessionKey, action: str, words: str, *, workspace: bool = False
    ) -> Outcome:
        """`template save|list|show|rename|delete …`: prompt templates (bot.template_desk)."""
        try:
            return await self.templates.command(actor, where, action, words, workspace)
        except BotError as error:
            return error_reply(error)

    # --- outcomes owed after a restart ----------------------------------------------------------
    async def undelivered(self, platform: str, within: float = DAY) -> list[tuple[Job, Images | JobFailed]]:
        """Outcomes of the last `within` seconds that were recorded but never posted (results, and
        failure messages with their Retry button), so an adapter can deliver them after a restart
        (at least once, never lost)."""
        return await self.outcomes.undelivered(platform, within)

    async def unfinalised(self, platform: str, within: float = DAY) -> list[tuple[Job, Images | JobFailed]]:
        """Jobs of the last `within` seconds whose outcome was posted but whose status message
        was never brought to its end, with their outcomes (for the "✅ Done…" line)."""
        return await self.outcomes.unfinalised(platform, within)

    async def _answer(
        self, where: SessionKey, use_case: Coroutine[Any, Any, Outcome], *, check_channel: bool = True
    ) -> Outcome:
        """Run a use case where the bot is enabled; a refusal becomes the reply that explains it."""
        try:
            if check_channel:
                self.policy.check_channel(where)
        except BotError as error:
            use_case.close()  # never started
            return error_reply(error)
        try:
            return await use_case
        except BotError as error:
            return error_reply(error)
