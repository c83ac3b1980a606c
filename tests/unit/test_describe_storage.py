"""Migration 0011 and the suggestions repository: a database made before it keeps every usage
row and index, descriptions get usage rows of their own, and look-ups stay in their workspace."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.domain import SessionKey
from bot.records import UsageRow
from bot.suggestions import Suggestions
from storage.db import Database, _migrations, _statements
from storage.suggestions import SuggestionRepo

WHERE = SessionKey("slack", "T1", "C1", "171.1")


def database_before_0011(path: Path) -> None:
    """A database as the previous version left it, with one finished job and its usage row."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT (datetime('now')))"
        )
        for version, name, sql in _migrations():
            if version >= 11:
                continue
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name))
        conn.execute(
            "INSERT INTO sessions (id, platform, workspace, channel, thread, created_at)"
            " VALUES (1, 'slack', 'T1', 'C1', '171.1', 0)"
        )
        conn.execute(
            "INSERT INTO jobs (id, session_id, platform, workspace, channel, thread, requester_json,"
            " spec_json, status, created_at) VALUES ('job1', 1, 'slack', 'T1', 'C1', '171.1', '{}', '{}', 'done', 0)"
        )
        conn.execute(
            "INSERT INTO usage VALUES ('job1', 'slack', 'T1', 'slack:U1', 'gpt-image-2', 4, 10, 20, 0.5, 100.0)"
        )


async def test_0011_keeps_usage_and_lets_descriptions_count_there(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    database_before_0011(path)
    db = await Database.open(path)
    try:
        repo = SuggestionRepo(db)
        described = Suggestions(
            "abcd1234", WHERE, "slack:U1", "photo.png", ("a", "b", "c", "d"), "gpt-6.2-astra", 200.0
        )
        row = UsageRow("abcd1234", "slack", "T1", "slack:U1", "gpt-6.2-astra", 0, 900, 100, 0.01)
        await repo.record(described, row)
        usage = await db.fetchall(
            "SELECT job_id, images, cost_usd, created_at FROM usage ORDER BY created_at"
        )
        indexes = {
            r["name"] for r in await db.fetchall("SELECT name FROM sqlite_master WHERE tbl_name='usage'")
        }
        assert await repo.get("abcd1234", within=WHERE) == described
        assert await repo.get("abcd1234", within=SessionKey("slack", "T2", "C1", "171.1")) is None
        assert await repo.get("abcd1234", within=SessionKey("discord", "T1", "C1", "171.1")) is None
    finally:
        await db.close()
    assert [tuple(r) for r in usage] == [("job1", 4, 0.5, 100.0), ("abcd1234", 0, 0.01, 200.0)]
    assert {"usage_by_requester", "usage_by_workspace", "usage_by_workspace_requester"} <= indexes
