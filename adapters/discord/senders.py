"""How the Discord adapter sends the core's outcomes: one sender per kind for a deferred command
(`answer`), a post in a session thread with the bot token (`post_in_thread`), and what a click
answers (`after_click`). A request handled again after a restart edits what it sent before."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, assert_never

import discord

from adapters.discord.intake import Delivery, DiscordIntake
from adapters.discord.presenter import DiscordPresenter, StatusTarget
from adapters.discord.render import render
from bot.answers import Images, JobFailed, Notice, Outcome, Problem, Queued
from bot.domain import Job, SessionKey

if TYPE_CHECKING:
    from bot.service import ImageBot

log = logging.getLogger(f"imagebot.{__name__}")


@dataclass(frozen=True)
class Answering:
    """Where the request being handled is answered, so the status line of a job it queues goes
    there when the core announces the job: a deferred command's response, or a thread."""

    delivery: Delivery | None
    interaction: discord.Interaction | None = None  # a deferred command: its response
    created: dict[str, int] | None = None  # the session thread opened for it, once opened
    thread_id: int | None = None  # else: a new message in this thread (clicks, replies, forms)
    file_limit: int | None = None


_ANSWERING: ContextVar[Answering | None] = ContextVar("imagebot_discord_answering", default=None)


@contextlib.contextmanager
def answering(where: Answering) -> Iterator[None]:
    """While the core handles a request: where a job it queues is announced."""
    token = _ANSWERING.set(where)
    try:
        yield
    finally:
        _ANSWERING.reset(token)


class OutcomeSenders:
    """The senders, mixed into DiscordAdapter (they use its bot, client, intake and presenter)."""

    bot: ImageBot
    client: discord.Client
    intake: DiscordIntake
    presenter: DiscordPresenter

    async def answer(
        self,
        interaction: discord.Interaction,
        outcome: Outcome,
        *,
        thread_id: int | None = None,
        delivery: Delivery | None = None,
    ) -> None:
        """Answer a deferred slash command with an outcome, one sender per kind.

        Handled again after a restart (`delivery.replay`), the response is edited while its token
        lives; after that the answer goes to the session thread (or channel) with the bot token."""
        channel = interaction.channel
        thread = thread_id or (channel.id if channel is not None else 0)
        match outcome:
            case Problem():
                await self._answer_problem(interaction, outcome, thread, delivery)
            case Queued():
                pass  # its status line was put here when the core announced the job
            case Notice() | Images() | JobFailed():
                await self._answer_in_place(interaction, outcome, thread, delivery)
            case _:
                assert_never(outcome)

    async def _answer_problem(
        self, interaction: discord.Interaction, problem: Problem, thread: int, delivery: Delivery | None
    ) -> None:
        """Only the person who asked needs to see what was wrong with their request."""
        replay = delivery is not None and delivery.replay
        try:
            if replay and interaction.is_expired():
                raise _TokenGone
            if interaction.response.is_done():
                await _quietly(interaction.delete_original_response())
            await interaction.followup.send(problem.text[:2000], ephemeral=True)
        except (discord.HTTPException, _TokenGone):
            if not replay:
                raise
            await self._post(thread, problem, delivery=delivery)

    async def _answer_in_place(
        self, interaction: discord.Interaction, outcome: Outcome, thread: int, delivery: Delivery | None
    ) -> discord.Message | None:
        """The deferred response edited into the outcome (private when the command was); after a
        restart, past the token's life, posted in the thread instead."""
        replay = delivery is not None and delivery.replay
        parts = await render(outcome, file_limit=interaction.filesize_limit)
        try:
            if replay and interaction.is_expired():
                raise _TokenGone
            return await interaction.edit_original_response(**parts.as_edit_kwargs())
        except (discord.HTTPException, _TokenGone):
            if not replay:
                raise
            await self._post(thread, outcome, file_limit=interaction.filesize_limit, delivery=delivery)
            return None

    async def _answer_queued(
        self, interaction: discord.Interaction, queued: Queued, thread: int, delivery: Delivery | None
    ) -> None:
        """The job's status message: the deferred response, tracked by the presenter."""
        if delivery is not None and delivery.replay and await self.bot.job_ended(queued.job.id):
            return  # its result was (or is being) delivered over the status message: leave it
        message = await self._answer_in_place(interaction, queued, thread, delivery)
        if message is None:
            return
        if delivery is not None:
            status = {"original": True, "channel": message.channel.id, "message": message.id}
            await self.intake.note(delivery, "status", status)
        self.presenter.track(
            queued.job.id,
            StatusTarget(
                thread_id=thread,
                interaction=interaction,
                channel_id=message.channel.id,
                message_id=message.id,
                file_limit=interaction.filesize_limit,
            ),
        )

    async def announce_queued(self, job: Job, queued: Queued) -> None:
        """The presenter's hook for a job's QUEUED event: its status line where the request
        that queued it is being answered (see `answering`), tracked for the job's progress."""
        where = _ANSWERING.get()
        if where is None:
            return  # not queued by a request of this adapter (none today): nothing to show it on
        if where.interaction is not None:
            channel = where.interaction.channel
            thread = (where.created or {}).get("thread") or (channel.id if channel is not None else 0)
            await self._answer_queued(where.interaction, queued, thread, where.delivery)
            return
        thread_id = where.thread_id or int(job.where.thread)
        await self._post(thread_id, queued, file_limit=where.file_limit, delivery=where.delivery)

    async def post_in_thread(
        self,
        thread_id: int,
        outcome: Outcome,
        *,
        file_limit: int | None = None,
        delivery: Delivery | None = None,
    ) -> None:
        """An outcome posted into a session thread with the bot token (clicks, thread replies);
        a queued job's status line is not: it was posted when the core announced the job."""
        if not isinstance(outcome, Queued):
            await self._post(thread_id, outcome, file_limit=file_limit, delivery=delivery)

    async def _post(
        self,
        thread_id: int,
        reply: Outcome,
        *,
        file_limit: int | None = None,
        delivery: Delivery | None = None,
    ) -> None:
        """A message in a thread with the bot token. A request handled again edits the status
        message it posted before instead of a second; a queued job's is tracked."""
        queued = reply if isinstance(reply, Queued) else None
        if (
            queued is not None
            and delivery is not None
            and delivery.replay
            and await self.bot.job_ended(queued.job.id)
        ):
            return  # its result was (or is being) delivered over the status message
        limit = file_limit or self._file_limit_of(thread_id)
        parts = await render(reply, file_limit=limit)
        status = (delivery.notes.get("status") if delivery is not None else None) or {}
        message = None
        if status.get("channel") and status.get("message"):
            earlier = self.client.get_partial_messageable(int(status["channel"]))
            try:
                message = await earlier.get_partial_message(int(status["message"])).edit(
                    **parts.as_edit_kwargs()
                )
            except discord.HTTPException as error:
                log.info("discord: the earlier status message could not be edited (%s)", error.status)
                parts = await render(reply, file_limit=limit)  # files were consumed
        if message is None:
            message = await self.client.get_partial_messageable(thread_id).send(**parts.as_send_kwargs())
            if delivery is not None and queued is not None:
                status = {"channel": message.channel.id, "message": message.id}
                await self.intake.note(delivery, "status", status)
        if queued is not None:
            self.presenter.track(
                queued.job.id,
                StatusTarget(
                    thread_id=thread_id,
                    channel_id=message.channel.id,
                    message_id=message.id,
                    file_limit=limit,
                ),
            )

    def _file_limit_of(self, channel_id: int) -> int:
        """The upload limit where there is no interaction to ask: the server's (boosts raise it)."""
        channel = self.client.get_channel(channel_id)
        guild = getattr(channel, "guild", None)
        return guild.filesize_limit if guild is not None else discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES

    async def after_click(
        self, interaction: discord.Interaction, where: SessionKey, outcome: Outcome, delivery: Delivery
    ) -> None:
        """What a click answers: a note or a refusal only for the clicker; the rest (and a note
        with buttons) in the thread."""
        match outcome:
            case Notice(buttons=()) | Problem(buttons=()):
                await self._private(interaction, outcome.text, delivery)
            case Queued():
                pass  # its status line was posted in the thread when the core announced the job
            case Notice() | Problem() | Images() | JobFailed():
                # A note with buttons (Describe's suggestions) is for everyone in the thread, as
                # on Slack: a private followup would carry the text but not the buttons.
                await self.post_in_thread(
                    int(where.thread), outcome, file_limit=interaction.filesize_limit, delivery=delivery
                )
            case _:
                assert_never(outcome)

    async def _private(self, interaction: discord.Interaction, text: str, delivery: Delivery) -> None:
        """A note only the clicker sees; handled again after a restart, it may be gone with the
        token (nothing public is worth posting instead)."""
        try:
            await interaction.followup.send(text[:2000], ephemeral=True)
        except discord.HTTPException as error:
            if not delivery.replay:
                raise
            log.info("discord: a private note could not be sent after a restart (%s)", error.status)


class _TokenGone(Exception):
    """The interaction's token has expired: answer with the bot token instead."""


async def _quietly(awaitable: Awaitable[object]) -> None:
    with contextlib.suppress(discord.HTTPException):
        await awaitable
