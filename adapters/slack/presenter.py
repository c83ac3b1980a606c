"""What the job runner reports to on Slack: job progress, results, and results still owed.

`Poster` (adapters/slack/poster.py) turns outcomes into Web API calls; `StatusBoard`
(adapters/slack/status_board.py) keeps status messages current at about one update per second
per channel (newer states replace pending ones, timers instead of sleeps); `OwedResults`
(adapters/slack/owed_results.py) delivers the results Slack did not take, until it does.

Where a job's status message lives is known in memory while this process made it, and recorded
as a post (`status:<channel>:<ts>`) so a restarted bot finds it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from adapters.slack.blocks import mrkdwn, shown
from adapters.slack.owed_results import FAILURE_EVENT, RESULT_EVENT, OwedResults
from adapters.slack.poster import NotPosted, Poster, job_metadata
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


class SlackPresenter(OwedResults):
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
