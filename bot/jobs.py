"""The job runner: a queue persisted in SQLite, bounded concurrency, progress to presenters.

Jobs wait in submission order; a job starts when a global slot is free and its requester has
fewer than `user_max_running` jobs running. Every state change is written to the database
first, so after a restart queued jobs run and interrupted ones are retried once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from bot.answers import Images, JobFailed, JobUpdate, Queued, Stage
from bot.costs import budget_refusal
from bot.domain import Job, JobStatus, SpendLimit, UserRef
from bot.errors import BotError, ErrorKind, storage_error
from bot.job_endings import failure_of
from bot.job_events import JobEvents, Presenter, Progress
from bot.job_outcomes import ButtonOrigins, EndedJobs
from bot.job_slots import JobSlots
from bot.job_sweep import JobSweep
from bot.ports import JobRepository
from bot.queue_positions import PlaceTeller
from bot.retry import persist
from bot.waiting_line import WaitingLine

log = logging.getLogger(f"imagebot.{__name__}")

MAX_ATTEMPTS = 2  # a job interrupted by a restart is retried once, then reported as failed
# Results being read back, gridded and posted at once: each holds its images' bytes until it is
# out, so this bounds the memory a burst of finished jobs can take (16 sets of 4 real-size
# images is ~200 MB); the imaging pool bounds the CPU.
DELIVERIES_AT_ONCE = 8


# A job's work up to its stored results; what it returns builds the reply once the slot is free.
Execute = Callable[[Job, Progress], Awaitable[Callable[[], Awaitable[Images]]]]
DescribeFailure = Callable[[Job, BotError], JobFailed]
DescribeQueued = Callable[[Job, int, str | None], Queued]  # (job, position, note)


@dataclass(frozen=True)
class QueueEntry:
    job: Job
    running: bool
    position: int | None


class JobRunner:
    def __init__(
        self,
        repo: JobRepository,
        execute: Execute,
        describe_failure: DescribeFailure,
        describe_queued: DescribeQueued,
        *,
        max_concurrency: int = 4,
        user_max_running: int = 2,
        user_max_queued: int = 10,
        storage_patience: float = 60.0,
        rescan_interval: float = 5.0,
    ) -> None:
        self._repo = repo
        self._execute = execute
        self._describe_failure = describe_failure
        self._describe_queued = describe_queued
        self._slots = JobSlots(max_concurrency, user_max_running)
        self.user_max_queued = user_max_queued
        self._events = JobEvents()
        self._line = WaitingLine()
        self._ended = EndedJobs()
        self._delivery_slots = asyncio.Semaphore(DELIVERIES_AT_ONCE)
        self._places = PlaceTeller(self._events, self._line.jobs)
        self._positions: asyncio.Task[None] | None = None
        self._origins = ButtonOrigins()
        self._accepting = False
        self.storage_patience = storage_patience
        self._sweep = JobSweep(repo, self, rescan_interval)
        self._sweeper: asyncio.Task[None] | None = None
        # Jobs done with the provider whose outcome is being posted (their tasks), outside the slots.
        self._delivering: dict[str, asyncio.Task[None]] = {}
        self._recording: set[str] = set()  # ids of jobs being recorded by `submit`: in hand already

    @property
    def accepting(self) -> bool:
        return self._accepting

    def register_presenter(self, platform: str, presenter: Presenter) -> None:
        self._events.register(platform, presenter)

    # --- life cycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Pick up what a previous process left: queued jobs run, interrupted ones retry once."""
        self._accepting = True
        for job in await self._repo.with_status(JobStatus.RUNNING, JobStatus.QUEUED):
            await self.adopt(job, "restarted")
        self.pump()
        loop = asyncio.get_running_loop()
        self._sweeper = loop.create_task(self._sweep.run_forever(), name="job-sweeper")
        self._positions = loop.create_task(self._places.run_forever(), name="queue-positions")

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking jobs, give running ones `grace` seconds, then interrupt the rest.

        Interrupted jobs stay 'running' in the database, so the next start retries them.
        """
        self._accepting = False
        for background in (self._sweeper, self._positions):
            if background is not None:
                background.cancel()
                await asyncio.gather(background, return_exceptions=True)
        self._sweeper = self._positions = None
        tasks = [task for _, task in self._slots.running.values()] + list(self._delivering.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # --- submitting and cancelling --------------------------------------------------------------
    def active_job_for_origin(self, origin: str) -> str | None:
        return self._origins.job_for(origin)

    async def submit(
        self,
        job: Job,
        origin: str | None = None,
        limits: Sequence[SpendLimit] = (),
        note: str | None = None,
    ) -> Queued:
        """Persist and queue a job, its `reserved_usd` held against `limits` in the same
        transaction, and announce it: its QUEUED update, carrying the Queued outcome (its place
        in line, 0: starting now, and `note`), goes to its platform's presenter before any other
        update of the job. Raises QUOTA when the reservation would cross a budget (nothing is
        recorded then)."""
        self.check_capacity(job.requester)
        starts_now = self._room_now(job.requester)
        if starts_now:
            # A free slot and nobody waiting: the job is recorded as running by the same write
            # that records it (one write fewer on the hot path); its slot is held meanwhile.
            job = replace(job, status=JobStatus.RUNNING, attempts=1)
        slot = self._slots.held(job.requester) if starts_now else contextlib.nullcontext()
        self._recording.add(job.id)
        try:
            with slot, self._line.recording(job.requester.key):
                refusal = await self._repo.create(job, limits)
                if refusal is not None:
                    raise BotError(ErrorKind.QUOTA, budget_refusal(refusal, job.reserved_usd))
        finally:
            self._recording.discard(job.id)
        self._track(job, origin)
        if starts_now:
            self._start(job, recorded=True)
        else:
            self.pump()
        return await self._announce(job, note)

    def _room_now(self, requester: UserRef) -> bool:
        """Whether a new job of `requester` would start at once: nobody waiting, slots free."""
        return self._accepting and not self._line and self._slots.free_for(requester)

    async def announce(self, job: Job, note: str | None = None) -> Queued:
        """A job's Queued outcome again (its request was handled again after a restart); said to
        its presenter too while the job is still queued or running (a finished one has said
        everything already)."""
        if job.status.finished:
            return self._describe_queued(job, 0, note)
        return await self._announce(job, note, again=True)

    async def _announce(self, job: Job, note: str | None, *, again: bool = False) -> Queued:
        queued = self._describe_queued(job, self.position(job.id) or 0, note)
        if queued.position:
            self._places.told(job.id, queued.position)
        # No await between here and the presenter's lock: the job's own task (started by the
        # pump) reports RUNNING only after this QUEUED update is through.
        update = JobUpdate(job, Stage.QUEUED, position=queued.position, result=queued, again=again)
        await self._events.emit(update)
        return queued

    def check_capacity(self, requester: UserRef) -> None:
        """Refuse a new job when the bot is stopping or this person's queue is full."""
        if not self._accepting:
            raise BotError(ErrorKind.UNAVAILABLE, "The bot is shutting down; please try again in a moment.")
        waiting = self._line.waiting_of(requester.key)
        if waiting >= self.user_max_queued:
            raise BotError(
                ErrorKind.QUOTA,
                f"Queue full: you already have {waiting} jobs waiting (the limit is {self.user_max_queued})."
                " Wait for some to finish or cancel one.",
            )

    def _track(self, job: Job, origin: str | None = None) -> None:
        """Queue a job in memory, once (a sweep may find a job its submitter is still adding);
        a job recorded as running already is only remembered."""
        if job.status is JobStatus.QUEUED and job.id not in self._slots:
            self._line.add(job)
        self._ended.track(job.id)
        if origin:
            self._origins.add(origin, job.id)

    def position(self, job_id: str) -> int | None:
        return self._line.position(job_id)

    def entries(self) -> list[QueueEntry]:
        running = [QueueEntry(job, True, None) for job, _ in self._slots.running.values()]
        queued = [QueueEntry(job, False, i + 1) for i, job in enumerate(self._line.jobs.values())]
        return running + queued

    def active_job(self, job_id: str) -> Job | None:
        running = self._slots.running.get(job_id)
        return running[0] if running is not None else self._line.get(job_id)

    async def cancel(self, job_id: str) -> None:
        """Cancel a job while it is active here (who may is the caller's check)."""
        if job_id in self._slots:
            self._slots.running[job_id][1].cancel()
            return
        job = self._line.remove(job_id)
        if job is not None:
            self._places.line_moved()
            await self._cancelled(job)
            self.pump()

    async def wait(self, job_id: str) -> Stage:
        """Wait for a job submitted in this process to finish; how it ended (DONE, FAILED or
        CANCELLED)."""
        return await self._ended.wait(job_id)

    # --- running --------------------------------------------------------------------------------
    def pump(self) -> None:
        if not self._accepting:
            return
        starting = self._slots.take(self._line.jobs.values())
        for job in starting:
            self._line.remove(job.id)
            self._start(job)
        if starting and self._line:
            self._places.line_moved()  # everyone still waiting moved up

    def _start(self, job: Job, *, recorded: bool = False) -> None:
        """Run a job that has its slot (taken by the caller)."""
        task = asyncio.get_running_loop().create_task(self._run(job, recorded), name=f"job-{job.id}")
        self._slots.run(job, task)

    async def _run(self, job: Job, recorded: bool = False) -> None:
        """Run a job; `recorded`: it was stored as running when it was submitted."""
        try:
            running = job if recorded else replace(job, status=JobStatus.RUNNING, attempts=job.attempts + 1)
            try:
                if not recorded:
                    await persist(
                        lambda: self._repo.mark_running(job.id),
                        patience=self.storage_patience,
                        what=f"job {job.id}: recording its start",
                    )
            except Exception as exc:  # noqa: BLE001 - the job boundary: any failure is classified and reported
                # The database cannot take the job's first step: tell its requester, do not hang.
                await self._fail(running, failure_of(job, exc))
                return
            await self._events.emit(JobUpdate(running, Stage.RUNNING))
            try:
                build_reply = await self._execute(running, Progress(self._events, running))
            except asyncio.CancelledError:
                if self._accepting:  # cancelled by a person, not by shutdown
                    self._release_slot(job.id)
                    await self._cancelled(running)
                raise
            except BotError as error:
                await self._fail(running, storage_error(error) or error)
            except Exception as exc:  # noqa: BLE001 - the job boundary: any failure is classified and reported
                await self._fail(running, failure_of(job, exc))
            else:
                log.info("job %s [%s] done", job.id, job.where.platform)
                self._release_slot(job.id)
                await self._deliver_done(replace(running, status=JobStatus.DONE), build_reply)
        finally:
            if self._slots.leave(job.id) is not None:
                self.pump()

    async def _deliver_done(self, done: Job, build_reply: Callable[[], Awaitable[Images]]) -> None:
        """Build a finished job's reply (its images read back, its grid) and post it, a bounded
        number at a time: the slot is already free, so the next jobs' provider calls go on."""
        async with self._delivery_slots:
            try:
                result = await build_reply()
            except Exception as exc:  # noqa: BLE001 - the job boundary: any failure is classified and reported
                await self._fail(done, failure_of(done, exc))
                return
            await self._finish(done, JobUpdate(done, Stage.DONE, result=result))

    def _release_slot(self, job_id: str) -> None:
        """The provider work is over: free the job's slot before its outcome is posted, so a
        slow platform (429 waits, big uploads) never holds up the next job's provider call."""
        entry = self._slots.leave(job_id)
        if entry is not None:
            self._delivering[job_id] = entry[1]  # until its outcome is out: the sweep leaves it alone
            self.pump()

    async def _fail(self, job: Job, error: BotError) -> None:
        self._release_slot(job.id)
        log.info("job %s [%s] failed: %s", job.id, job.where.platform, error.kind.value)
        await self._sweep.record_final(
            job, (JobStatus.FAILED, error.kind, error.message), self.storage_patience
        )
        failed = replace(job, status=JobStatus.FAILED, error_kind=error.kind, error_message=error.message)
        await self._finish(
            failed, JobUpdate(failed, Stage.FAILED, result=self._describe_failure(failed, error))
        )

    async def _cancelled(self, job: Job) -> None:
        await self._sweep.record_final(
            job, (JobStatus.CANCELLED, ErrorKind.CANCELLED, None), self.storage_patience
        )
        done = replace(job, status=JobStatus.CANCELLED)
        cancelled = JobFailed(job.id, ErrorKind.CANCELLED, f"Job `{job.id}` was cancelled.")
        await self._finish(done, JobUpdate(done, Stage.CANCELLED, result=cancelled))

    # --- the sweep: the database is the queue (bot.job_sweep) -----------------------------------
    async def sweep(self) -> None:
        """One pass of the sweep, now."""
        await self._sweep.sweep()

    def in_hand(self, job_id: str) -> bool:
        """Whether this process is working on the job, or saw it end."""
        return (
            self._ended.ended_here(job_id)
            or job_id in self._recording
            or job_id in self._line
            or job_id in self._slots
            or job_id in self._delivering
        )

    async def adopt(self, job: Job, how: str) -> None:
        """Take over a job the database holds: a queued one waits its turn; an interrupted
        running one is retried once, then reported as failed."""
        if job.status is JobStatus.RUNNING and job.attempts >= MAX_ATTEMPTS:
            error = BotError(
                ErrorKind.UNAVAILABLE,
                f"The bot {how} while this job was running, twice; it was not finished.",
            )
            await self._sweep.record_final(
                job, (JobStatus.FAILED, error.kind, error.message), self.storage_patience
            )
            failed = replace(job, status=JobStatus.FAILED)
            await self._events.emit(
                JobUpdate(failed, Stage.FAILED, result=self._describe_failure(failed, error))
            )
            return
        if job.status is JobStatus.RUNNING:
            log.info("job %s [%s]: the bot %s while it ran; retrying it", job.id, job.where.platform, how)
            await self._repo.requeue(job.id)
            job = replace(job, status=JobStatus.QUEUED)
        else:
            log.info("job %s [%s]: the bot %s while it waited; queueing it", job.id, job.where.platform, how)
        self._track(job)

    async def _finish(self, job: Job, update: JobUpdate) -> None:
        try:
            await self._deliver(job, update)
        finally:
            self._delivering.pop(job.id, None)

    async def _deliver(self, job: Job, update: JobUpdate) -> None:
        self._origins.forget_job(job.id)
        await self._events.emit(update)
        self._ended.ended(job.id, update.stage)
        self._sweep.saw_end(job.id)
