"""Results Slack has not taken yet ("owed"), delivered again until it does.

A result is owed when posting it failed for now (Slack down, rate limited), or when a previous run
stored it but did not record it as posted. An owed result is looked for in its thread first (by
its message metadata: it may have gone out just before a stop), else posted again with back-off;
after a while its requester is told privately how to get it meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError

from adapters.slack.blocks import MAX_MESSAGE_TEXT, mrkdwn
from adapters.slack.poster import NotPosted, Poster, describe_error, note_line, transient
from adapters.slack.tasks import TaskSet
from adapters.slack.users import PLATFORM
from bot import outbound
from bot.answers import Images, JobFailed
from bot.deliveries import DeliveryLog
from bot.domain import Job, JobStatus
from bot.records import PostKind, PostRef

log = logging.getLogger(f"imagebot.{__name__}")

# The metadata event types of the bot's result and failure messages; the payload names the job,
# so after a crash a post that went out but was not recorded is found in the thread.
RESULT_EVENT = "imagebot_result"
FAILURE_EVENT = "imagebot_failure"
OUR_EVENTS = (RESULT_EVENT, FAILURE_EVENT)


class OwedResults:
    """The owed-results half of `SlackPresenter` (adapters/slack/presenter.py), which provides
    the parts declared here."""

    poster: Poster
    deliveries: DeliveryLog
    owed_notice: float  # seconds until the requester is told privately
    retry_first: float  # the back-off between attempts: first, doubling up to retry_max
    retry_max: float
    _clock: Callable[[], float]
    _owed: dict[str, asyncio.Task[None]]  # job id -> the task retrying its post
    _tasks: TaskSet
    _closing: bool  # stopping: no new retries (the next start's catch-up delivers them)

    # SlackPresenter's own: post a result or a failure once (recorded); end a job's status message.
    _deliver_result: Callable[[Job, Images], Awaitable[None]]
    _deliver_failure: Callable[[Job, JobFailed], Awaitable[bool]]
    finish_status: Callable[[Job, Images | JobFailed], Awaitable[None]]

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
