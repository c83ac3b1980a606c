"""Stored default options (the /settings command) per person, channel and workspace."""

from __future__ import annotations

import dataclasses
import json
import time

from bot.domain import OptionOverrides
from storage.db import Database


class PreferenceRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, scope: str, scope_id: str) -> OptionOverrides:
        row = await self.db.fetchone(
            "SELECT values_json FROM preferences WHERE scope=? AND scope_id=?", (scope, scope_id)
        )
        if row is None:
            return OptionOverrides()
        known = {f.name for f in dataclasses.fields(OptionOverrides)}
        return OptionOverrides(**{k: v for k, v in json.loads(row["values_json"]).items() if k in known})

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
