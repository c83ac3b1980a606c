"""What adapters write down and read back about their own posts, so nothing is posted twice.

Where a platform posted a job's messages (its status line, its files, its result) and what
handling the request that made it noted on the way: after a restart an adapter reads these back
instead of posting again.
"""

from __future__ import annotations

from typing import Any

from bot.domain import Job
from bot.ports import IntakeRepository, JobRepository
from bot.records import IntakeRow, PostRef


class DeliveryLog:
    def __init__(self, jobs: JobRepository, intake: IntakeRepository) -> None:
        self._jobs = jobs
        self._intake = intake

    async def record(self, job_id: str, platform: str, post: PostRef) -> None:
        await self._jobs.record_post(job_id, platform, post)

    async def posts(self, job_id: str) -> list[PostRef]:
        """A job's posts, oldest first."""
        return await self._jobs.posts(job_id)

    async def request(self, job: Job) -> IntakeRow | None:
        """The stored request that made `job` (its kind, payload and notes), if it is kept."""
        return await self._intake.get(job.intake_key) if job.intake_key else None

    async def request_notes(self, job: Job) -> dict[str, Any]:
        """What handling the request that made `job` noted (e.g. the message it posted first)."""
        row = await self.request(job)
        return dict(row.notes) if row is not None else {}
