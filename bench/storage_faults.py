"""Storage faults through the whole core, counted (issue 8's fault matrix, the storage rows).

`python -m bench.storage_faults` runs two scenarios on the offline provider and prints, for each,
how many requests were answered, how many jobs ended done or failed (with a message), and how
many were lost (never answered), stuck (still queued or running once the fault is over) or
doubled (two results for one request):

- a write-locked database: another connection holds SQLite's write lock for LOCK_SECONDS while a
  burst of requests arrives and jobs run;
- a full disk: the blob directory is a small tmpfs filled up for FULL_SECONDS (needs root to
  mount; skipped with a note otherwise).

Figures, not pass/fail: the tests (tests/integration/test_storage_faults.py, test_queue_recovery.py)
hold the properties; this shows them at the durations the issue names.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.waiter import Waiter
from bot.answers import Outcome, Queued
from bot.config import Settings
from bot.domain import SessionKey, UserRef
from bot.providers.offline import OfflineProvider
from storage.store import Store
from tests.helpers import build_bot

LOCK_SECONDS = 30.0
FULL_SECONDS = 12.0
BURST = 10
PEOPLE = [UserRef("bench", f"u{k}", f"User {k}") for k in range(BURST)]
WHERE = SessionKey("bench", "w", "c", "t")


async def scenario(
    data_dir: Path,
    fault_on: Callable[[], object],
    fault_off: Callable[[], object],
    fault_seconds: float,
    *,
    fault_first: bool = True,
) -> dict[str, int]:
    """A burst of requests with the fault in force from before they arrive (`fault_first`) or
    from right after they were accepted (so it hits the running jobs)."""
    settings = Settings(_env_file=None, imagebot_data_dir=data_dir, imagebot_provider="offline")
    store = await Store.open(settings.database_path, settings.blobs_dir)
    bot = build_bot(settings, store, OfflineProvider())
    waiter = Waiter()
    bot.register_presenter("bench", waiter)
    await bot.start()
    counts = dict(requests=BURST, answered=0, refused=0, done=0, failed=0, lost=0, stuck=0, doubled=0)
    try:
        if fault_first:
            fault_on()
        started = time.monotonic()
        answer_times: list[float] = []

        async def ask(k: int, person: UserRef) -> Outcome:
            asked = time.monotonic()
            reply = await bot.imagine(person, WHERE, f"a lighthouse {k} --n 4")
            answer_times.append(time.monotonic() - asked)
            return reply

        replies = await asyncio.gather(*(ask(k, person) for k, person in enumerate(PEOPLE)))
        counts["slowest answer ms"] = round(max(answer_times) * 1000)
        if not fault_first:
            fault_on()
        counts["answered"] = sum(1 for r in replies if r.text)
        counts["refused"] = sum(1 for r in replies if not isinstance(r, Queued))
        jobs = [r.job.id for r in replies if isinstance(r, Queued)]
        await asyncio.sleep(max(0.0, fault_seconds - (time.monotonic() - started)))
        fault_off()
        outcomes = await asyncio.wait_for(asyncio.gather(*(waiter.wait(j) for j in jobs)), 120)
        counts["done"] = sum(1 for u in outcomes if u.stage.value == "done")
        counts["failed"] = sum(
            1 for u in outcomes if u.stage.value == "failed" and u.result and u.result.text
        )
        counts["lost"] = BURST - counts["refused"] - len(outcomes)
        await bot.runner.sweep()  # record what the fault kept the database from recording
        with sqlite3.connect(settings.database_path) as conn:
            counts["stuck"] = conn.execute(
                "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')"
            ).fetchone()[0]
            per_job = conn.execute("SELECT job_id FROM images GROUP BY job_id HAVING COUNT(*) > 4").fetchall()
            counts["doubled"] = len(per_job)
    finally:
        await bot.stop()
        await bot.provider.close()
        await store.close()
    return counts


async def locked_database(*, fault_first: bool) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        await (await Store.open(data_dir / "imagebot.sqlite3", data_dir / "blobs")).close()  # migrated
        holder = sqlite3.connect(data_dir / "imagebot.sqlite3", timeout=10, isolation_level=None)

        def lock() -> None:
            holder.execute("BEGIN IMMEDIATE")

        def unlock() -> None:
            holder.execute("COMMIT")

        try:
            return await scenario(data_dir, lock, unlock, LOCK_SECONDS, fault_first=fault_first)
        finally:
            holder.close()


async def full_disk(*, fault_first: bool) -> dict[str, int] | None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        blobs = data_dir / "blobs"
        blobs.mkdir(parents=True)
        mounted = await asyncio.to_thread(
            subprocess.run, ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(blobs)], check=False
        )
        if mounted.returncode != 0:
            return None
        filler = blobs / "filler"
        try:

            def fill() -> None:
                with filler.open("wb") as handle:
                    try:
                        while True:
                            handle.write(b"\0" * 65536)
                            handle.flush()
                    except OSError:
                        pass

            return await scenario(data_dir, fill, filler.unlink, FULL_SECONDS, fault_first=fault_first)
        finally:
            await asyncio.to_thread(subprocess.run, ["umount", "-l", str(blobs)], check=False)


def show(name: str, counts: dict[str, int] | None) -> None:
    if counts is None:
        print(f"{name}: skipped (mounting a tmpfs needs root)")
        return
    print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def main() -> None:
    for first, when in ((True, "before the requests"), (False, "while the jobs run")):
        show(
            f"database write-locked for {LOCK_SECONDS:.0f} s {when}, {BURST} requests",
            asyncio.run(locked_database(fault_first=first)),
        )
        show(
            f"blob disk full for {FULL_SECONDS:.0f} s {when}, {BURST} requests",
            asyncio.run(full_disk(fault_first=first)),
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
