"""The running side of the job runner's limits: at most `max_concurrency` jobs run at once, and
at most `user_max_running` of them for one requester (the waiting side is bot.waiting_line).

A slot is taken before its job's task exists (while the job is recorded as running, or as the
pump picks it from the line), so two starts can never both take the last one.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Iterable, Iterator

from bot.domain import Job, UserRef


class JobSlots:
    def __init__(self, max_concurrency: int, user_max_running: int) -> None:
        self.max_concurrency = max_concurrency
        self.user_max_running = user_max_running
        self.running: dict[str, tuple[Job, asyncio.Task[None]]] = {}
        self._running_by: collections.Counter[str] = collections.Counter()  # requester key -> running
        self._starting = 0  # jobs being recorded as running: their slots are taken

    def __contains__(self, job_id: object) -> bool:
        return job_id in self.running

    def free_for(self, requester: UserRef) -> bool:
        """Whether a job of `requester` could take a slot now."""
        return (
            len(self.running) + self._starting < self.max_concurrency
            and self._running_by[requester.key] < self.user_max_running
        )

    @contextlib.contextmanager
    def held(self, requester: UserRef) -> Iterator[None]:
        """A slot held for a job while its start is recorded: given back if that fails, else
        kept for the job's task (`run`)."""
        self._starting += 1
        self._running_by[requester.key] += 1
        try:
            yield
        except BaseException:
            self._running_by[requester.key] -= 1
            raise
        finally:
            self._starting -= 1

    def take(self, waiting: Iterable[Job]) -> list[Job]:
        """The waiting jobs (in line order) that may start now, each with its slot taken."""
        chosen: list[Job] = []
        for job in waiting:
            if len(self.running) + self._starting + len(chosen) >= self.max_concurrency:
                break
            if self._running_by[job.requester.key] >= self.user_max_running:
                continue
            self._running_by[job.requester.key] += 1
            chosen.append(job)
        return chosen

    def run(self, job: Job, task: asyncio.Task[None]) -> None:
        """The job's task, on the slot taken for it."""
        self.running[job.id] = (job, task)

    def leave(self, job_id: str) -> tuple[Job, asyncio.Task[None]] | None:
        """Free a running job's slot, once: its entry, or None when it holds none (any more)."""
        entry = self.running.pop(job_id, None)
        if entry is not None:
            self._running_by[entry[0].requester.key] -= 1
        return entry
