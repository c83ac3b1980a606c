"""The sweep: the database is the queue. On a timer (and soon after a storage error) it records
final states the database refused before, and picks up every job the database says is queued or
running that this process is not working on, so nothing stays 'queued' or 'running' there while
the process is alive, whatever a fault dropped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from bot.domain import Job, JobStatus
from bot.errors import ErrorKind
from bot.ports import JobRepository
from bot.retry import persist

log = logging.getLogger(f"imagebot.{__name__}")

FinalState = tuple[JobStatus, ErrorKind | None, str | None]


class SweepHost(Protocol):
    """What the sweep needs of the runner."""

    @property
    def accepting(self) -> bool: ...

    def in_hand(self, job_id: str) -> bool:
        """Whether the process is working on the job, or saw it end."""
        ...

    async def adopt(self, job: Job, how: str) -> None: ...

    def pump(self) -> None: ...


class JobSweep:
    def __init__(self, repo: JobRepository, host: SweepHost, interval: float) -> None:
        self._repo = repo
        self._host = host
        self.interval = interval
        # Final states the database refused to record (the requester was told already); the
        # sweep records them later instead of running the job again.
        self._unrecorded: dict[str, FinalState] = {}
        # Ids of jobs that ended while a pass was reading the database (None: no pass reading).
        # Its snapshot may still show them running, and the runner may have forgotten them.
        self._ended_while_reading: set[str] | None = None
        self._now = asyncio.Event()

    async def record_final(self, job: Job, state: FinalState, patience: float) -> None:
        """Record how a job ended, retrying through short storage faults. The requester hears
        about it even when the database cannot record it (full disk, locked or damaged): the
        next pass records it, soon, so the job is neither run again nor left 'working'."""
        status, kind, message = state
        try:
            await persist(
                lambda: self._repo.mark_finished(job.id, status, error_kind=kind, error_message=message),
                patience=patience,
                what=f"job {job.id}: recording that it {status.value}",
            )
        except Exception as exc:  # noqa: BLE001 - a finished job is never left hanging on its bookkeeping
            log.warning(
                "job %s [%s]: could not record that it %s: %s", job.id, job.where.platform, status.value, exc
            )
            self._unrecorded[job.id] = state
            self._now.set()

    def holds(self, job_id: str) -> bool:
        return job_id in self._unrecorded

    def saw_end(self, job_id: str) -> None:
        if self._ended_while_reading is not None:
            self._ended_while_reading.add(job_id)

    async def run_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._now.wait()
            self._now.clear()
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the background sweep must never die; it tries again
                log.warning("job sweep failed (%s); trying again in %.0f s", exc, self.interval)

    async def sweep(self) -> None:
        """One pass (see the module doc)."""
        for job_id, (status, kind, message) in list(self._unrecorded.items()):
            await self._repo.mark_finished(job_id, status, error_kind=kind, error_message=message)
            del self._unrecorded[job_id]
        if not self._host.accepting:
            return
        # The snapshot is read while jobs go on: one may be recorded, or end (and be forgotten),
        # while it is read. Those are in hand, not dropped; adopting them would run them twice.
        ended: set[str] = set()
        self._ended_while_reading = ended
        try:
            snapshot = await self._repo.with_status(JobStatus.QUEUED, JobStatus.RUNNING)
            for job in snapshot:
                if job.id in ended or self._host.in_hand(job.id) or self.holds(job.id):
                    continue
                # Not in hand here, and this process owns the data directory: a job a fault dropped.
                await self._host.adopt(job, "lost track of it")
        finally:
            self._ended_while_reading = None
        self._host.pump()
