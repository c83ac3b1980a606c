"""House styles (the `styles` table, migration 0009) and the uploads saved with them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

import aiosqlite

from bot.domain import StoredImage
from bot.style_records import WORKSPACE, Style, StyleScope
from storage.db import Database
from storage.images import insert_images


def _style(row: aiosqlite.Row) -> Style:
    return Style(
        id=row["id"],
        scope=StyleScope(row["platform"], row["workspace"], row["owner"]),
        name=row["name"],
        text=row["text"],
        image_ids=tuple(json.loads(row["image_ids"])),
        created_by=row["created_by"],
        created_at=row["created_at"],
    )


class StyleRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def visible(self, platform: str, workspace: str, person: str) -> list[Style]:
        """The person's own styles and the workspace's, by name."""
        rows = await self.db.fetchall(
            "SELECT * FROM styles WHERE platform=? AND workspace=? AND owner IN (?, ?) ORDER BY name_key, owner",
            (platform, workspace, person, WORKSPACE),
        )
        return [_style(row) for row in rows]

    async def add(
        self,
        scope: StyleScope,
        name: str,
        text: str,
        uploads: Sequence[StoredImage],
        image_ids: Sequence[str],
        created_by: str,
        now: float,
    ) -> bool:
        """The style and its uploaded images in one transaction: a taken name stores neither."""
        try:
            async with self.db.transaction() as conn:
                await conn.execute(
                    "INSERT INTO styles (platform, workspace, owner, name, name_key, text, image_ids,"
                    " created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        scope.platform,
                        scope.workspace,
                        scope.owner,
                        name,
                        name.lower(),
                        text,
                        json.dumps(list(image_ids)),
                        created_by,
                        now,
                        now,
                    ),
                )
                if uploads:
                    await insert_images(conn, list(uploads))
        except sqlite3.IntegrityError:
            return False
        return True

    async def rename(self, style_id: int, name: str, now: float) -> bool:
        try:
            await self.db.execute(
                "UPDATE styles SET name=?, name_key=?, updated_at=? WHERE id=?",
                (name, name.lower(), now, style_id),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    async def set_text(self, style_id: int, text: str, now: float) -> None:
        await self.db.execute("UPDATE styles SET text=?, updated_at=? WHERE id=?", (text, now, style_id))

    async def delete(self, style_id: int) -> None:
        """The style only: images made with it, and its reference images, stay."""
        await self.db.execute("DELETE FROM styles WHERE id=?", (style_id,))
