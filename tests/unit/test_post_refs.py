"""Where a job's messages were posted: typed references, and rows written before they were typed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.records import PostKind, PostRef
from storage.db import Database, _migrations, _statements
from storage.jobs import JobRepo


def _database_at_version_5(path: Path, rows: list[tuple[str, str]]) -> None:
    """A database as the previous release left it, with posts recorded as 'kind:channel:msg'."""
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL DEFAULT (datetime('now')))"
    )
    for version, name, sql in _migrations():
        if version > 5:
            break
        for statement in _statements(sql):
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name))
    for job_id, ref in rows:
        conn.execute(
            "INSERT INTO posts (job_id, platform, message_ref, created_at) VALUES (?, 'slack', ?, 1.0)",
            (job_id, ref),
        )
    conn.commit()
    conn.close()


async def test_posts_recorded_by_the_previous_release_read_as_typed_references(tmp_path: Path) -> None:
    path = tmp_path / "imagebot.db"
    _database_at_version_5(
        path,
        [("job1", "status:C1:1700.1"), ("job1", "upload:C1:-"), ("job1", "result:C1:1700.5")],
    )
    db = await Database.open(path)
    try:
        posts = await JobRepo(db).posts("job1")
    finally:
        await db.close()
    assert posts == [
        PostRef(PostKind.STATUS, "C1", "1700.1"),
        PostRef(PostKind.UPLOAD, "C1", None),
        PostRef(PostKind.RESULT, "C1", "1700.5"),
    ]


async def test_recording_the_same_post_twice_keeps_one(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "imagebot.db")
    try:
        repo = JobRepo(db)
        for _ in range(2):
            await repo.record_post("job1", "discord", PostRef(PostKind.RESULT, "123", "456"))
            await repo.record_post("job1", "discord", PostRef(PostKind.UPLOAD, "123"))
        assert await repo.posts("job1") == [
            PostRef(PostKind.RESULT, "123", "456"),
            PostRef(PostKind.UPLOAD, "123", None),
        ]
    finally:
        await db.close()
