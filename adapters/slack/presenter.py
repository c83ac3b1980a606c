"""What the job runner reports to on Slack: job progress, results, and results still owed.

`Poster` (adapters/slack/poster.py) turns outcomes into Web API calls; `StatusBoard`
(adapters/slack/status_board.py) keeps status messages current at about one update per second
per channel (newer states replace pending ones, timers instead of sleeps).

Where a job's status message lives is known in memory while this process made it, and recorded
as a post (`status:<channel>:<ts>`) so a restarted bot finds it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError

from adapters.slack.blocks import MAX_MESSAGE_TEXT, mrkdwn, shown
from adapters.slack.poster import NotPosted, Poster, describe_error, job_metadata, note_line, transient
from adapters.slack.status_board import StatusBoard, bounded
from adapters.slack.tasks import TaskSet
from bot import outbound
from bot.answers import Button, Images, JobFailed, JobUpdate, Queued, Stage
from bot.deliveries import DeliveryLog
from bot.domain import Job, JobStatus, Operation
from bot.records import PostKind, PostRef
from bot.replies import cancel_button

log = logging.getLogger(f"imagebot.{__name__}")

PLATFORM = "slack"
# A result Slack has not taken for this long: its requester is told privately how to get it.
OWED_NOTICE_SECONDS = 600.0
# Back-off between attempts at posting an owed result (doubling, capped).
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 60.0
# The metadata event types of the bot's result and failure messages; the payload names the job,
# so after a crash a post that went out but was not recorded is found in the thread.
RESULT_EVENT = "imagebot_result"
FAILURE_EVENT = "imagebot_failure"
OUR_EVENTS = (RESULT_EVENT, FAILURE_EVENT)


OP_TITLES: dict[Operation, str] = {
    Operation.IMAGINE: "🎨 /imagine",
    Operation.REROLL: "🔄 Reroll",
    Operation.EDIT: "✏️ Edit",
    Operation.VARY_SUBTLE: "🌱 Vary (Subtle)",
    Operation.VARY_STRONG: "🌪️ Vary (Strong)",
    Operation.UPSCALE: "🔍 Upscale",
    Operation.ZOOM_OUT: "🔭 Zoom out",
    Operation.ASPECT: "📐 Reframe",
    Operation.REMOVE_BG: "✂️ Remove background",
    Operation.UPLOAD: "📎 Upload",
    Operation.BLEND: "🧬 Blend",
}
_RANK = {
    Stage.QUEUED: 0,
    Stage.RUNNING: 1,
    Stage.PARTIAL: 2,
    Stage.DONE: 3,
    Stage.FAILED: 3,
    Stage.CANCELLED: 3,
}


class SlackPresenter:
    """Job progress in Slack: a status message per job, results and failures in the thread."""

    def __init__(
        self,
        poster: Poster,
        board: StatusBoard,
        deliveries: DeliveryLog,
        *,
        owed_notice: float = OWED_NOTICE_SECONDS,
        retry_first: float = RETRY_FIRST_SECONDS,
        retry_max: float = RETRY_MAX_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.poster = poster
        self.board = board
        self.deliveries = deliveries
        self.owed_notice = owed_notice
        self.retry_first = retry_first
        self.retry_max = retry_max
        self._clock = clock
        self._owed: dict[str, asyncio.Task[None]] = {}  # job id -> the task retrying its post
        self._tasks = TaskSet()
        self._closing = False
        # job id -> (channel, ts) of its status message, or None: known to have none.
        self._status: dict[str, tuple[str, str] | None] = {}
        # Messages posted before their job existed that are its status line (an /imagine's
        # parent): (channel, ts), claimed by the job queued in that thread.
        self._parents: dict[tuple[str, str], None] = {}
        self._rank: dict[str, int] = {}
        self.progress = outbound.Progress()

    # --- the status message of a job ------------------------------------------------------------
    def status_is(self, channel: str, ts: str) -> None:
        """The job queued next in the thread of `ts` reports on that message (an /imagine's
        parent, posted before the job existed)."""
        self._parents[(channel, ts)] = None
        bounded(self._parents)

    def forget_status(self, channel: str, ts: str) -> None:
        """No job came of it (the request was refused)."""
        self._parents.pop((channel, ts), None)

    async def _record(self, job_id: str, where: tuple[str, str] | None) -> None:
        if where is not None:
            await self.deliveries.record(job_id, PLATFORM, PostRef(PostKind.STATUS, where[0], where[1]))

    async def _find_status(self, job: Job) -> tuple[str, str] | None:
        """The job's status message: known here, or read back from what was recorded (a job this
        process did not announce: resumed after a restart, or its request handled again)."""
        job_id = job.id
        if job_id in self._status:
            return self._status[job_id]
        found = None
        for post in await self.deliveries.posts(job_id):
            if post.kind is PostKind.STATUS and post.message is not None:
                found = (post.channel, post.message)
        if found is None and job.intake_key is not None:
            # The process stopped after posting the /imagine parent (noted on its request)
            # and before recording it as the job's status message: it is that message.
            parent = (await self.deliveries.request_notes(job)).get("parent_ts")
            if parent:
                found = (job.where.channel, str(parent))
        if job_id in self._status:  # found or made while we were reading (a catch-up, say)
            return self._status[job_id]
        if found is not None:
            self._status[job_id] = found
        return found

    # --- the runner's reports -------------------------------------------------------------------
    async def job_update(self, update: JobUpdate) -> None:
        job, stage = update.job, update.stage
        rank = _RANK[stage]
        if rank < self._rank.get(job.id, -1) or (rank == 3 and self._rank.get(job.id) == 3):
            return  # an older state arriving late (or a repeat), never shown over a newer one
        self._rank[job.id] = rank
        bounded(self._rank)
        if isinstance(update.result, Queued):
            await self._announce(job, update.result, again=update.again)
            return
        line = self.progress.line(update) if rank < 3 else None
        status = await self._find_status(job)
        if line is not None:
            text = f"{status_head(job)}\n{mrkdwn(line.text)}"
            buttons = (cancel_button(job),)
            if status is not None:
                await self.board.update(status[0], status[1], text, buttons)
            elif stage is not Stage.PARTIAL:
                # No status message yet (e.g. a job resumed after a restart): post one in the thread.
                await self._post_status(job, text, buttons)
            return
        self.progress.forget(job.id)
        result = update.result
        owed = False
        try:
            if stage is Stage.DONE and isinstance(result, Images):
                await self._deliver_result(job, result)
            elif stage is Stage.FAILED and isinstance(result, JobFailed):
                await self._deliver_failure(job, result)
            elif result is not None and status is None:
                await self.poster.try_post(
                    job.where.channel, job.where.thread, mrkdwn(result.text), result.buttons
                )
        except NotPosted as error:
            log.warning("job %s [%s]: result not posted yet (%s); retrying", job.id, PLATFORM, error)
            owed = True
        if status is not None:
            text = self._owed_text(job) if owed else self._final_text(job, update, status)
            await self.board.update(status[0], status[1], text, final=True)
            if not owed:
                await self._record_final(job, status)
        self._status.pop(job.id, None)
        if owed and isinstance(result, Images | JobFailed):
            self._keep_trying(job, result)

    async def _announce(self, job: Job, queued: Queued, *, again: bool) -> None:
        """A job just queued (or `again`: its request handled again): its status line, on the
        message posted for it before it existed, on the one recorded for it, or as a new one."""
        text = f"{status_head(job)}\n{mrkdwn(queued.text)}"
        status = self._status.get(job.id)
        if status is None and (job.where.channel, job.where.thread) in self._parents:
            self.forget_status(job.where.channel, job.where.thread)
            status = self._status[job.id] = (job.where.channel, job.where.thread)
        if status is None and again:  # only a job announced before can have one recorded
            status = await self._find_status(job)
        if status is None:
            await self._post_status(job, text, queued.buttons)
            return
        await self.board.update(status[0], status[1], text, queued.buttons)
        await self._record(job.id, status)

    async def _post_status(self, job: Job, text: str, buttons: tuple[Button, ...]) -> None:
        ts = await self.poster.try_post(job.where.channel, job.where.thread, text, buttons)
        where = (job.where.channel, ts) if ts else None
        self._status[job.id] = where
        bounded(self._status)
        await self._record(job.id, where)

    async def deliver_missed(self, job: Job, result: Images | JobFailed) -> None:
        """A result a previous run stored but did not record as posted: looked for in the thread
        first (by its message metadata: it may have gone out just before the stop), else posted;
        then its status message brought to its end ("✅ Done…", not "Working on it…" forever).
        If Slack does not take it now it stays owed, retried in the background."""
        try:
            if not await self._deliver_once(job, result):
                return
        except NotPosted as error:
            log.warning("job %s [%s]: still cannot post its result: %s", job.id, PLATFORM, error)
            self._keep_trying(job, result, look=True)
            return
        await self.finish_status(job, result)

    async def _deliver_once(self, job: Job, result: Images | JobFailed, *, look: bool = True) -> bool:
        """Look for the post in the thread, else post it. False: Slack refused it for good."""
        ts, files_in = await self._find_posted(job, result) if look else (None, False)
        if ts is not None:
            log.info("job %s [%s]: its result was posted before the stop; recording it", job.id, PLATFORM)
            await self.deliveries.record(job.id, PLATFORM, PostRef(PostKind.RESULT, job.where.channel, ts))
            return True
        if files_in and job.status is not JobStatus.FAILED:
            # The upload went through just before the stop (it carries no metadata, but its
            # files are named after the result): post only the message that follows it.
            log.info("job %s [%s]: its files were uploaded before the stop; not again", job.id, PLATFORM)
            await self.deliveries.record(job.id, PLATFORM, PostRef(PostKind.UPLOAD, job.where.channel))
        if isinstance(result, JobFailed):
            return await self._deliver_failure(job, result)
        await self._deliver_result(job, result)
        return True

    async def _find_posted(
        self, job: Job, result: Images | JobFailed | None = None
    ) -> tuple[str | None, bool]:
        """(the ts of this job's result or failure message in its thread, found by metadata, or
        None; whether the result's files are already in the thread). NotPosted when Slack
        cannot be asked now (so nothing is posted twice)."""
        if not job.where.thread:
            return None, False
        views = outbound.views_to_upload(result.grid, result.images) if isinstance(result, Images) else ()
        stems = {outbound.file_stem(view.filename) for view in views}  # re-encoded: another extension
        files_in = False
        cursor: str | None = None
        try:
            while True:
                response = await self.poster.client.conversations_replies(
                    channel=job.where.channel,
                    ts=job.where.thread,
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
                for message in response.get("messages") or []:
                    metadata = message.get("metadata") or {}
                    payload = metadata.get("event_payload") or {}
                    if metadata.get("event_type") in OUR_EVENTS and payload.get("job_id") == job.id:
                        return str(message["ts"]), True
                    files = message.get("files") or []
                    if stems and any(outbound.file_stem(str(f.get("name") or "")) in stems for f in files):
                        files_in = True
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    return None, files_in
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            if transient(error):
                raise NotPosted(describe_error(error)) from None
            # Cannot look (no history scope, thread gone): posting is the only way to deliver.
            log.warning(
                "job %s [%s]: could not look for its result in the thread: %s",
                job.id,
                PLATFORM,
                describe_error(error),
            )
            return None, False

    def _keep_trying(self, job: Job, result: Images | JobFailed, *, look: bool = False) -> None:
        if self._closing or job.id in self._owed:
            return  # while stopping, the next start's catch-up delivers it
        self._owed[job.id] = self._tasks.spawn(self._retry(job, result, look), name=f"slack-owed-{job.id}")

    async def _retry(self, job: Job, result: Images | JobFailed, look: bool) -> None:
        """Post an owed result with back-off until Slack takes it; after `owed_notice` seconds
        tell the requester privately how to get it meanwhile. `look`: look for it in the thread
        before each attempt (owed since before a restart; a result this process failed to post
        is known not to be there, and conversations.replies may be limited to 1 call a minute)."""
        try:
            notice_at = self._clock() + self.owed_notice
            told = False
            delay = self.retry_first
            while True:
                wait = delay if told else min(delay, max(notice_at - self._clock(), 0.0))
                await asyncio.sleep(wait)  # back-off between attempts
                if not told and self._clock() >= notice_at:
                    told = await self._tell_owed(job, result)
                    if not told:
                        notice_at = self._clock() + delay  # telling failed too: again later
                    if wait < delay:
                        continue  # the notice came first; the attempt is still due
                delay = min(delay * 2, self.retry_max)
                try:
                    refused = not await self._deliver_once(job, result, look=look)
                except NotPosted as error:
                    log.info("job %s [%s]: result still not posted (%s)", job.id, PLATFORM, error)
                    continue
                if refused:
                    return
                log.info("job %s [%s]: owed result posted", job.id, PLATFORM)
                await self.finish_status(job, result)
                return
        finally:
            self._owed.pop(job.id, None)

    async def _tell_owed(self, job: Job, result: Images | JobFailed) -> bool:
        text = outbound.owed_notice(
            job.id,
            where="here",
            show_command="/imagebot show",
            short_id=result.caption.short_id if isinstance(result, Images) else None,
            failure=mrkdwn(result.text) if isinstance(result, JobFailed) else None,
            limit=MAX_MESSAGE_TEXT,
            note=note_line,
        )
        kwargs: dict[str, Any] = {"channel": job.where.channel, "user": job.requester.id, "text": text}
        if job.where.thread:
            kwargs["thread_ts"] = job.where.thread
        try:
            await self.poster.client.chat_postEphemeral(**kwargs)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            log.warning(
                "job %s [%s]: could not tell its requester: %s", job.id, PLATFORM, describe_error(error)
            )
            return False
        return True

    async def finish_status(self, job: Job, result: Images | JobFailed) -> None:
        """Bring a finished job's status message to its end ("✅ Done…", "❌ …"), and record that
        it was, so a restart in between does not leave it at "Working on it…"."""
        status = await self._find_status(job)
        if status is not None:
            stage = Stage.FAILED if job.status is JobStatus.FAILED else Stage.DONE
            text = self._final_text(job, JobUpdate(job=job, stage=stage, result=result), status)
            await self.board.update(status[0], status[1], text, final=True)
            await self._record_final(job, status)
        self._status.pop(job.id, None)

    async def _record_final(self, job: Job, status: tuple[str, str]) -> None:
        try:
            await self.deliveries.record(job.id, PLATFORM, PostRef(PostKind.FINAL, status[0], status[1]))
        except Exception as error:  # noqa: BLE001 - the status is right on Slack; a restart would only redo it
            log.warning("job %s [%s]: could not record its final status: %s", job.id, PLATFORM, error)

    async def close(self) -> None:
        """Stop retrying owed posts (the next start's catch-up delivers them)."""
        self._closing = True
        for task in list(self._owed.values()):
            task.cancel()  # a post cut short is found by its metadata at the next start
        if len(self._tasks):
            await self._tasks.drain(5.0)

    async def _deliver_failure(self, job: Job, failure: JobFailed) -> bool:
        """The failure message (with its Retry button) in the thread, once; recorded as posted
        only when it was, so a restart sends one that never went out. False when Slack refused it
        for good; NotPosted when it did not take it for now."""
        posts = await self.deliveries.posts(job.id)
        if any(post.kind is PostKind.RESULT for post in posts):
            return True
        ts = await self.poster.owed_post(
            job.where.channel,
            job.where.thread,
            mrkdwn(failure.text),
            failure.buttons,
            metadata=job_metadata(FAILURE_EVENT, job.id),
        )
        if ts is None:
            return False
        await self.deliveries.record(job.id, PLATFORM, PostRef(PostKind.RESULT, job.where.channel, ts))
        return True

    async def _deliver_result(self, job: Job, result: Images) -> None:
        """Upload the result and post its buttons (the message carrying its metadata), and record
        it as posted; NotPosted (nothing recorded as delivered) when Slack did not take it."""
        posts = await self.deliveries.posts(job.id)
        if any(post.kind is PostKind.RESULT for post in posts):
            log.info("job %s [%s] result already posted; not posting again", job.id, PLATFORM)
            return
        channel = job.where.channel

        async def uploaded() -> None:
            # The files are in: a retry (or the next start) posts only the message after them.
            await self.deliveries.record(job.id, PLATFORM, PostRef(PostKind.UPLOAD, channel))

        ts = await self.poster.images(
            result,
            channel,
            job.where.thread,
            metadata=job_metadata(RESULT_EVENT, job.id),
            uploaded=uploaded,
            skip_upload=any(post.kind is PostKind.UPLOAD for post in posts),
        )
        await self.deliveries.record(job.id, PLATFORM, PostRef(PostKind.RESULT, channel, ts))

    @staticmethod
    def _owed_text(job: Job) -> str:
        return f"{status_head(job)}\n📤 Finished · job `{job.id}` — Slack is not taking the result right now; I keep trying."

    def _final_text(self, job: Job, update: JobUpdate, status: tuple[str, str]) -> str:
        where = "in the thread" if status[1] == job.where.thread else "below"
        return f"{status_head(job)}\n{mrkdwn(self.progress.line(update, where=where).text)}"


def status_head(job: Job) -> str:
    title = OP_TITLES.get(job.spec.operation, job.spec.operation.value)
    return f"{title} by *{shown(job.requester.label, 80)}*: “{shown(job.spec.prompt, 150)}”"
