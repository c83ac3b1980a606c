"""The intake table: incoming requests, stored before they are acknowledged (see 0005_intake.sql)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import aiosqlite

from bot.records import IntakeRequest, IntakeRow
from storage.db import Database


def _row(row: aiosqlite.Row) -> IntakeRow:
    return IntakeRow(
        key=row["key"],
        platform=row["platform"],
        kind=row["kind"],
        payload=json.loads(row["payload_json"]),
        notes=json.loads(row["notes_json"]),
        attempts=row["attempts"],
        received_at=row["received_at"],
        finished_at=row["finished_at"],
    )


class IntakeRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def receive_many(self, requests: Sequence[IntakeRequest]) -> set[str]:
        """Store many requests in one statement, skipping keys
        already known; the keys stored now. One trip to SQLite for a whole burst of arrivals."""
        if not requests:
            return set()
        now = time.time()
        rows = ", ".join("(?, ?, ?, ?, 1, ?)" for _ in requests)
        params: list[Any] = []
        for request in requests:
            payload = json.dumps(request.payload, sort_keys=True)
            params += [request.key, request.platform, request.kind, payload, now]
        stored = await self.db.write_returning(
            f"INSERT INTO intake (key, platform, kind, payload_json, attempts, received_at) VALUES {rows}"
            " ON CONFLICT (key) DO NOTHING RETURNING key",
            tuple(params),
            urgent=True,  # the platform's acknowledgement waits on it: ahead of job writes
        )
        return {row["key"] for row in stored}

    async def get(self, key: str) -> IntakeRow | None:
        row = await self.db.fetchone("SELECT * FROM intake WHERE key=?", (key,))
        return _row(row) if row else None

    async def started(self, key: str) -> None:
        """Count one more attempt at handling (a request that keeps crashing is given up on)."""
        await self.db.execute("UPDATE intake SET attempts=attempts+1 WHERE key=?", (key,))

    async def note(self, key: str, name: str, value: Any) -> None:
        """Remember a fact learned while handling (read back by a replay after a crash)."""
        await self.db.execute(
            "UPDATE intake SET notes_json=json_set(notes_json, '$.' || ?, json(?)) WHERE key=?",
            (name, json.dumps(value), key),
        )

    async def finish(self, key: str, *, now: float | None = None) -> None:
        await self.db.execute(
            "UPDATE intake SET finished_at=? WHERE key=? AND finished_at IS NULL",
            (time.time() if now is None else now, key),
        )

    async def forget(self, key: str) -> None:
        """Drop a request's row as if it never arrived (it was answered "busy" instead)."""
        await self.db.execute("DELETE FROM intake WHERE key=?", (key,), urgent=True)

    async def unfinished(self, platform: str) -> list[IntakeRow]:
        rows = await self.db.fetchall(
            "SELECT * FROM intake WHERE platform=? AND finished_at IS NULL ORDER BY received_at, rowid",
            (platform,),
        )
        return [_row(row) for row in rows]

    async def forget_finished_before(self, cutoff: float) -> int:
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM intake WHERE finished_at IS NOT NULL AND finished_at < ?", (cutoff,)
            )
            return cursor.rowcount
