"""Durable intake (issue 8, item 1): stored before the ack, deduplicated by key, replayed after
a crash, answered "busy" when storage is too slow, and never two jobs for one request."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from bot.intake import Admission, IntakeDesk
from storage.store import Store
from tests.helpers import make_settings
from tests.integration.helpers import ALICE, THREAD, running_bot


async def open_store(data_dir: Path) -> Store:
    settings = make_settings(data_dir)
    return await Store.open(settings.database_path, settings.blobs_dir)


async def test_a_request_is_handled_once_and_replayed_after_a_crash(data_dir: Path) -> None:
    store = await open_store(data_dir)
    try:
        desk = IntakeDesk(store.intake)
        first = await desk.receive("test", "test:evt:1", "command", {"text": "a fox"})
        assert first.admission is Admission.HANDLE
        for _ in range(3):  # redeliveries while it is being handled
            assert (
                await desk.receive("test", "test:evt:1", "command", {"text": "a fox"})
            ).admission is Admission.DUPLICATE
        await desk.note("test:evt:1", "parent_ts", "1700000000.000100")
        # The process dies here: the request was acknowledged but never finished.
    finally:
        await store.close()

    store = await open_store(data_dir)  # the next start
    try:
        desk = IntakeDesk(store.intake, max_attempts=2)
        assert (await desk.receive("test", "test:evt:1", "command", {})).admission is Admission.DUPLICATE
        again, given_up = await desk.replayable("test")
        assert [row.key for row in again] == ["test:evt:1"]
        assert given_up == []
        assert again[0].payload == {"text": "a fox"}
        assert again[0].notes == {"parent_ts": "1700000000.000100"}
        assert (await desk.replayable("test")) == ([], [])  # in hand now: not handed out twice
        await desk.finish("test:evt:1")
        assert (await desk.replayable("test")) == ([], [])
        assert (await desk.receive("test", "test:evt:1", "command", {})).admission is Admission.DUPLICATE
    finally:
        await store.close()


async def test_a_request_that_keeps_crashing_is_given_up_on(data_dir: Path) -> None:
    store = await open_store(data_dir)
    try:
        await IntakeDesk(store.intake).receive("test", "test:evt:2", "command", {})
        for _attempt in range(2):  # two restarts, each crashing while handling it again
            again, _ = await IntakeDesk(store.intake, max_attempts=3).replayable("test")
            assert [row.key for row in again] == ["test:evt:2"]
        again, given_up = await IntakeDesk(store.intake, max_attempts=3).replayable("test")
        assert again == []
        assert [row.key for row in given_up] == ["test:evt:2"]
        assert (await IntakeDesk(store.intake).replayable("test")) == ([], [])
    finally:
        await store.close()


async def test_a_locked_database_is_answered_busy_in_time_and_never_run_later(data_dir: Path) -> None:
    store = await open_store(data_dir)
    holder = sqlite3.connect(data_dir / "imagebot.sqlite3", timeout=0, isolation_level=None)
    try:
        desk = IntakeDesk(store.intake, store_timeout=0.5)
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the database
        started = time.monotonic()
        ticket = await desk.receive("test", "test:evt:3", "command", {"text": "x"})
        assert ticket.admission is Admission.BUSY
        assert time.monotonic() - started < 2.5  # the ack is not held up by the lock
        holder.execute("COMMIT")
        await desk.close()  # the late write lands, and is dropped at once
        assert (await desk.replayable("test")) == ([], [])
        # The platform's redelivery of what was answered busy is taken in, not dropped as a repeat.
        assert (
            await desk.receive("test", "test:evt:3", "command", {"text": "x"})
        ).admission is Admission.HANDLE
    finally:
        holder.close()
        await store.close()


async def test_one_request_never_makes_two_jobs(data_dir: Path) -> None:
    async with running_bot(make_settings(data_dir)) as (bot, presenter):
        ticket = await bot.intake.receive("test", "test:evt:4", "command", {})
        with bot.intake.handling(ticket.key):
            first = await bot.imagine(ALICE, THREAD, "a red kite --n 1")
        # Crashed before finishing the intake row; on replay the same request is handled again.
        with bot.intake.handling(ticket.key):
            again = await bot.imagine(ALICE, THREAD, "a red kite --n 1")
        assert first.job_id == again.job_id
        await presenter.final(first.job_id)
        with sqlite3.connect(data_dir / "imagebot.sqlite3") as conn:
            assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 1
        other = await bot.imagine(ALICE, THREAD, "a red kite --n 1")  # a new request: a new job
        assert other.job_id != first.job_id
        await presenter.final(other.job_id)


async def test_handled_requests_are_forgotten_after_a_week(data_dir: Path) -> None:
    store = await open_store(data_dir)
    try:
        desk = IntakeDesk(store.intake)
        for key, age_days in (("test:old", 8), ("test:new", 1)):
            await desk.receive("test", key, "command", {})
            await store.intake.finish(key, now=time.time() - age_days * 86400)
            desk.release(key)
        assert await desk.prune() == 1
        assert (await desk.receive("test", "test:old", "command", {})).admission is Admission.HANDLE
        assert (await desk.receive("test", "test:new", "command", {})).admission is Admission.DUPLICATE
    finally:
        await store.close()


async def test_a_burst_is_stored_together_and_each_key_is_handled_once(data_dir: Path) -> None:
    store = await open_store(data_dir)
    try:
        desk = IntakeDesk(store.intake)
        writes = 0
        real = store.intake.receive_many

        async def counted(requests):
            nonlocal writes
            writes += 1
            return await real(requests)

        store.intake.receive_many = counted  # type: ignore[method-assign]
        keys = [f"test:burst:{k % 10}" for k in range(20)]  # every key delivered twice, at once
        tickets = await asyncio.gather(*(desk.receive("test", key, "command", {"k": key}) for key in keys))
        handled = sorted(t.key for t in tickets if t.admission is Admission.HANDLE)
        assert handled == sorted(set(keys))  # each key once, the copies dropped
        assert sum(t.admission is Admission.DUPLICATE for t in tickets) == 10
        assert writes <= 2  # a burst goes to the database together, not one write per request
    finally:
        await store.close()
    store = await open_store(data_dir)  # and every one of them was really stored
    try:
        again, _ = await IntakeDesk(store.intake).replayable("test")
        assert sorted(row.key for row in again) == sorted(set(keys))
    finally:
        await store.close()
