"""Writing to SQLite under load: one writer at a time, urgent writes first, commits grouped.

SQLite takes one writer at a time, and in WAL mode each commit is one append to the log. Under
load (hundreds of jobs starting and finishing at once), one commit per write makes every write
wait for every commit before it. So writes that arrive while another is in progress join one
transaction ("a batch"), each inside a savepoint of its own, and the batch commits when nobody
else is waiting, when it holds an urgent write, or when it reaches `MAX_BATCH` writes. A write's
caller returns only after its batch has committed: what it wrote is durable when it goes on.

Urgent writes (the durable intake that gates Discord's and Slack's 3-second acknowledgements)
take the next turn ahead of everything else, and their batch commits at once, so they wait
behind at most the one write in progress, never behind a queue of job writes.

One write failing rolls back its own savepoint only; the others in its batch still commit. A
failure that aborts the whole transaction (SQLite does so for a full disk or an I/O error) or a
failed commit fails every write of that batch, each with the error, so each caller's own retry
(see `bot.retry.persist`) decides what to do, exactly as if it had been alone.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from typing import Any

import aiosqlite

log = logging.getLogger(f"imagebot.{__name__}")

MAX_BATCH = 64  # writes in one commit at most: bounds how long the first one waits for it

TypedErrors = Callable[[], AbstractContextManager[None]]


class Turns:
    """Who writes next: one holder at a time; urgent waiters go first, each class in order.
    `on_idle` is called when the last holder leaves with nobody waiting."""

    def __init__(self, on_idle: Callable[[], None]) -> None:
        self._busy = False
        self._urgent: collections.deque[asyncio.Future[None]] = collections.deque()
        self._normal: collections.deque[asyncio.Future[None]] = collections.deque()
        self._on_idle = on_idle

    @property
    def waiting(self) -> int:
        return len(self._urgent) + len(self._normal)

    @asynccontextmanager
    async def turn(self, *, urgent: bool = False) -> AsyncIterator[None]:
        if self._busy or self.waiting:
            line = self._urgent if urgent else self._normal
            handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            line.append(handed)
            try:
                await handed
            except BaseException:
                if handed.done() and not handed.cancelled():
                    self._hand_over()  # the turn came just as this waiter was cancelled: pass it on
                else:
                    line.remove(handed)
                    if not self._busy and not self.waiting:
                        self._on_idle()
                raise
        else:
            self._busy = True
        try:
            yield
        finally:
            self._hand_over()

    def _hand_over(self) -> None:
        for line in (self._urgent, self._normal):
            while line:
                handed = line.popleft()
                if not handed.done():
                    handed.set_result(None)  # still busy: the turn passes straight to it
                    return
        self._busy = False
        self._on_idle()


class _Batch:
    def __init__(self) -> None:
        self.committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.writes = 0
        self.urgent = False


class GroupedWriter:
    """The write side of one connection: `transaction()` and `statement()` (see the module doc)."""

    def __init__(self, conn: aiosqlite.Connection, typed_errors: TypedErrors) -> None:
        self._conn = conn
        self._typed_errors = typed_errors
        self._turns = Turns(self._on_idle)
        self._batch: _Batch | None = None
        self._closers: set[asyncio.Task[None]] = set()

    @asynccontextmanager
    async def transaction(self, *, urgent: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """The body's statements, all or nothing, durable once this returns."""
        async with self._turns.turn(urgent=urgent):
            with self._typed_errors():
                batch = await self._join(urgent)
                await self._conn.execute("SAVEPOINT write")
                try:
                    yield self._conn
                    await self._conn.execute("RELEASE write")
                except BaseException as error:
                    await self._undo(batch, error)
                    await self._commit_others(batch)
                    raise
                await self._commit_if_due(batch)
        await self._committed(batch)

    async def statement(self, sql: str, params: Any, *, urgent: bool = False) -> list[aiosqlite.Row]:
        """One write statement and its rows (e.g. INSERT … RETURNING), durable once this returns.
        A single statement is atomic by itself: no savepoint needed."""
        async with self._turns.turn(urgent=urgent):
            with self._typed_errors():
                batch = await self._join(urgent)
                try:
                    rows = list(await self._conn.execute_fetchall(sql, params))
                except BaseException as error:
                    self._fail_if_aborted(batch, error)
                    await self._commit_others(batch)
                    raise
                await self._commit_if_due(batch)
        await self._committed(batch)
        return rows

    async def _join(self, urgent: bool) -> _Batch:
        if self._batch is None:
            await self._conn.execute("BEGIN IMMEDIATE")
            self._batch = _Batch()
        self._batch.writes += 1
        self._batch.urgent |= urgent
        return self._batch

    async def _undo(self, batch: _Batch, error: BaseException) -> None:
        """Roll back this write only, or, when SQLite already ended the transaction, fail the batch."""
        if self._fail_if_aborted(batch, error):
            return
        try:
            await self._conn.execute("ROLLBACK TO write")
            await self._conn.execute("RELEASE write")
        except aiosqlite.Error as undo_error:  # e.g. the file is damaged: keep the first error
            log.warning("undoing one write failed: %s", undo_error)
            await self._rollback(batch, error)

    def _fail_if_aborted(self, batch: _Batch, error: BaseException) -> bool:
        """SQLite rolls back the whole transaction on some errors (a full disk, an I/O error):
        then every write of the batch is lost, and each of them fails with that error."""
        if self._batch is batch and not self._conn.in_transaction:
            self._batch = None
            self._settle(batch, error)
            return True
        return False

    async def _commit_others(self, batch: _Batch) -> None:
        """After a failed write: commit what the rest of its batch wrote, if it is due. A failure
        here reaches those writes through the batch; the failed write reports its own error."""
        try:
            await self._commit_if_due(batch)
        except Exception as error:  # noqa: BLE001 - settled on the batch for the writes it concerns
            log.warning("committing a batch after a failed write failed: %s", error)

    async def _commit_if_due(self, batch: _Batch) -> None:
        """Commit when nobody else is waiting to join, the batch holds an urgent write, or it is full."""
        if self._batch is not batch:
            return
        if self._turns.waiting and not batch.urgent and batch.writes < MAX_BATCH:
            return
        self._batch = None
        try:
            await self._conn.execute("COMMIT")
        except BaseException as error:
            await self._rollback(batch, error)
            raise
        self._settle(batch, None)

    def _on_idle(self) -> None:
        """Nobody holds or waits for a turn: a batch still open (its last joiner gave up waiting)
        is committed now, so its writes are not left waiting for a writer that never comes."""
        if self._batch is None:
            return
        closer = asyncio.get_running_loop().create_task(self._close_open_batch())
        self._closers.add(closer)
        closer.add_done_callback(self._closers.discard)

    async def _close_open_batch(self) -> None:
        async with self._turns.turn(urgent=True):
            batch = self._batch
            if batch is not None:
                batch.urgent = True
                with contextlib.suppress(Exception):  # settled on the batch for its writes
                    await self._commit_if_due(batch)

    async def _rollback(self, batch: _Batch, error: BaseException) -> None:
        self._batch = None
        with contextlib.suppress(aiosqlite.Error):
            if self._conn.in_transaction:
                await self._conn.execute("ROLLBACK")
        self._settle(batch, error)

    @staticmethod
    def _settle(batch: _Batch, error: BaseException | None) -> None:
        if batch.committed.done():
            return
        if error is None:
            batch.committed.set_result(None)
        else:
            batch.committed.set_exception(error)
            batch.committed.exception()  # retrieved: a batch nobody else waits on is not "unhandled"

    async def _committed(self, batch: _Batch) -> None:
        with self._typed_errors():
            await asyncio.shield(batch.committed)
