"""The job runner: a queue persisted in SQLite, bounded concurrency, progress to presenters.

Jobs wait in submission order; a job starts when a global slot is free and its requester has
fewer than `user_max_running` jobs running. Every state change is written to the database
first, so after a restart queued jobs run and interrupted ones are retried once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from bot.answers import Images, JobFailed, JobUpdate, Queued, Stage
from bot.costs import budget_refusal
from bot.domain import Job, JobStatus, SessionKey, SpendLimit, UserRef
from bot.errors import BotError, ErrorKind, storage_error
from bot.job_events import JobEvents, Presenter, Progress
from bot.ports import JobRepository
from bot.retry import persist

log = logging.getLogger(f"imagebot.{__name__}")

MAX_ATTEMPTS = 2  # a job interrupted by a restart is retried once, then reported as failed
# Results being read back, gridded and posted at once: each holds its images' bytes until it is
# out, so this bounds the memory a burst of finished jobs can take (16 sets of 4 real-size
# images is ~200 MB); the imaging pool bounds the CPU.
DELIVERIES_AT_ONCE = 8
# Waiting jobs hear their new place in line at most this often (a burst would otherwise send
# every waiting job an update each time one starts: quadratic).
POSITION_INTERVAL = 1.0
KEEP_FINISHED = 1000  # how many ended jobs `wait` still knows the outcome of


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
        self.max_concurrency = max_concurrency
        self.user_max_running = user_max_running
        self.user_max_queued = user_max_queued
        self._events = JobEvents()
        self._queued: dict[str, Job] = {}  # in submission order
        self._queued_by: collections.Counter[str] = collections.Counter()  # requester key -> waiting
        self._running: dict[str, tuple[Job, asyncio.Task[None]]] = {}
        self._running_by: collections.Counter[str] = collections.Counter()  # requester key -> running
        # How each job submitted here ended, for `wait`: the stage only, never the result's bytes.
        self._finished: dict[str, asyncio.Future[Stage]] = {}
        self._ended: collections.deque[str] = collections.deque()  # ids of done futures, oldest first
        self._delivery_slots = asyncio.Semaphore(DELIVERIES_AT_ONCE)
        self._told: dict[str, int] = {}  # job id -> the place in line it was last told
        self.position_interval = POSITION_INTERVAL
        self._positions_due = asyncio.Event()
        self._positions: asyncio.Task[None] | None = None
        self._origins: dict[str, str] = {}  # button custom_id -> job id, while that job is active
        self._origins_of: dict[str, list[str]] = {}  # job id -> its button custom_ids, the reverse
        self._accepting = False
        self.storage_patience = storage_patience
        self.rescan_interval = rescan_interval
        # Final states the database refused to record (its requester was told already); the
        # sweep records them later instead of running the job again.
        self._unrecorded: dict[str, tuple[JobStatus, ErrorKind | None, str | None]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        # Jobs done with the provider whose outcome is being posted (their tasks), outside the slots.
        self._delivering: dict[str, asyncio.Task[None]] = {}
        self._submitting: collections.Counter[str] = collections.Counter()  # jobs being recorded
        self._starting = 0  # jobs being recorded as running: their slots are taken
        self._recording: set[str] = set()  # ids of jobs being recorded by `submit`: in hand already
        # Ids of jobs that ended while a sweep was reading the database (None: no sweep reading).
        # Its snapshot may still show them running, and `_finished` may have forgotten them.
        self._ended_while_sweeping: set[str] | None = None
        self._sweep_now = asyncio.Event()

    def register_presenter(self, platform: str, presenter: Presenter) -> None:
        self._events.register(platform, presenter)

    # --- life cycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Pick up what a previous process left: queued jobs run, interrupted ones retry once."""
        self._accepting = True
        for job in await self._repo.with_status(JobStatus.RUNNING, JobStatus.QUEUED):
            await self._adopt(job, "restarted")
        self._pump()
        loop = asyncio.get_running_loop()
        self._sweeper = loop.create_task(self._sweep_forever(), name="job-sweeper")
        self._positions = loop.create_task(self._tell_positions_forever(), name="queue-positions")

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
        tasks = [task for _, task in self._running.values()] + list(self._delivering.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    # --- submitting and cancelling --------------------------------------------------------------
    def active_job_for_origin(self, origin: str) -> str | None:
        return self._origins.get(origin)

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
            self._starting += 1
            self._running_by[job.requester.key] += 1
        # Counted as waiting while it is being recorded, so two requests at once cannot both
        # take the last place in a person's queue.
        self._submitting[job.requester.key] += 1
        self._recording.add(job.id)
        try:
            refusal = await self._repo.create(job, limits)
        except BaseException:
            if starts_now:
                self._running_by[job.requester.key] -= 1
            raise
        finally:
            self._submitting[job.requester.key] -= 1
            self._recording.discard(job.id)
            if starts_now:
                self._starting -= 1
        if refusal is not None:
            if starts_now:
                self._running_by[job.requester.key] -= 1
            raise BotError(ErrorKind.QUOTA, budget_refusal(refusal, job.reserved_usd))
        self._track(job, origin)
        if starts_now:
            self._start(job, recorded=True)
        else:
            self._pump()
        return await self._announce(job, note)

    def _room_now(self, requester: UserRef) -> bool:
        """Whether a new job of `requester` would start at once: nobody waiting, slots free."""
        return (
            self._accepting
            and not self._queued
            and len(self._running) + self._starting < self.max_concurrency
            and self._running_by[requester.key] < self.user_max_running
        )

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
            self._told[job.id] = queued.position
        # No await between here and the presenter's lock: the job's own task (started by the
        # pump) reports RUNNING only after this QUEUED update is through.
        update = JobUpdate(job, Stage.QUEUED, position=queued.position, result=queued, again=again)
        await self._events.emit(update)
        return queued

    def check_capacity(self, requester: UserRef) -> None:
        """Refuse a new job when the bot is stopping or this person's queue is full."""
        if not self._accepting:
            raise BotError(ErrorKind.UNAVAILABLE, "The bot is shutting down; please try again in a moment.")
        waiting = self._queued_by[requester.key] + self._submitting[requester.key]
        if waiting >= self.user_max_queued:
            raise BotError(
                ErrorKind.QUOTA,
                f"Queue full: you already have {waiting} jobs waiting (the limit is {self.user_max_queued})."
                " Wait for some to finish or cancel one.",
            )

    def _track(self, job: Job, origin: str | None = None) -> None:
        """Queue a job in memory, once (a sweep may find a job its submitter is still adding);
        a job recorded as running already is only remembered."""
        if job.status is JobStatus.QUEUED and job.id not in self._running and job.id not in self._queued:
            self._queued[job.id] = job
            self._queued_by[job.requester.key] += 1
        if job.id not in self._finished or self._finished[job.id].done():
            self._finished[job.id] = asyncio.get_running_loop().create_future()
        if origin:
            self._origins[origin] = job.id
            self._origins_of.setdefault(job.id, []).append(origin)

    def _unqueue(self, job_id: str) -> Job | None:
        job = self._queued.pop(job_id, None)
        if job is not None:
            self._queued_by[job.requester.key] -= 1
        return job

    def position(self, job_id: str) -> int | None:
        if job_id not in self._queued:
            return None
        if job_id == next(reversed(self._queued)):  # the job just submitted: no need to count
            return len(self._queued)
        return list(self._queued).index(job_id) + 1

    def entries(self) -> list[QueueEntry]:
        running = [QueueEntry(job, True, None) for job, _ in self._running.values()]
        queued = [QueueEntry(job, False, i + 1) for i, job in enumerate(self._queued.values())]
        return running + queued

    def active_job(self, job_id: str) -> Job | None:
        if job_id in self._running:
            return self._running[job_id][0]
        return self._queued.get(job_id)

    async def cancel(self, job_id: str, actor: UserRef, where: SessionKey) -> Job:
        """Cancel a queued or running job of the workspace of `where` (any other is 'not found')."""
        job = self.active_job(job_id)
        if job is not None and not job.where.same_workspace(where):
            job = None
        if job is None:
            raise BotError(ErrorKind.NOT_FOUND, f"Job `{job_id}` is not queued or running.")
        if job.requester.key != actor.key and not actor.is_admin:
            raise BotError(
                ErrorKind.FORBIDDEN, f"Only {job.requester.label} or an admin can cancel job `{job_id}`."
            )
        if job_id in self._running:
            self._running[job_id][1].cancel()
            return job
        self._unqueue(job_id)
        self._positions_due.set()
        await self._record_final(job, JobStatus.CANCELLED, ErrorKind.CANCELLED, None)
        cancelled = replace(job, status=JobStatus.CANCELLED)
        await self._finish(
            cancelled, JobUpdate(cancelled, Stage.CANCELLED, result=_cancelled_reply(cancelled))
        )
        self._pump()
        return job

    async def wait(self, job_id: str) -> Stage:
        """Wait for a job submitted in this process to finish; how it ended (DONE, FAILED or
        CANCELLED)."""
        return await asyncio.shield(self._finished[job_id])

    # --- running --------------------------------------------------------------------------------
    def _pump(self) -> None:
        if not self._accepting:
            return
        starting: list[Job] = []
        for job in self._queued.values():
            if len(self._running) + self._starting + len(starting) >= self.max_concurrency:
                break
            if self._running_by[job.requester.key] >= self.user_max_running:
                continue
            self._running_by[job.requester.key] += 1
            starting.append(job)
        for job in starting:
            self._unqueue(job.id)
            self._start(job)
        if starting and self._queued:
            self._positions_due.set()  # everyone still waiting moved up

    async def _tell_positions_forever(self) -> None:
        """Tell waiting jobs their new place in line, at most once per `position_interval`, and
        only those whose place changed since they were last told."""
        while True:
            await self._positions_due.wait()
            self._positions_due.clear()
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
            await asyncio.sleep(self.position_interval)

    def _start(self, job: Job, *, recorded: bool = False) -> None:
        """Run a job that has its slot (counted in `_running_by` by the caller)."""
        task = asyncio.get_running_loop().create_task(self._run(job, recorded), name=f"job-{job.id}")
        self._running[job.id] = (job, task)

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
                await self._fail(running, self._classify(job, exc))
                return
            await self._events.emit(JobUpdate(running, Stage.RUNNING))
            try:
                build_reply = await self._execute(running, Progress(self._events, running))
            except asyncio.CancelledError:
                if self._accepting:  # cancelled by a person, not by shutdown
                    self._release_slot(job.id)
                    await self._record_final(running, JobStatus.CANCELLED, ErrorKind.CANCELLED, None)
                    done = replace(running, status=JobStatus.CANCELLED)
                    await self._finish(done, JobUpdate(done, Stage.CANCELLED, result=_cancelled_reply(done)))
                raise
            except BotError as error:
                await self._fail(running, storage_error(error) or error)
            except Exception as exc:  # noqa: BLE001 - the job boundary: any failure is classified and reported
                await self._fail(running, self._classify(job, exc))
            else:
                log.info("job %s [%s] done", job.id, job.where.platform)
                self._release_slot(job.id)
                await self._deliver_done(replace(running, status=JobStatus.DONE), build_reply)
        finally:
            if self._leave_running(job.id) is not None:
                self._pump()

    async def _deliver_done(self, done: Job, build_reply: Callable[[], Awaitable[Images]]) -> None:
        """Build a finished job's reply (its images read back, its grid) and post it, a bounded
        number at a time: the slot is already free, so the next jobs' provider calls go on."""
        async with self._delivery_slots:
            try:
                result = await build_reply()
            except Exception as exc:  # noqa: BLE001 - the job boundary: any failure is classified and reported
                await self._fail(done, self._classify(done, exc))
                return
            await self._finish(done, JobUpdate(done, Stage.DONE, result=result))

    @staticmethod
    def _classify(job: Job, exc: Exception) -> BotError:
        """A failure that is not already a BotError: storage trouble in plain words, else a bug."""
        error = storage_error(exc)
        if error is not None:
            log.warning("job %s [%s] failed writing to storage: %s", job.id, job.where.platform, exc)
            return error
        log.exception("job %s [%s] crashed", job.id, job.where.platform, exc_info=exc)
        return BotError(ErrorKind.INTERNAL, "Something went wrong on our side.")

    def _release_slot(self, job_id: str) -> None:
        """The provider work is over: free the job's slot before its outcome is posted, so a
        slow platform (429 waits, big uploads) never holds up the next job's provider call."""
        entry = self._leave_running(job_id)
        if entry is not None:
            self._delivering[job_id] = entry[1]  # until its outcome is out: the sweep leaves it alone
            self._pump()

    def _leave_running(self, job_id: str) -> tuple[Job, asyncio.Task[None]] | None:
        entry = self._running.pop(job_id, None)
        if entry is not None:
            self._running_by[entry[0].requester.key] -= 1
        return entry

    async def _fail(self, job: Job, error: BotError) -> None:
        self._release_slot(job.id)
        log.info("job %s [%s] failed: %s", job.id, job.where.platform, error.kind.value)
        await self._record_final(job, JobStatus.FAILED, error.kind, error.message)
        failed = replace(job, status=JobStatus.FAILED, error_kind=error.kind, error_message=error.message)
        await self._finish(
            failed, JobUpdate(failed, Stage.FAILED, result=self._describe_failure(failed, error))
        )

    async def _record_final(
        self, job: Job, status: JobStatus, kind: ErrorKind | None, message: str | None
    ) -> None:
        """Record how a job ended, retrying through short storage faults. The requester hears
        about it even when the database cannot record it (full disk, locked or damaged): the
        sweep records it later, so the job is neither run again nor left 'working'."""
        try:
            await persist(
                lambda: self._repo.mark_finished(job.id, status, error_kind=kind, error_message=message),
                patience=self.storage_patience,
                what=f"job {job.id}: recording that it {status.value}",
            )
        except Exception as exc:  # noqa: BLE001 - a finished job is never left hanging on its bookkeeping
            log.warning(
                "job %s [%s]: could not record that it %s: %s", job.id, job.where.platform, status.value, exc
            )
            self._unrecorded[job.id] = (status, kind, message)
            self._sweep_now.set()

    # --- the sweep: the database is the queue -----------------------------------------------------
    async def _sweep_forever(self) -> None:
        """Re-read the database on a timer (and soon after a storage error), so nothing stays
        'queued' or 'running' there while this process is alive, whatever a fault dropped."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.rescan_interval):
                    await self._sweep_now.wait()
            self._sweep_now.clear()
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the background sweep must never die; it tries again
                log.warning("job sweep failed (%s); trying again in %.0f s", exc, self.rescan_interval)

    async def sweep(self) -> None:
        """One pass: record final states the database refused before, then pick up every job the
        database says is queued or running that this process is not working on."""
        for job_id, (status, kind, message) in list(self._unrecorded.items()):
            await self._repo.mark_finished(job_id, status, error_kind=kind, error_message=message)
            del self._unrecorded[job_id]
        if not self._accepting:
            return
        # The snapshot is read while jobs go on: one may be recorded, or end (and be forgotten by
        # `_finished`), while it is read. Those are in hand, not dropped; adopting them would run
        # them twice.
        ended: set[str] = set()
        self._ended_while_sweeping = ended
        try:
            snapshot = await self._repo.with_status(JobStatus.QUEUED, JobStatus.RUNNING)
            for job in snapshot:
                if job.id in ended or self._in_hand(job.id):
                    continue
                # Not in hand here, and this process owns the data directory: a job a fault dropped.
                await self._adopt(job, "lost track of it")
        finally:
            self._ended_while_sweeping = None
        self._pump()

    def _in_hand(self, job_id: str) -> bool:
        """Whether this process is working on the job, or saw it end."""
        ended_here = job_id in self._finished and self._finished[job_id].done()
        return (
            ended_here
            or job_id in self._recording
            or job_id in self._queued
            or job_id in self._running
            or job_id in self._unrecorded
            or job_id in self._delivering
        )

    async def _adopt(self, job: Job, how: str) -> None:
        """Take over a job the database holds: a queued one waits its turn; an interrupted
        running one is retried once, then reported as failed."""
        if job.status is JobStatus.RUNNING and job.attempts >= MAX_ATTEMPTS:
            error = BotError(
                ErrorKind.UNAVAILABLE,
                f"The bot {how} while this job was running, twice; it was not finished.",
            )
            await self._record_final(job, JobStatus.FAILED, error.kind, error.message)
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
        for origin in self._origins_of.pop(job.id, ()):
            if self._origins.get(origin) == job.id:
                del self._origins[origin]
        await self._events.emit(update)
        future = self._finished.get(job.id)
        if future is not None and not future.done():
            future.set_result(update.stage)
            self._ended.append(job.id)
        if self._ended_while_sweeping is not None:
            self._ended_while_sweeping.add(job.id)
        # Keep recent outcomes for `wait`, but not forever: drop the oldest ended ones, each in
        # O(1) (a scan here made a burst of thousands of jobs quadratic).
        while len(self._finished) > KEEP_FINISHED and self._ended:
            old = self._ended.popleft()
            kept = self._finished.get(old)
            if kept is not None and kept.done():  # not tracked again since
                del self._finished[old]


def _cancelled_reply(job: Job) -> JobFailed:
    return JobFailed(job.id, ErrorKind.CANCELLED, f"Job `{job.id}` was cancelled.")
