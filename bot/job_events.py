"""Job updates on their way to presenters: to the presenter of each job's platform, one at a time
per job, in the order they were made (so the status line a QUEUED update posts exists before a
RUNNING update edits it: no adapter needs a guard for that)."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from bot.answers import JobUpdate, Stage
from bot.domain import Job

log = logging.getLogger(f"imagebot.{__name__}")

_LAST = (Stage.DONE, Stage.FAILED, Stage.CANCELLED)


class Presenter(Protocol):
    """What an adapter registers to hear about its platform's jobs."""

    async def job_update(self, update: JobUpdate) -> None: ...


class JobEvents:
    def __init__(self) -> None:
        self._presenters: dict[str, Presenter] = {}
        self._sending: dict[str, asyncio.Lock] = {}  # job id -> its updates, one at a time

    def register(self, platform: str, presenter: Presenter) -> None:
        self._presenters[platform] = presenter

    async def emit(self, update: JobUpdate) -> None:
        presenter = self._presenters.get(update.job.where.platform)
        if presenter is None:
            return
        job_id = update.job.id
        # Taken without yielding when free: an update emitted before the job's task runs is
        # through before anything that task reports.
        lock = self._sending.setdefault(job_id, asyncio.Lock())
        try:
            async with lock:
                await presenter.job_update(update)
        except Exception:
            # A presenter failing (e.g. a platform outage) must never lose or break the job.
            log.exception("presenter failed on job %s [%s]", job_id, update.job.where.platform)
        finally:
            if update.stage in _LAST:
                self._sending.pop(job_id, None)  # its last update: nothing follows it

    async def emit_all(self, updates: list[JobUpdate]) -> None:
        for update in updates:
            await self.emit(update)


class Progress:
    """Handed to a running job so it can report partial previews."""

    def __init__(self, events: JobEvents, job: Job) -> None:
        self._events = events
        self._job = job

    async def partial(self, preview: bytes) -> None:
        await self._events.emit(JobUpdate(self._job, Stage.PARTIAL, preview=preview))
