"""Job progress and results on Discord.

Each job has a status message: the deferred interaction response for slash commands, or a
message the bot posts in the thread for clicks and replies. Progress edits it (queue position,
then partial previews at most once a second); the result replaces it. The interaction token
lasts 15 minutes; after that, or for jobs resumed after a restart, results are sent into the
session thread with the bot token, so nothing is lost.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import discord

from adapters.discord.render import MessageParts, render, trim
from bot.domain import JobUpdate, Reply, Stage

log = logging.getLogger(__name__)

DEFAULT_FILE_LIMIT = discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
PLATFORM = "discord"
PARTIAL_INTERVAL = 1.0  # seconds between preview edits of one message (Discord rate limits)


RecordPost = Callable[[str, str, str], Awaitable[None]]  # (job id, platform, message ref)


@dataclass
class StatusTarget:
    thread_id: int  # where results of this job belong
    interaction: discord.Interaction | None = None  # edit its original response while the token lives
    channel_id: int | None = None  # or: a bot message to edit with the bot token
    message_id: int | None = None
    file_limit: int = DEFAULT_FILE_LIMIT
    last_partial: float = float("-inf")  # when a preview was last shown on this message


class DiscordPresenter:
    def __init__(
        self, client: discord.Client, record_post: RecordPost | None = None, clock=time.monotonic
    ) -> None:
        self.client = client
        self.record_post = record_post
        self.clock = clock
        self.targets: dict[str, StatusTarget] = {}

    def track(self, job_id: str, target: StatusTarget) -> None:
        self.targets[job_id] = target

    async def job_update(self, update: JobUpdate) -> None:
        job = update.job
        target = self.targets.get(job.id)
        if update.stage is Stage.QUEUED:
            if target is not None:
                await self._edit_status(
                    target, MessageParts(f"⏳ Job `{job.id}`: #{update.position} in line.")
                )
        elif update.stage is Stage.RUNNING:
            if target is not None:
                await self._edit_status(target, MessageParts(f"🎨 Job `{job.id}`: working on it…"))
        elif update.stage is Stage.PARTIAL and update.preview is not None:
            if target is None or self.clock() - target.last_partial < PARTIAL_INTERVAL:
                return  # drop this preview; a newer one (or the result) follows
            target.last_partial = self.clock()
            preview = discord.File(io.BytesIO(update.preview), filename=f"preview-{job.id}.png")
            await self._edit_status(
                target, MessageParts(f"🎨 Job `{job.id}`: rendering… (preview)", [preview])
            )
        elif update.result is not None:
            self.targets.pop(job.id, None)
            await self.deliver(job.id, update.result, target or StatusTarget(thread_id=int(job.where.thread)))

    async def deliver(self, job_id: str, reply: Reply, target: StatusTarget) -> None:
        """Put a finished result where it belongs (over the status message, or into the thread)
        and record where it went, so a restart knows it was delivered."""
        parts = await render(reply, file_limit=target.file_limit)
        try:
            message = None
            if target.interaction is not None and not target.interaction.is_expired():
                message = await target.interaction.edit_original_response(**parts.as_edit_kwargs())
            elif target.message_id is not None and target.channel_id is not None:
                channel = self.client.get_partial_messageable(target.channel_id)
                message = await channel.get_partial_message(target.message_id).edit(**parts.as_edit_kwargs())
        except discord.HTTPException as error:
            log.warning(
                "could not edit the status message (%s); posting the result in the thread", error.status
            )
            parts = await render(reply, file_limit=target.file_limit)  # files were consumed
            message = None
        if message is None:
            message = await self.client.get_partial_messageable(target.thread_id).send(
                **parts.as_send_kwargs()
            )
        if self.record_post is not None:
            await self.record_post(job_id, PLATFORM, f"result:{message.channel.id}:{message.id}")

    async def _edit_status(self, target: StatusTarget, parts: MessageParts) -> None:
        """Best-effort progress edit of the status message (the result is delivered regardless)."""
        kwargs: dict = {"content": trim(parts.content)}
        if parts.files:
            kwargs["attachments"] = parts.files
        try:
            if target.interaction is not None and not target.interaction.is_expired():
                await target.interaction.edit_original_response(**kwargs)
            elif target.message_id is not None and target.channel_id is not None:
                channel = self.client.get_partial_messageable(target.channel_id)
                await channel.get_partial_message(target.message_id).edit(**kwargs)
        except discord.HTTPException as error:
            log.info("progress edit failed (%s)", error.status)
