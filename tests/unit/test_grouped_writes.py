"""Writes under load (storage/writes.py): grouped commits, one failure kept to itself, urgent
writes first, and reads that never wait behind a write."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import Database
from tests.helpers import count_commits

INSERT_SESSION = (
    "INSERT INTO sessions (platform, workspace, channel, thread, created_at) VALUES (?, ?, ?, ?, 0)"
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "imagebot.sqlite3")
    yield database
    await database.close()


async def sessions(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) AS n FROM sessions")
    assert row is not None
    return int(row["n"])


async def test_writes_arriving_together_share_commits_and_all_last(db: Database) -> None:
    commits = await count_commits(db)
    await asyncio.gather(*(db.execute(INSERT_SESSION, ("p", "w", "c", f"t{i}")) for i in range(100)))
    assert await sessions(db) == 100
    assert 1 <= len(commits) <= 10, len(commits)  # one per write would be 100


async def test_a_failing_write_in_a_batch_takes_only_itself_back(db: Database) -> None:
    await db.execute(INSERT_SESSION, ("p", "w", "c", "taken"))

    async def in_a_transaction(thread: str) -> None:
        async with db.transaction() as conn:
            await conn.execute(INSERT_SESSION, ("p", "w", "c", f"{thread}-first"))
            await conn.execute(INSERT_SESSION, ("p", "w", "c", thread))

    results = await asyncio.gather(
        *(in_a_transaction(f"t{i}") for i in range(10)),
        in_a_transaction("taken"),  # its second insert breaks the unique thread: all of it goes
        *(db.execute(INSERT_SESSION, ("p", "w", "c", f"s{i}")) for i in range(10)),
        return_exceptions=True,
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1
    assert isinstance(failures[0], sqlite3.IntegrityError)
    assert await sessions(db) == 1 + 20 + 10
    assert await db.fetchone("SELECT 1 FROM sessions WHERE thread='taken-first'") is None


async def test_an_urgent_write_goes_ahead_of_waiting_job_writes(db: Database) -> None:
    finished: list[str] = []

    async def write(thread: str, *, urgent: bool = False) -> None:
        await db.execute(INSERT_SESSION, ("p", "w", "c", thread), urgent=urgent)
        finished.append(thread)

    # gather starts them in this order: the first job write is in progress, 199 wait, then the ack.
    await asyncio.gather(*(write(f"job{i}") for i in range(200)), write("ack", urgent=True))
    assert finished.index("ack") <= 1, finished[:5]  # behind the write in progress at most
    assert await sessions(db) == 201


async def test_a_read_does_not_wait_for_an_open_write_and_sees_only_what_is_committed(db: Database) -> None:
    inside = asyncio.Event()
    release = asyncio.Event()

    async def slow_write() -> None:
        async with db.transaction() as conn:
            await conn.execute(INSERT_SESSION, ("p", "w", "c", "pending"))
            inside.set()
            await release.wait()

    writer = asyncio.create_task(slow_write())
    await inside.wait()
    async with asyncio.timeout(5):
        assert await sessions(db) == 0  # answered while the write is open, without its row
    release.set()
    await writer
    assert await sessions(db) == 1
