"""Job progress and results on Discord.

Each job has a status message: the deferred interaction response for slash commands, or a
message the bot posts in the thread for clicks and replies. Progress edits it (queue position,
then partial previews at most once a second); the result replaces it. The interaction token
lasts 15 minutes; after that, results are sent into the session thread with the bot token and
the status message (edited with the bot token) says where, so it never stays at "working on
it…". For a job this process did not start (a restart), the status message is found again from
the request's notes (`restore`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import discord

from adapters.discord.render import MessageParts, render, trim
from bot.domain import Job, JobUpdate, Reply, Stage

log = logging.getLogger(__name__)

DEFAULT_FILE_LIMIT = discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
PLATFORM = "discord"
PARTIAL_INTERVAL = 1.0  # seconds between preview edits of one message (Discord rate limits)


RecordPost = Callable[[str, str, str], Awaitable[None]]  # (job id, platform, message ref)
CONNECT_WAIT = 30.0  # seconds a result waits for the gateway after a start before it is tried


def _has_images(reply: Reply) -> bool:
    return bool(reply.images or reply.grid)


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
        self,
        client: discord.Client,
        record_post: RecordPost | None = None,
        clock=time.monotonic,
        restore: Callable[[Job], Awaitable[StatusTarget]] | None = None,
    ) -> None:
        self.client = client
        self.record_post = record_post
        self.clock = clock
        self.restore = restore
        self.targets: dict[str, StatusTarget] = {}
        self.connected = asyncio.Event()  # set by the adapter once the gateway is ready
        self._delivered: set[str] = set()  # jobs whose result this process has put somewhere

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
            if target is None:
                # Resumed after a restart: the result waits for the gateway (briefly), and the
                # status message is found from the request's notes.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.connected.wait(), CONNECT_WAIT)
                target = await self._restored(job)
            await self.deliver(job.id, update.result, target)

    async def _restored(self, job: Job) -> StatusTarget:
        if self.restore is not None:
            try:
                return await self.restore(job)
            except Exception as exc:
                log.warning("job %s [discord]: its status message could not be found (%s)", job.id, exc)
        return StatusTarget(thread_id=int(job.where.thread))

    async def deliver(self, job_id: str, reply: Reply, target: StatusTarget) -> None:
        """Put a finished result where it belongs and record where it went, so a restart knows
        it was delivered. Over the status message while the interaction token lives (or when
        the status message is in the session thread); otherwise into the thread, and the status
        message then says so. Once per job in a process (a start-up catch-up and a resumed job
        may both try)."""
        if job_id in self._delivered:
            return
        self._delivered.add(job_id)
        try:
            message = await self._put(reply, target)
        except BaseException:
            self._delivered.discard(job_id)
            raise
        if self.record_post is not None:
            await self.record_post(job_id, PLATFORM, f"result:{message.channel.id}:{message.id}")

    async def _put(self, reply: Reply, target: StatusTarget) -> discord.Message:
        parts = await render(reply, file_limit=target.file_limit)
        in_thread = target.channel_id == target.thread_id and target.message_id is not None
        try:
            if target.interaction is not None and not target.interaction.is_expired():
                return await target.interaction.edit_original_response(**parts.as_edit_kwargs())
            if in_thread or (target.message_id is not None and not _has_images(reply)):
                # A status message in the thread becomes the result; one elsewhere (a command's
                # response in the channel) becomes the failure it reports.
                assert target.channel_id is not None and target.message_id is not None
                channel = self.client.get_partial_messageable(target.channel_id)
                return await channel.get_partial_message(target.message_id).edit(**parts.as_edit_kwargs())
        except discord.HTTPException as error:
            log.warning(
                "could not edit the status message (%s); posting the result in the thread", error.status
            )
            parts = await render(reply, file_limit=target.file_limit)  # files were consumed
        message = await self.client.get_partial_messageable(target.thread_id).send(**parts.as_send_kwargs())
        await self._point_to(target, message, reply)
        return message

    async def _point_to(self, target: StatusTarget, message: discord.Message, reply: Reply) -> None:
        """After a result went into the thread: the status message elsewhere says it is done."""
        if target.message_id is None or target.channel_id is None or target.message_id == message.id:
            return
        if _has_images(reply):
            done = f"✅ Done — the result is in the thread <#{target.thread_id}>."
        else:
            done = trim(reply.text)
        try:
            channel = self.client.get_partial_messageable(target.channel_id)
            await channel.get_partial_message(target.message_id).edit(content=done, attachments=[], view=None)
        except discord.HTTPException as error:
            log.info("could not mark the status message done (%s)", error.status)

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
