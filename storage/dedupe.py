"""Delivery dedupe: remember keys of platform deliveries already handled.

Chat platforms deliver at least once (Slack's Events API retries, Socket Mode redeliveries). The
first delivery of a key wins; the unique key in SQLite makes that true across restarts and for
every process sharing the database.
"""

from __future__ import annotations

import time

from storage.db import Database


async def first_time(db: Database, key: str, *, now: float | None = None) -> bool:
    """Record `key`; True if it was not seen before (the caller should handle it), else False."""
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "INSERT OR IGNORE INTO seen_deliveries (key, seen_at) VALUES (?, ?)",
            (key, time.time() if now is None else now),
        )
        return cursor.rowcount == 1


async def forget_before(db: Database, cutoff: float) -> int:
    """Drop keys seen before `cutoff` (epoch seconds); returns how many were dropped."""
    async with db.transaction() as conn:
        cursor = await conn.execute("DELETE FROM seen_deliveries WHERE seen_at < ?", (cutoff,))
        return cursor.rowcount
