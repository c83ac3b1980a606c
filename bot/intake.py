"""Durable intake: store every incoming request, then acknowledge it, then handle it.

Adapters call `IntakeDesk.receive` before they acknowledge a platform delivery. The request's
dedupe key and payload are written in one short transaction; a redelivery finds the row and is
dropped; a request that was stored but never finished (the process died or stopped after the
ack) is handed back by `replayable` on the next start. While a request is handled, its key is
the *current intake key* (a context variable), and the job it creates carries it, so a replay
after a crash finds that job instead of making (and paying for) a second one.

A request that cannot be stored within `store_timeout` (a locked database) is answered "busy"
at once, never acknowledged and then lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from bot.ports import IntakeRepository
from bot.records import IntakeRequest, IntakeRow

log = logging.getLogger(f"imagebot.{__name__}")

current_intake_key: ContextVar[str | None] = ContextVar("imagebot_intake_key", default=None)

BATCH_LIMIT = 200  # requests written in one statement at most (5 parameters each)
FINISHED_KEEP_SECONDS = 7 * 24 * 3600  # how long a handled request's key is kept for dedupe
BUSY_TEXT = "I'm busy right now and could not take that in; please try again in a moment."
GAVE_UP_TEXT = "I could not finish your request after several tries; please send it again."


class Admission(enum.Enum):
    HANDLE = "handle"  # stored now: acknowledge, then handle it
    DUPLICATE = "duplicate"  # seen before (or being handled): acknowledge and drop
    BUSY = "busy"  # could not be stored in time: answer "busy", do not pretend it was taken


@dataclass(frozen=True)
class Ticket:
    admission: Admission
    key: str
    notes: dict[str, Any] = field(default_factory=dict)


class IntakeDesk:
    def __init__(self, repo: IntakeRepository, *, store_timeout: float = 1.0, max_attempts: int = 3) -> None:
        self.repo = repo
        self.store_timeout = store_timeout
        self.max_attempts = max_attempts
        self._in_flight: set[str] = set()
        self._late: set[asyncio.Future[Any]] = set()  # stores that outlived their timeout
        self._batch: list[tuple[IntakeRequest, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def receive(self, platform: str, key: str, kind: str, payload: dict[str, Any]) -> Ticket:
        """Store a delivery before it is acknowledged; what to do with it."""
        if key in self._in_flight:
            return Ticket(Admission.DUPLICATE, key)
        store = self._store(key, platform, kind, payload)
        done, _ = await asyncio.wait({store}, timeout=self.store_timeout)
        if not done:
            # Answered "busy" now; should the write land later, it is dropped at once: the next
            # start must not run a request its sender was told to send again, and the
            # platform's own redelivery (same key) must not be taken for a duplicate.
            self._late.add(store)
            store.add_done_callback(self._close_late(key))
            log.warning("intake [%s]: storage too slow; answered busy", platform)
            return Ticket(Admission.BUSY, key)
        try:
            fresh = store.result()
        except Exception as exc:  # noqa: BLE001 - whatever storage raised, the request is answered busy
            log.warning("intake [%s]: could not store a request (%s); answered busy", platform, exc)
            return Ticket(Admission.BUSY, key)
        if not fresh or key in self._in_flight:
            return Ticket(Admission.DUPLICATE, key)
        self._in_flight.add(key)
        return Ticket(Admission.HANDLE, key)  # a new row has no notes yet

    def _store(self, key: str, platform: str, kind: str, payload: dict[str, Any]) -> asyncio.Future[bool]:
        """Queue a request for the next group write; the future says whether it was new.

        Arrivals are written together, one statement per burst (group commit): under a burst of
        deliveries each ack waits for one write, not for every write queued before its own."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._batch.append((IntakeRequest(key, platform, kind, payload), future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_batches())
        return future

    async def _write_batches(self) -> None:
        while self._batch:
            batch, self._batch = self._batch[:BATCH_LIMIT], self._batch[BATCH_LIMIT:]
            try:
                stored = await self.repo.receive_many([request for request, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every waiter of the batch hears of the failure, whatever it is
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for request, future in batch:
                if not future.done():
                    future.set_result(request.key in stored)

    def _close_late(self, key: str) -> Any:
        def closed(task: asyncio.Task[Any]) -> None:
            self._late.discard(task)
            if task.cancelled() or task.exception() is not None:
                return
            if task.result():  # stored after all: drop it
                dropper = asyncio.ensure_future(self.repo.forget(key))
                self._late.add(dropper)
                dropper.add_done_callback(self._late.discard)

        return closed

    @contextlib.contextmanager
    def handling(self, key: str | None) -> Iterator[None]:
        """While handling a request: jobs created here carry its key (see module doc)."""
        token = current_intake_key.set(key)
        try:
            yield
        finally:
            current_intake_key.reset(token)

    async def note(self, key: str, name: str, value: Any) -> None:
        """Remember something done on the way (e.g. a message posted), for a replay to reuse."""
        await self.repo.note(key, name, value)

    async def finish(self, key: str) -> None:
        """The request is handled: its job exists, or its answer was given."""
        try:
            await self.repo.finish(key)
        finally:
            self._in_flight.discard(key)

    def release(self, key: str) -> None:
        """Stop handling without finishing (shutting down): the next start replays it."""
        self._in_flight.discard(key)

    async def replayable(self, platform: str) -> tuple[list[IntakeRow], list[IntakeRow]]:
        """Requests of `platform` stored but never finished, not being handled now: (to handle
        again, given up on after `max_attempts`). Each returned for handling counts an attempt
        and is marked in flight; the ones given up on are finished."""
        again, given_up = [], []
        for row in await self.repo.unfinished(platform):
            if row.key in self._in_flight:
                continue
            if row.attempts >= self.max_attempts:
                await self.repo.finish(row.key)
                log.warning("intake [%s]: gave up on a request after %d attempts", platform, row.attempts)
                given_up.append(row)
                continue
            await self.repo.started(row.key)
            self._in_flight.add(row.key)
            again.append(row)
        return again, given_up

    async def prune(self, keep_seconds: float = FINISHED_KEEP_SECONDS) -> int:
        """Forget finished requests older than `keep_seconds` (platforms redeliver within minutes)."""
        return await self.repo.forget_finished_before(time.time() - keep_seconds)

    async def close(self) -> None:
        """Wait for stores that outlived their timeout (and the closing they lead to)."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        while self._late:
            await asyncio.gather(*list(self._late), return_exceptions=True)
            await asyncio.sleep(0)  # let their done-callbacks add what follows
