"""Sessions, images, their lineage and image sets."""

from __future__ import annotations

import json
import time

import aiosqlite

from bot.domain import ImageSet, Operation, Session, SessionKey, StoredImage
from bot.records import ImageParams
from storage.db import Database


def _session(row: aiosqlite.Row) -> Session:
    return Session(
        id=row["id"],
        key=SessionKey(row["platform"], row["workspace"], row["channel"], row["thread"]),
        current_image_id=row["current_image_id"],
        last_set_id=row["last_set_id"],
        awaiting_pick=bool(row["awaiting_pick"]),
        created_at=row["created_at"],
    )


class ImageRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- sessions -------------------------------------------------------------------------------
    async def session_for(self, key: SessionKey) -> Session:
        """The session of this thread, created on first use."""
        row = await self.db.fetchone(
            "SELECT * FROM sessions WHERE platform=? AND workspace=? AND channel=? AND thread=?",
            (key.platform, key.workspace, key.channel, key.thread),
        )
        if row is None:
            created = await self.db.write_returning(
                "INSERT INTO sessions (platform, workspace, channel, thread, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING *",
                (key.platform, key.workspace, key.channel, key.thread, time.time()),
            )
            # Nothing returned: another request made it in the meantime; read that one.
            row = (
                created[0]
                if created
                else await self.db.fetchone(
                    "SELECT * FROM sessions WHERE platform=? AND workspace=? AND channel=? AND thread=?",
                    (key.platform, key.workspace, key.channel, key.thread),
                )
            )
        if row is None:
            raise RuntimeError(f"session {key} is missing right after it was stored")
        return _session(row)

    async def find_session(self, key: SessionKey) -> Session | None:
        row = await self.db.fetchone(
            "SELECT * FROM sessions WHERE platform=? AND workspace=? AND channel=? AND thread=?",
            (key.platform, key.workspace, key.channel, key.thread),
        )
        return _session(row) if row else None

    async def session(self, session_id: int) -> Session:
        row = await self.db.fetchone("SELECT * FROM sessions WHERE id=?", (session_id,))
        if row is None:
            raise KeyError(session_id)
        return _session(row)

    async def set_current(
        self, session_id: int, image_id: str | None, *, last_set_id: str | None = None, awaiting_pick: bool
    ) -> None:
        async with self.db.transaction() as conn:
            await set_current_in(conn, session_id, image_id, last_set_id, awaiting_pick)

    # --- images ---------------------------------------------------------------------------------
    async def image(self, image_id: str, *, within: SessionKey) -> StoredImage | None:
        """The image with this id, if it belongs to the workspace of `within`: another
        workspace's id is answered exactly like an unknown one."""
        row = await self.db.fetchone(
            "SELECT images.* FROM images JOIN sessions ON sessions.id = images.session_id"
            " WHERE images.id=? AND sessions.platform=? AND sessions.workspace=?",
            (image_id, within.platform, within.workspace),
        )
        if row is None:
            return None
        parents = await self.db.fetchall(
            "SELECT parent_id FROM image_parents WHERE image_id=? ORDER BY position", (image_id,)
        )
        return _image(row, tuple(p["parent_id"] for p in parents))

    async def image_set(self, set_id: str, *, within: SessionKey) -> ImageSet | None:
        """The set with this id, if it belongs to the workspace of `within` (as `image`)."""
        row = await self.db.fetchone(
            "SELECT image_sets.* FROM image_sets JOIN sessions ON sessions.id = image_sets.session_id"
            " WHERE image_sets.id=? AND sessions.platform=? AND sessions.workspace=?",
            (set_id, within.platform, within.workspace),
        )
        if row is None:
            return None
        members = await self.db.fetchall("SELECT id FROM images WHERE set_id=? ORDER BY set_index", (set_id,))
        return ImageSet(
            id=row["id"],
            session_id=row["session_id"],
            operation=Operation(row["operation"]),
            prompt=row["prompt"],
            image_ids=tuple(m["id"] for m in members),
            requester=row["requester"],
            created_at=row["created_at"],
            job_id=row["job_id"],
        )

    async def session_history(self, session_id: int, limit: int = 10) -> list[StoredImage]:
        """Most recent images of one session first."""
        rows = await self.db.fetchall(
            "SELECT * FROM images WHERE session_id=? ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (session_id, limit),
        )
        return [_image(row, ()) for row in rows]

    async def requester_history(
        self, requester: str, *, within: SessionKey, limit: int = 10
    ) -> list[StoredImage]:
        """Most recent images of one person first, in the workspace of `within` only."""
        rows = await self.db.fetchall(
            "SELECT images.* FROM images JOIN sessions ON sessions.id = images.session_id"
            " WHERE images.requester=? AND sessions.platform=? AND sessions.workspace=?"
            " ORDER BY images.created_at DESC, images.rowid DESC LIMIT ?",
            (requester, within.platform, within.workspace, limit),
        )
        return [_image(row, ()) for row in rows]

    async def add_upload(self, image: StoredImage) -> None:
        """Record an uploaded image (its blob is already stored)."""
        async with self.db.transaction() as conn:
            await insert_images(conn, [image])


async def insert_images(
    conn: aiosqlite.Connection, images: list[StoredImage], job_id: str | None = None
) -> None:
    """Insert images and their parents, one trip to the database thread per table (a set of four
    would otherwise be eight trips, each waiting its turn on a busy writer)."""
    await conn.executemany(
        "INSERT INTO images (id, session_id, set_id, set_index, blob, mime, width, height, operation,"
        " prompt, params_json, revised_prompt, requester, input_tokens, output_tokens, cost_usd, label,"
        " job_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                image.id,
                image.session_id,
                image.set_id,
                image.set_index,
                image.blob,
                image.mime,
                image.width,
                image.height,
                image.operation.value,
                image.prompt,
                json.dumps(image.params.to_json(), sort_keys=True),
                image.revised_prompt,
                image.requester,
                image.input_tokens,
                image.output_tokens,
                image.cost_usd,
                image.label,
                job_id,
                image.created_at,
            )
            for image in images
        ],
    )
    parents = [
        (image.id, parent, position) for image in images for position, parent in enumerate(image.parents)
    ]
    if parents:
        await conn.executemany(
            "INSERT INTO image_parents (image_id, parent_id, position) VALUES (?, ?, ?)", parents
        )


async def insert_set(conn: aiosqlite.Connection, image_set: ImageSet) -> None:
    await conn.execute(
        "INSERT INTO image_sets (id, session_id, job_id, operation, prompt, requester, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            image_set.id,
            image_set.session_id,
            image_set.job_id,
            image_set.operation.value,
            image_set.prompt,
            image_set.requester,
            image_set.created_at,
        ),
    )


async def set_current_in(
    conn: aiosqlite.Connection,
    session_id: int,
    image_id: str | None,
    last_set_id: str | None,
    awaiting_pick: bool,
) -> None:
    if last_set_id is None:
        await conn.execute(
            "UPDATE sessions SET current_image_id=?, awaiting_pick=? WHERE id=?",
            (image_id, int(awaiting_pick), session_id),
        )
    else:
        await conn.execute(
            "UPDATE sessions SET current_image_id=?, last_set_id=?, awaiting_pick=? WHERE id=?",
            (image_id, last_set_id, int(awaiting_pick), session_id),
        )


def _image(row: aiosqlite.Row, parents: tuple[str, ...]) -> StoredImage:
    return StoredImage(
        id=row["id"],
        session_id=row["session_id"],
        blob=row["blob"],
        mime=row["mime"],
        width=row["width"],
        height=row["height"],
        operation=Operation(row["operation"]),
        prompt=row["prompt"],
        params=ImageParams.from_json(json.loads(row["params_json"])),
        requester=row["requester"],
        created_at=row["created_at"],
        parents=parents,
        set_id=row["set_id"],
        set_index=row["set_index"],
        revised_prompt=row["revised_prompt"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        cost_usd=row["cost_usd"],
        label=row["label"],
    )
