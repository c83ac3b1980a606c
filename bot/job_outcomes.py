"""What the job runner remembers about jobs beyond running them: how each one ended (for `wait`),
and which button asked for which active job (so a second press finds the same job)."""

from __future__ import annotations

import asyncio
import collections

from bot.answers import Stage

KEEP_FINISHED = 1000  # how many ended jobs `wait` still knows the outcome of


class EndedJobs:
    """How each job tracked here ended: the stage only, never the result's bytes; the oldest
    ended ones are forgotten first, each in O(1) (a scan made a burst of thousands quadratic)."""

    def __init__(self) -> None:
        self._outcomes: dict[str, asyncio.Future[Stage]] = {}
        self._ended: collections.deque[str] = collections.deque()  # ids of done futures, oldest first

    def track(self, job_id: str) -> None:
        """Expect an outcome for the job (again, when it is run once more)."""
        known = self._outcomes.get(job_id)
        if known is None or known.done():
            self._outcomes[job_id] = asyncio.get_running_loop().create_future()

    def ended(self, job_id: str, stage: Stage) -> None:
        outcome = self._outcomes.get(job_id)
        if outcome is not None and not outcome.done():
            outcome.set_result(stage)
            self._ended.append(job_id)
        while len(self._outcomes) > KEEP_FINISHED and self._ended:
            old = self._ended.popleft()
            kept = self._outcomes.get(old)
            if kept is not None and kept.done():  # not tracked again since
                del self._outcomes[old]

    def ended_here(self, job_id: str) -> bool:
        outcome = self._outcomes.get(job_id)
        return outcome is not None and outcome.done()

    async def wait(self, job_id: str) -> Stage:
        return await asyncio.shield(self._outcomes[job_id])


class ButtonOrigins:
    """Button custom_id → the active job it started, and the reverse, while the job is active."""

    def __init__(self) -> None:
        self._job_of: dict[str, str] = {}
        self._origins_of: dict[str, list[str]] = {}

    def add(self, origin: str, job_id: str) -> None:
        self._job_of[origin] = job_id
        self._origins_of.setdefault(job_id, []).append(origin)

    def job_for(self, origin: str) -> str | None:
        return self._job_of.get(origin)

    def forget_job(self, job_id: str) -> None:
        for origin in self._origins_of.pop(job_id, ()):
            if self._job_of.get(origin) == job_id:
                del self._job_of[origin]
