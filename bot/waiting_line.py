"""The jobs waiting for a slot, in submission order, counted per requester.

A person's jobs being recorded count as waiting too, so two requests at once cannot both take
the last place in that person's queue.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator

from bot.domain import Job


class WaitingLine:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}  # in submission order
        self._waiting_by: collections.Counter[str] = collections.Counter()  # requester key -> waiting
        self._recording_by: collections.Counter[str] = (
            collections.Counter()
        )  # requester key -> being recorded

    def __contains__(self, job_id: object) -> bool:
        return job_id in self.jobs

    def __bool__(self) -> bool:
        return bool(self.jobs)

    def add(self, job: Job) -> None:
        if job.id not in self.jobs:
            self.jobs[job.id] = job
            self._waiting_by[job.requester.key] += 1

    def remove(self, job_id: str) -> Job | None:
        job = self.jobs.pop(job_id, None)
        if job is not None:
            self._waiting_by[job.requester.key] -= 1
        return job

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def position(self, job_id: str) -> int | None:
        """1 for the next job to start; None for a job not waiting."""
        if job_id not in self.jobs:
            return None
        if job_id == next(reversed(self.jobs)):  # the job just submitted: no need to count
            return len(self.jobs)
        return list(self.jobs).index(job_id) + 1

    def waiting_of(self, requester_key: str) -> int:
        return self._waiting_by[requester_key] + self._recording_by[requester_key]

    @contextlib.contextmanager
    def recording(self, requester_key: str) -> Iterator[None]:
        """While one of this person's jobs is being recorded, it counts as waiting."""
        self._recording_by[requester_key] += 1
        try:
            yield
        finally:
            self._recording_by[requester_key] -= 1
