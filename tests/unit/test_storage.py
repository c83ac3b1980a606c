"""Storage: migrations, WAL, content-addressed blobs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage import db as db_module
from storage.blobs import BlobStore
from storage.db import Database, _migrations


async def test_migrations_apply_once_in_order_with_wal(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = await Database.open(path)
    versions = [
        row["version"] for row in await db.fetchall("SELECT version FROM schema_migrations ORDER BY version")
    ]
    assert versions == [v for v, _, _ in _migrations()]
    assert versions[0] == 1
    mode = await db.fetchone("PRAGMA journal_mode")
    assert mode[0] == "wal"
    tables = {r["name"] for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sessions", "images", "image_parents", "image_sets", "jobs", "usage", "posts"} <= tables
    await db.close()
    again = await Database.open(path)
    assert await again.migrate() == []  # nothing left to apply on restart
    await again.close()


async def test_a_migration_that_fails_half_way_leaves_none_of_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = _migrations()
    broken = (9999, "9999_broken.sql", "CREATE TABLE half (x INTEGER);\nINSERT INTO nowhere VALUES (1);")
    monkeypatch.setattr(db_module, "_migrations", lambda: [*shipped, broken])
    with pytest.raises(sqlite3.OperationalError, match="no such table: nowhere"):
        await Database.open(tmp_path / "db.sqlite3")
    monkeypatch.setattr(db_module, "_migrations", lambda: shipped)
    db = await Database.open(tmp_path / "db.sqlite3")  # the shipped ones were kept, each committed
    tables = {r["name"] for r in await db.fetchall("SELECT name FROM sqlite_master WHERE type='table'")}
    versions = {r["version"] for r in await db.fetchall("SELECT version FROM schema_migrations")}
    await db.close()
    assert "half" not in tables
    assert versions == {v for v, _, _ in shipped}


async def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO sessions (platform, workspace, channel, thread, created_at) VALUES ('p','w','c','t',0)"
            )
            raise RuntimeError("crash half-way")
    except RuntimeError:
        pass
    assert (await db.fetchone("SELECT COUNT(*) AS n FROM sessions"))["n"] == 0
    await db.close()


async def test_blobs_are_content_addressed_and_written_whole(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    digest = await blobs.put(b"hello image")
    assert digest == await blobs.put(b"hello image")  # same bytes, same file
    assert await blobs.get(digest) == b"hello image"
    files = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert [p.name for p in files] == [digest]  # no temporary files left behind
