"""Everything the Slack adapter says: posts, ephemerals, uploads, and job progress.

`Poster` turns core `Reply`s into Web API calls; `StatusBoard` keeps status messages current at
about one update per second per channel (newer states replace pending ones, timers instead of
sleeps); `SlackPresenter` is what the job runner reports to.

Where a job's status message lives is known in memory while this process made it, and recorded
as a post (`status:<channel>:<ts>`) so a restarted bot finds it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.blocks import MAX_MESSAGE_TEXT, message_blocks, mrkdwn, one_line, shown, trim
from adapters.slack.errors import slack_error
from adapters.slack.tasks import TaskSet
from bot import imaging
from bot.domain import Button, Job, JobStatus, JobUpdate, Operation, Reply, Stage
from storage.store import Store

log = logging.getLogger(__name__)

PLATFORM = "slack"
# Slack's documented per-file maximum; larger results are re-encoded to fit (imaging.fit_under).
DEFAULT_MAX_UPLOAD_BYTES = 1024 * 1024 * 1024

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
}
_RANK = {
    Stage.QUEUED: 0,
    Stage.RUNNING: 1,
    Stage.PARTIAL: 2,
    Stage.DONE: 3,
    Stage.FAILED: 3,
    Stage.CANCELLED: 3,
}


def _bounded(mapping: dict[Any, Any], limit: int = 5000) -> None:
    if len(mapping) > limit:
        for key in list(mapping)[: limit // 2]:
            del mapping[key]


class Poster:
    """Core replies as Slack messages. Text arguments are already mrkdwn."""

    def __init__(self, client: AsyncWebClient, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> None:
        self.client = client
        self.max_upload_bytes = max_upload_bytes

    async def post(
        self, channel: str, thread_ts: str | None, text: str, buttons: Sequence[Button] = ()
    ) -> str:
        """chat.postMessage (into the thread when thread_ts is given); returns the ts.
        Raises SlackApiError; the client has already retried 429s and 5xx."""
        kwargs: dict[str, Any] = {"channel": channel, "text": trim(text, MAX_MESSAGE_TEXT)}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if buttons:
            kwargs["blocks"] = message_blocks(text, buttons)
        response = await self.client.chat_postMessage(**kwargs)
        return str(response["ts"])

    async def try_post(
        self, channel: str, thread_ts: str | None, text: str, buttons: Sequence[Button] = ()
    ) -> str | None:
        try:
            return await self.post(channel, thread_ts, text, buttons)
        except SlackApiError as error:
            log.warning("chat.postMessage to %s failed: %s", channel, slack_error(error))
            return None

    async def update(self, channel: str, ts: str, text: str, buttons: Sequence[Button] = ()) -> None:
        await self.client.chat_update(
            channel=channel, ts=ts, text=trim(text, MAX_MESSAGE_TEXT), blocks=message_blocks(text, buttons)
        )

    async def delete(self, channel: str, ts: str) -> None:
        try:
            await self.client.chat_delete(channel=channel, ts=ts)
        except SlackApiError as error:
            log.warning("chat.delete in %s failed: %s", channel, slack_error(error))

    async def ephemeral(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        response_url: str | None = None,
    ) -> None:
        """A message only `user` sees; through response_url when the bot cannot post here
        (e.g. a channel it was not invited to)."""
        text = trim(text, MAX_MESSAGE_TEXT)
        kwargs: dict[str, Any] = {"channel": channel, "user": user, "text": text}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        try:
            await self.client.chat_postEphemeral(**kwargs)
            return
        except SlackApiError as error:
            reason = slack_error(error)
            if not response_url:
                log.warning("chat.postEphemeral in %s failed: %s", channel, reason)
                return
        response = await AsyncWebhookClient(response_url).send(text=text, response_type="ephemeral")
        if response.status_code != 200:
            log.warning("ephemeral reply failed (%s, then response_url %s)", reason, response.status_code)

    async def images(self, reply: Reply, channel: str, thread_ts: str) -> str | None:
        """Upload a reply's images into the thread (the grid for a set, else the images), then
        post its buttons as a separate message; returns that message's ts."""
        views = [reply.grid] if reply.grid is not None else list(reply.images)
        notes = list(reply.notes)
        uploads = []
        for view in views:
            try:
                fitted = await asyncio.to_thread(
                    imaging.fit_under, view.data, view.mime, self.max_upload_bytes
                )
            except ValueError:
                notes.append(f"{view.filename} is too large to upload here even re-encoded.")
                continue
            filename = view.filename
            if fitted.reencoded:
                filename = f"{filename.rsplit('.', 1)[0]}.{fitted.extension}"
            if fitted.note:
                notes.append(fitted.note)
            prompt = reply.caption.prompt if reply.caption else reply.text
            uploads.append(
                {
                    "file": fitted.data,
                    "filename": filename,
                    "title": filename,
                    "alt_txt": one_line(prompt, 1000),
                }
            )
        comment = mrkdwn(reply.text) + "".join(f"\n_{mrkdwn(note)}_" for note in notes)
        if uploads:
            try:
                await self.client.files_upload_v2(
                    channel=channel, thread_ts=thread_ts, file_uploads=uploads, initial_comment=comment
                )
            except SlackApiError as error:
                log.warning("files_upload_v2 to %s failed: %s", channel, slack_error(error))
                await self.try_post(
                    channel, thread_ts, f"{comment}\n⚠️ Slack refused the upload ({slack_error(error)})."
                )
        else:
            await self.try_post(channel, thread_ts, comment)
        if not reply.buttons:
            return None
        target = f" for `{reply.caption.short_id}`" if reply.caption else ""
        return await self.try_post(channel, thread_ts, f"What next{target}?", reply.buttons)


@dataclass
class _Pending:
    text: str
    buttons: tuple[Button, ...]


class StatusBoard:
    """Status-message updates, at most about one per `interval` per channel.

    A non-final update that comes too soon waits as the message's pending state (a newer one
    replaces it) and a timer sends it when the channel's window opens; a final update (done,
    failed, cancelled) goes at once and drops whatever was pending for that message.
    """

    def __init__(
        self,
        send: Callable[[str, str, str, Sequence[Button]], Awaitable[None]],
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send_fn = send
        self.interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._pending: dict[str, dict[str, _Pending]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._final: dict[tuple[str, str], None] = {}  # an ordered set of finished messages
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._tasks = TaskSet()
        self._closing = False

    async def update(
        self, channel: str, ts: str, text: str, buttons: Sequence[Button] = (), *, final: bool = False
    ) -> None:
        key = (channel, ts)
        payload = _Pending(text, tuple(buttons))
        if final:
            self._final[key] = None
            _bounded(self._final)
            self._pending.get(channel, {}).pop(ts, None)
            await self._send(key, payload, final=True)
            return
        if key in self._final:
            return
        pending = self._pending.setdefault(channel, {})
        wait = self._last.get(channel, float("-inf")) + self.interval - self._clock()
        if wait <= 0 and not pending and channel not in self._timers:
            await self._send(key, payload, final=False)
            return
        pending[ts] = payload
        self._arm(channel, max(wait, 0.0))

    def _arm(self, channel: str, delay: float) -> None:
        if channel in self._timers or self._closing:
            return
        loop = asyncio.get_running_loop()
        self._timers[channel] = loop.call_later(delay, self._fire, channel)

    def _fire(self, channel: str) -> None:
        self._timers.pop(channel, None)
        if not self._closing:
            self._tasks.spawn(self._flush(channel), name=f"slack-status-{channel}")

    async def _flush(self, channel: str) -> None:
        pending = self._pending.get(channel)
        if not pending:
            return
        ts = next(iter(pending))
        payload = pending.pop(ts)
        await self._send((channel, ts), payload, final=False)
        if pending:
            self._arm(channel, self.interval)

    async def _send(self, key: tuple[str, str], payload: _Pending, *, final: bool) -> None:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if not final and key in self._final:
                return  # a final state was shown meanwhile; never go back from it
            self._last[key[0]] = self._clock()
            try:
                await self._send_fn(key[0], key[1], payload.text, payload.buttons)
            except SlackApiError as error:
                log.warning("status update in %s failed: %s", key[0], slack_error(error))
        if final:
            self._locks.pop(key, None)

    async def close(self) -> None:
        """Drop pending updates and wait for the ones being sent (final updates still work)."""
        self._closing = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._pending.clear()
        await self._tasks.drain(5.0)


class SlackPresenter:
    """Job progress in Slack: a status message per job, results and failures in the thread."""

    def __init__(
        self, poster: Poster, board: StatusBoard, store: Store, *, status_wait: float = 30.0
    ) -> None:
        self.poster = poster
        self.board = board
        self.store = store
        self.status_wait = status_wait
        # job id -> (channel, ts) of its status message, or None: known to have none.
        self._status: dict[str, tuple[str, str] | None] = {}
        # job id -> the status message being posted right now (see reserve()).
        self._waiting: dict[str, asyncio.Future[tuple[str, str] | None]] = {}
        self._rank: dict[str, int] = {}
        self._partials: dict[str, int] = {}

    # --- the status message of a job ------------------------------------------------------------
    def reserve(self, job_id: str) -> None:
        """Say a status message for `job_id` is about to be posted, so updates that arrive first
        wait for it instead of posting a second one. Call it with no await between the core call
        that queued the job and this line."""
        if job_id not in self._waiting and self._status.get(job_id) is None:
            self._waiting[job_id] = asyncio.get_running_loop().create_future()

    def _resolve(self, job_id: str, where: tuple[str, str] | None) -> None:
        self._status[job_id] = where
        _bounded(self._status)
        waiting = self._waiting.pop(job_id, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(where)

    async def _record(self, job_id: str, where: tuple[str, str] | None) -> None:
        if where is not None:
            await self.store.jobs.record_post(job_id, PLATFORM, f"status:{where[0]}:{where[1]}")

    async def _find_status(self, job: Job) -> tuple[str, str] | None:
        job_id = job.id
        while True:
            if job_id in self._status:
                return self._status[job_id]
            waiting = self._waiting.get(job_id)
            if waiting is not None:
                try:
                    return await asyncio.wait_for(asyncio.shield(waiting), self.status_wait)
                except TimeoutError:
                    return None
            found = None
            for ref in await self.store.jobs.posts(job_id):
                kind, _, rest = ref.partition(":")
                if kind == "status":
                    channel, _, ts = rest.partition(":")
                    found = (channel, ts)
            if found is None and job.intake_key is not None:
                # The process stopped after posting the /imagine parent (noted on its request)
                # and before recording it as the job's status message: it is that message.
                row = await self.store.intake.get(job.intake_key)
                parent = row.notes.get("parent_ts") if row is not None else None
                if parent:
                    found = (job.where.channel, str(parent))
            if job_id in self._status or job_id in self._waiting:
                continue  # someone else found or made it while we were reading
            if found is not None:
                self._status[job_id] = found
                return found
            return None

    async def queued(
        self, reply: Reply, channel: str, thread_ts: str, *, status_ts: str | None = None
    ) -> None:
        """Show a job the core just queued: update `status_ts` (an /imagine parent message) or
        post a status message in the thread. Call reserve() first when posting."""
        assert reply.job_id is not None
        job_id = reply.job_id
        if status_ts is not None:
            self._resolve(job_id, (channel, status_ts))
        job = await self.store.jobs.get(job_id)
        head = status_head(job) if job else ""
        text = f"{head}\n{mrkdwn(reply.text)}" if head else mrkdwn(reply.text)
        if status_ts is None:
            ts = await self.poster.try_post(channel, thread_ts, text, reply.buttons)
            where = (channel, ts) if ts else None
            self._resolve(job_id, where)
        else:
            where = (channel, status_ts)
            if self._rank.get(job_id, -1) < 0:  # the runner has not reported anything newer yet
                await self.board.update(channel, status_ts, text, reply.buttons)
        await self._record(job_id, where)

    # --- the runner's reports -------------------------------------------------------------------
    async def job_update(self, update: JobUpdate) -> None:
        job, stage = update.job, update.stage
        rank = _RANK[stage]
        if rank < self._rank.get(job.id, -1) or (rank == 3 and self._rank.get(job.id) == 3):
            return  # an older state arriving late (or a repeat), never shown over a newer one
        self._rank[job.id] = rank
        _bounded(self._rank)
        if stage is Stage.PARTIAL:
            self._partials[job.id] = self._partials.get(job.id, 0) + 1
        status = await self._find_status(job)
        if rank < 3:
            text = f"{status_head(job)}\n{self._progress_line(update)}"
            buttons = (Button("cancel", job.id, "Cancel", style="danger"),)
            if status is not None:
                await self.board.update(status[0], status[1], text, buttons)
            elif stage is not Stage.PARTIAL and job.id not in self._waiting:
                # No status message yet (e.g. a job resumed after a restart): post one in the thread.
                self.reserve(job.id)
                ts = await self.poster.try_post(job.where.channel, job.where.thread, text, buttons)
                where = (job.where.channel, ts) if ts else None
                self._resolve(job.id, where)
                await self._record(job.id, where)
            return
        self._partials.pop(job.id, None)
        result = update.result
        if stage is Stage.DONE and result is not None:
            await self._deliver_result(job, result)
        elif result is not None and stage is Stage.FAILED:
            await self._deliver_failure(job, result)
        elif result is not None and status is None:
            await self.poster.try_post(
                job.where.channel, job.where.thread, mrkdwn(result.text), result.buttons
            )
        if status is not None:
            await self.board.update(status[0], status[1], self._final_text(job, update, status), final=True)
        self._status.pop(job.id, None)

    async def deliver_missed(self, job: Job, result: Reply) -> None:
        """A result a previous run stored but did not post (best effort: it is retried next start),
        and its status message brought to its end ("✅ Done…", not "Working on it…" forever)."""
        failed = job.status is JobStatus.FAILED
        try:
            if failed:
                if not await self._deliver_failure(job, result):
                    return
            else:
                await self._deliver_result(job, result)
        except SlackApiError as error:
            log.warning("job %s [%s]: still cannot post its result: %s", job.id, PLATFORM, slack_error(error))
            return
        status = await self._find_status(job)
        if status is not None:
            stage = Stage.FAILED if failed else Stage.DONE
            text = self._final_text(job, JobUpdate(job=job, stage=stage, result=result), status)
            await self.board.update(status[0], status[1], text, final=True)
        self._status.pop(job.id, None)

    async def _deliver_failure(self, job: Job, failure: Reply) -> bool:
        """The failure message (with its Retry button) in the thread, once; recorded as posted
        only when it was, so a restart sends one that never went out."""
        refs = await self.store.jobs.posts(job.id)
        if any(ref.startswith("result:") for ref in refs):
            return True
        ts = await self.poster.try_post(
            job.where.channel, job.where.thread, mrkdwn(failure.text), failure.buttons
        )
        if ts is None:
            return False
        await self.store.jobs.record_post(job.id, PLATFORM, f"result:{job.where.channel}:{ts}")
        return True

    async def _deliver_result(self, job: Job, result: Reply) -> None:
        refs = await self.store.jobs.posts(job.id)
        if any(ref.startswith("result:") for ref in refs):
            log.info("job %s [%s] result already posted; not posting again", job.id, PLATFORM)
            return
        ts = await self.poster.images(result, job.where.channel, job.where.thread)
        await self.store.jobs.record_post(job.id, PLATFORM, f"result:{job.where.channel}:{ts or '-'}")

    def _progress_line(self, update: JobUpdate) -> str:
        job_id = update.job.id
        if update.stage is Stage.QUEUED:
            return f"⏳ #{update.position} in line · job `{job_id}`"
        if update.stage is Stage.PARTIAL:
            count = self._partials.get(job_id, 1)
            return f"🖌️ Working on it… (preview {count} received) · job `{job_id}`"
        return f"🖌️ Working on it… · job `{job_id}`"

    @staticmethod
    def _final_text(job: Job, update: JobUpdate, status: tuple[str, str]) -> str:
        head = status_head(job)
        where = "in the thread" if status[1] == job.where.thread else "below"
        result = update.result
        if update.stage is Stage.DONE:
            ident = f" `{result.caption.short_id}`" if result and result.caption else ""
            return f"{head}\n✅ Done{ident} · job `{job.id}` — the result is {where}."
        if update.stage is Stage.FAILED:
            reason = mrkdwn(result.text) if result else f"❌ Job `{job.id}` failed."
            return f"{head}\n{reason}"
        return f"{head}\n🚫 Cancelled · job `{job.id}`"


def status_head(job: Job) -> str:
    title = OP_TITLES.get(job.spec.operation, job.spec.operation.value)
    return f"{title} by *{shown(job.requester.label, 80)}*: “{shown(job.spec.prompt, 150)}”"
