"""Telling waiting jobs their place in line, coalesced: at most once per interval, and only to
the jobs whose place changed since they were last told. A burst would otherwise send every
waiting job an update each time one starts: quadratic in the jobs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from bot.answers import JobUpdate, Stage
from bot.domain import Job
from bot.job_events import JobEvents

log = logging.getLogger(f"imagebot.{__name__}")

POSITION_INTERVAL = 1.0


class PlaceTeller:
    def __init__(self, events: JobEvents, queued: Mapping[str, Job]) -> None:
        self._events = events
        self._queued = queued  # the runner's waiting jobs, in order (read, never changed here)
        self.interval = POSITION_INTERVAL  # read when made, so a test can lengthen it
        self._told: dict[str, int] = {}  # job id -> the place in line it was last told
        self._due = asyncio.Event()

    def told(self, job_id: str, place: int) -> None:
        """The job heard its place some other way (its queued line)."""
        self._told[job_id] = place

    def line_moved(self) -> None:
        self._due.set()

    async def run_forever(self) -> None:
        while True:
            await self._due.wait()
            self._due.clear()
            updates = []
            for place, job in enumerate(self._queued.values(), start=1):
                if self._told.get(job.id) != place:
                    self._told[job.id] = place
                    updates.append(JobUpdate(job, Stage.QUEUED, position=place))
            for gone in [job_id for job_id in self._told if job_id not in self._queued]:
                del self._told[gone]
            try:
                await self._events.emit_all(updates)
            except Exception:  # noqa: BLE001 - a place-in-line update is never worth stopping the queue
                log.exception("telling %d waiting jobs their place failed", len(updates))
            await asyncio.sleep(self.interval)
