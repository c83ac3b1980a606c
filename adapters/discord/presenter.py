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
from typing import Any

import discord

from adapters.discord.render import MAX_CONTENT, MessageParts, note_line, render, trim
from bot import outbound
from bot.answers import Images, JobFailed, JobUpdate, Queued, Stage
from bot.domain import Job
from bot.records import PostKind, PostRef

log = logging.getLogger(f"imagebot.{__name__}")

DEFAULT_FILE_LIMIT = discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES
PLATFORM = "discord"
PARTIAL_INTERVAL = 1.0  # seconds between preview edits of one message (Discord rate limits)


RecordPost = Callable[[str, str, PostRef], Awaitable[None]]  # (job id, platform, where)
CONNECT_WAIT = 30.0  # seconds a result waits for the gateway after a start before it is tried
RETRY_FIRST = 2.0  # seconds before an outcome that could not be posted is tried again (doubling)
RETRY_MAX = 60.0  # …up to this interval between tries
NOTICE_AFTER = 600.0  # seconds an outcome stays unposted before its requester is told where it is
LOOK_BACK = 50  # recent thread messages searched for an earlier post of an outcome (Discord's max 100)


def nonce_for(job_id: str) -> str:
    """The nonce of the one thread post of a job's outcome (Discord: ≤ 25 characters). Sent with
    `enforce_nonce`, a repeat within Discord's few-minute window returns the first message."""
    return f"ib:o:{job_id}"[:25]


def is_post_of(message: discord.Message | dict[str, Any], job_id: str, reply: Images | JobFailed) -> bool:
    """Whether a bot message is the thread post of this job's outcome: by its nonce, or (past the
    nonce's window, where Discord does not keep it) by its content naming the image or the job."""
    if isinstance(message, dict):
        nonce, content, files = message.get("nonce"), message.get("content") or "", message.get("attachments")
    else:
        nonce, content, files = message.nonce, message.content, message.attachments
    if nonce is not None and str(nonce) == nonce_for(job_id):
        return True
    if isinstance(reply, Images):
        return bool(files) and f"`{reply.caption.short_id}`" in content
    return f"Job `{job_id}` failed" in content


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
        clock: Callable[[], float] = time.monotonic,
        restore: Callable[[Job], Awaitable[StatusTarget]] | None = None,
        announce: Callable[[Job, Queued], Awaitable[None]] | None = None,
    ) -> None:
        self.client = client
        self.record_post = record_post
        self.clock = clock
        self.restore = restore
        self.announce = announce  # shows a job just queued (its first update) where it was asked
        self.targets: dict[str, StatusTarget] = {}
        self.progress = outbound.Progress()
        self.connected = asyncio.Event()  # set by the adapter once the gateway is ready
        self._delivered: set[str] = set()  # jobs whose outcome this process has put (or is putting) somewhere
        self._retries: dict[str, asyncio.Task[None]] = {}  # outcomes owed, retried in the background
        self.retry_first = RETRY_FIRST
        self.retry_max = RETRY_MAX
        self.notice_after = NOTICE_AFTER

    def track(self, job_id: str, target: StatusTarget) -> None:
        self.targets[job_id] = target

    async def job_update(self, update: JobUpdate) -> None:
        job = update.job
        target = self.targets.get(job.id)
        if isinstance(update.result, Queued):
            if self.announce is not None:
                await self.announce(job, update.result)
        elif update.stage in (Stage.QUEUED, Stage.RUNNING):
            line = self.progress.line(update)
            if target is not None:
                await self._edit_status(target, MessageParts(line.text))
        elif update.stage is Stage.PARTIAL and update.preview is not None:
            line = self.progress.line(update)  # counted even when not shown
            if target is None or self.clock() - target.last_partial < PARTIAL_INTERVAL:
                return  # drop this preview; a newer one (or the result) follows
            target.last_partial = self.clock()
            preview = discord.File(io.BytesIO(update.preview), filename=f"preview-{job.id}.png")
            await self._edit_status(target, MessageParts(line.text, [preview]))
        elif isinstance(update.result, Images | JobFailed):
            self.progress.forget(job.id)
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
            except Exception as exc:  # noqa: BLE001 - a presenter must never die: fall back to the thread
                log.warning("job %s [discord]: its status message could not be found (%s)", job.id, exc)
        return StatusTarget(thread_id=int(job.where.thread))

    async def deliver(
        self, job_id: str, reply: Images | JobFailed, target: StatusTarget, *, catch_up: bool = False
    ) -> bool:
        """Put a finished outcome (result or failure message) where it belongs and record where it
        went, so a restart knows it was delivered. Over the status message while the interaction
        token lives (or when the status message is in the session thread); otherwise into the
        thread (once: a nonce from the job id, and after a restart a look at the thread first),
        and the status message then says so. Once per job in a process (a start-up catch-up and a
        resumed job may both try). If it cannot be posted, nothing is recorded: it is retried in
        the background (and by the next start's catch-up). True if it was delivered now."""
        if job_id in self._delivered:
            return False
        self._delivered.add(job_id)
        try:
            message = await self._put(job_id, reply, target, look_first=catch_up)
        except asyncio.CancelledError:
            self._delivered.discard(job_id)
            raise
        except Exception as error:  # noqa: BLE001 - a presenter must never die: retried in the background
            log.warning(
                "job %s [discord]: its outcome could not be posted (%s); trying again in the background",
                job_id,
                _describe(error),
            )
            self._retry_later(job_id, reply, target)
            return False
        await self._record(job_id, message)
        return True

    async def _record(self, job_id: str, message: discord.Message) -> None:
        if self.record_post is not None:
            await self.record_post(
                job_id, PLATFORM, PostRef(PostKind.RESULT, str(message.channel.id), str(message.id))
            )

    def _retry_later(self, job_id: str, reply: Images | JobFailed, target: StatusTarget) -> None:
        if job_id not in self._retries:
            task = asyncio.get_running_loop().create_task(self._keep_trying(job_id, reply, target))
            self._retries[job_id] = task
            task.add_done_callback(lambda _: self._retries.pop(job_id, None))

    async def _keep_trying(self, job_id: str, reply: Images | JobFailed, target: StatusTarget) -> None:
        """Try again with back-off while the process lives; past `notice_after`, tell the
        requester (privately, while the interaction token lives) where to find it."""
        started = self.clock()
        delay = self.retry_first
        told = False
        while True:
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max)
            try:
                message = await self._put(job_id, reply, target, look_first=True)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - the background retry must never die; it keeps trying
                log.info("job %s [discord]: still cannot post its outcome (%s)", job_id, _describe(error))
                if not told and self.clock() - started >= self.notice_after:
                    told = True
                    await self._tell_where(job_id, reply, target)
                continue
            await self._record(job_id, message)
            log.info("job %s [discord]: its outcome was posted after all", job_id)
            return

    async def _tell_where(self, job_id: str, reply: Images | JobFailed, target: StatusTarget) -> None:
        """The outcome has been unpostable for long: a private note to the requester, if the
        interaction token lives; otherwise one log line. Nothing is recorded as delivered."""
        ref = reply.caption.short_id if isinstance(reply, Images) else job_id
        text = outbound.owed_notice(
            job_id,
            where=f"in <#{target.thread_id}>",
            show_command="/show",
            short_id=ref,
            failure=None if isinstance(reply, Images) else reply.text,  # short: said here
            limit=MAX_CONTENT,
            note=note_line,
        )
        if target.interaction is not None and not target.interaction.is_expired():
            try:
                await target.interaction.followup.send(text, ephemeral=True)
                return
            except discord.HTTPException as error:
                log.info("job %s [discord]: the private note failed too (%s)", job_id, error.status)
        log.warning(
            "job %s [discord]: outcome unposted for %.0f s and its requester cannot be told (`/show %s`)",
            job_id,
            self.notice_after,
            ref,
        )

    async def close(self) -> None:
        """Stop background retries (what they owe stays owed, for the next start)."""
        for task in list(self._retries.values()):
            task.cancel()
        await asyncio.gather(*self._retries.values(), return_exceptions=True)

    async def _posted_before(
        self, job_id: str, reply: Images | JobFailed, thread_id: int
    ) -> discord.Message | None:
        """This outcome's post among the thread's recent messages (a kill after the post, before
        its record), so it is recorded rather than posted twice."""
        me = self.client.user
        channel = self.client.get_partial_messageable(thread_id)
        try:
            async for message in channel.history(limit=LOOK_BACK):
                mine = me is not None and message.author.id == me.id
                if mine and is_post_of(message, job_id, reply):
                    return message
        except discord.Forbidden as error:  # no Read Message History: the nonce alone guards it
            log.info("job %s [discord]: cannot read the thread to look for it (%s)", job_id, error.status)
        return None

    async def _put(
        self, job_id: str, reply: Images | JobFailed, target: StatusTarget, *, look_first: bool = False
    ) -> discord.Message:
        parts = await render(reply, file_limit=target.file_limit)
        in_thread = target.channel_id == target.thread_id and target.message_id is not None
        try:
            if target.interaction is not None and not target.interaction.is_expired():
                return await target.interaction.edit_original_response(**parts.as_edit_kwargs())
            if in_thread or (target.message_id is not None and not isinstance(reply, Images)):
                # A status message in the thread becomes the result; one elsewhere (a command's
                # response in the channel) becomes the failure it reports.
                if target.channel_id is None or target.message_id is None:
                    raise RuntimeError(
                        f"job {job_id}: its status message to edit has no channel or message id"
                    )
                channel = self.client.get_partial_messageable(target.channel_id)
                return await channel.get_partial_message(target.message_id).edit(**parts.as_edit_kwargs())
        except discord.HTTPException as error:
            log.warning(
                "could not edit the status message (%s); posting the result in the thread", error.status
            )
            parts = await render(reply, file_limit=target.file_limit)  # files were consumed
        earlier = await self._posted_before(job_id, reply, target.thread_id) if look_first else None
        if earlier is not None:
            log.info("job %s [discord]: its outcome was already in the thread; recording it", job_id)
            message = earlier
        else:
            channel = self.client.get_partial_messageable(target.thread_id)
            message = await channel.send(**parts.as_send_kwargs(), nonce=nonce_for(job_id))
        await self._point_to(job_id, target, message, reply)
        return message

    async def _point_to(
        self, job_id: str, target: StatusTarget, message: discord.Message, reply: Images | JobFailed
    ) -> None:
        """After a result went into the thread: the status message elsewhere says it is done."""
        if target.message_id is None or target.channel_id is None or target.message_id == message.id:
            return
        if isinstance(reply, Images):
            short_id = reply.caption.short_id if isinstance(reply, Images) else None
            done = outbound.done_line(job_id, short_id, f"in the thread <#{target.thread_id}>")
        else:
            done = trim(reply.text)
        try:
            channel = self.client.get_partial_messageable(target.channel_id)
            await channel.get_partial_message(target.message_id).edit(content=done, attachments=[], view=None)
        except discord.HTTPException as error:
            log.info("could not mark the status message done (%s)", error.status)

    async def _edit_status(self, target: StatusTarget, parts: MessageParts) -> None:
        """Best-effort progress edit of the status message (the result is delivered regardless)."""
        kwargs: dict[str, Any] = {"content": trim(parts.content)}
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


def _describe(error: BaseException) -> str:
    status = getattr(error, "status", None)
    return f"{status}" if status is not None else type(error).__name__
