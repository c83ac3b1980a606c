"""Stored default options (the /settings command) per person, channel and workspace."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence

from bot.domain import OptionOverrides
from storage.db import Database


class PreferenceRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, scope: str, scope_id: str) -> OptionOverrides:
        row = await self.db.fetchone(
            "SELECT values_json FROM preferences WHERE scope=? AND scope_id=?", (scope, scope_id)
        )
        return OptionOverrides() if row is None else _overrides(row["values_json"])

    async def get_many(self, keys: Sequence[tuple[str, str]]) -> list[OptionOverrides]:
        """The stored defaults of each (scope, scope_id), in order; one query for all of them
        (every new request reads three layers)."""
        if not keys:
            return []
        matches = " OR ".join("(scope=? AND scope_id=?)" for _ in keys)
        rows = await self.db.fetchall(
            f"SELECT scope, scope_id, values_json FROM preferences WHERE {matches}",
            tuple(part for key in keys for part in key),
        )
        found = {(row["scope"], row["scope_id"]): row["values_json"] for row in rows}
        return [_overrides(found[key]) if key in found else OptionOverrides() for key in keys]

    async def put(self, scope: str, scope_id: str, values: OptionOverrides, updated_by: str) -> None:
        given = {k: v for k, v in dataclasses.asdict(values).items() if v is not None}
        async with self.db.transaction() as conn:
            if not given:
                await conn.execute("DELETE FROM preferences WHERE scope=? AND scope_id=?", (scope, scope_id))
                return
            await conn.execute(
                "INSERT INTO preferences (scope, scope_id, values_json, updated_by, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (scope, scope_id) DO UPDATE SET"
                " values_json=excluded.values_json, updated_by=excluded.updated_by, updated_at=excluded.updated_at",
                (scope, scope_id, json.dumps(given, sort_keys=True), updated_by, time.time()),
            )


def _overrides(values_json: str) -> OptionOverrides:
    known = {f.name for f in dataclasses.fields(OptionOverrides)}
    return OptionOverrides(**{k: v for k, v in json.loads(values_json).items() if k in known})
