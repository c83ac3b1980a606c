"""A presenter for benchmarks: remembers each job's last update and lets a run wait for it."""

from __future__ import annotations

import asyncio

from bot.answers import JobUpdate, Stage


class Waiter:
    def __init__(self) -> None:
        self.done: dict[str, asyncio.Event] = {}
        self.results: dict[str, JobUpdate] = {}

    async def job_update(self, update: JobUpdate) -> None:
        if update.stage in (Stage.DONE, Stage.FAILED):
            self.results[update.job.id] = update
            self.done.setdefault(update.job.id, asyncio.Event()).set()

    async def wait(self, job_id: str) -> JobUpdate:
        await self.done.setdefault(job_id, asyncio.Event()).wait()
        return self.results[job_id]
