"""Saved prompt templates (bot/templates.py), per shelf: a person's in a workspace, or the
workspace's own."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from typing import Any

import aiosqlite

from bot.domain import OptionOverrides
from bot.templates import Part, Renamed, Scope, Shelf, Template, TemplateBody
from storage.db import Database

_SHELF = "platform=? AND workspace=? AND owner=?"


class TemplateRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, shelf: Shelf, name: str) -> Template | None:
        row = await self.db.fetchone(
            f"SELECT * FROM templates WHERE {_SHELF} AND name_key=?", (*_key(shelf), name.lower())
        )
        return None if row is None else _template(row)

    async def on_shelves(self, shelves: Sequence[Shelf]) -> list[Template]:
        """Every template on these shelves, by name (one query)."""
        if not shelves:
            return []
        matches = " OR ".join(f"({_SHELF})" for _ in shelves)
        rows = await self.db.fetchall(
            f"SELECT * FROM templates WHERE {matches} ORDER BY name_key, owner",
            tuple(part for shelf in shelves for part in _key(shelf)),
        )
        return [_template(row) for row in rows]

    async def add(self, shelf: Shelf, template: Template) -> bool:
        now = time.time()
        added = await self.db.write_returning(
            "INSERT INTO templates (platform, workspace, owner, name, name_key, body_json, created_by,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            (
                *_key(shelf),
                template.name,
                template.name.lower(),
                json.dumps(_body_json(template.body), sort_keys=True),
                template.created_by,
                now,
                now,
            ),
        )
        return bool(added)

    async def rename(self, shelf: Shelf, old: str, new: str) -> Renamed:
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                f"SELECT id FROM templates WHERE {_SHELF} AND name_key=?", (*_key(shelf), old.lower())
            )
            found = await cursor.fetchone()
            if found is None:
                return "missing"
            cursor = await conn.execute(
                f"SELECT id FROM templates WHERE {_SHELF} AND name_key=? AND id<>?",
                (*_key(shelf), new.lower(), found["id"]),
            )
            if await cursor.fetchone() is not None:
                return "taken"
            await conn.execute(
                "UPDATE templates SET name=?, name_key=?, updated_at=? WHERE id=?",
                (new, new.lower(), time.time(), found["id"]),
            )
            return "renamed"

    async def delete(self, shelf: Shelf, name: str) -> bool:
        deleted = await self.db.write_returning(
            f"DELETE FROM templates WHERE {_SHELF} AND name_key=? RETURNING id", (*_key(shelf), name.lower())
        )
        return bool(deleted)


def _key(shelf: Shelf) -> tuple[str, str, str]:
    return shelf.platform, shelf.workspace, shelf.owner


def _body_json(body: TemplateBody) -> dict[str, Any]:
    flags = {k: v for k, v in dataclasses.asdict(body.flags).items() if v is not None}
    return {"parts": [{"prompt": p.prompt, "label": p.label} for p in body.parts], "flags": flags}


def _template(row: aiosqlite.Row) -> Template:
    body = json.loads(row["body_json"])
    known = {f.name for f in dataclasses.fields(OptionOverrides)}
    flags = OptionOverrides(**{k: v for k, v in body.get("flags", {}).items() if k in known})
    parts = tuple(Part(p["prompt"], p.get("label")) for p in body["parts"])
    scope: Scope = "personal" if row["owner"] else "workspace"
    return Template(row["name"], TemplateBody(parts, flags), scope, row["created_by"])
