"""Every query a command, a button or a restart issues is served by an index (issue 10, item 5).

A scenario runs through the real core, on the real openai client against the fake API: /settings,
/imagine --n 4 made while handling a stored request, replies in the thread (pick, edit, undo), every
kind of button (U, V, reroll, upscale, vary, use, undo, retry, cancel), /show, /history, /usage
with budgets and a quota, /queue, an upload, the delivery log, a request answered "busy", and a
restart that recovers an interrupted and a waiting job and replays a request. Every SQL statement
the storage layer issues meanwhile is recorded with its parameters (by wrapping the `Database`
instances in this test only), then given to `EXPLAIN QUERY PLAN` on the same database: a full scan
of a table that grows with use fails, naming the statement and its plan.

Two more checks keep the scenario honest, so a new query cannot slip past: every public method of
every repository was called, and every SQL statement written in storage/ was issued.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

import storage
from bot.answers import Outcome, Queued, Stage, problem_kind
from bot.buttons import ButtonId, Verb
from bot.config import Settings
from bot.domain import Attachment, SessionKey
from bot.intake import Admission
from bot.records import PostKind, PostRef
from bot.service import ImageBot
from storage.db import Database, SqlParams
from storage.store import Store
from tests.fakes.openai import FakeOpenAI
from tests.helpers import png
from tests.integration.helpers import ADMIN, ALICE, BOB, THREAD, RecordingPresenter, running_bot
from tests.integration.test_jobs_and_limits import openai_settings

# Tables that do not grow with use: a full scan of these is as cheap as a look-up.
SMALL_TABLES = frozenset({"schema_migrations"})
# storage/db.py is the access layer: its own SQL is migrations and pragmas, run once at start.
ACCESS_LAYER = frozenset({"db.py"})
STATEMENT = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE)\s")
UPLOAD_THREAD = SessionKey("test", "team", "chan", "thread-2")


# --- recording what storage does ----------------------------------------------------------------
@dataclass
class Recording:
    statements: dict[str, SqlParams] = field(default_factory=dict)  # each distinct SQL, first params
    methods: set[str] = field(default_factory=set)  # every public repository method, "ImageRepo.image_set"
    called: set[str] = field(default_factory=set)  # those the scenario called

    def statement(self, sql: str, params: SqlParams) -> None:
        self.statements.setdefault(sql, params)


class RecordingConnection:
    """The connection `Database.transaction()` hands out, recording what is executed on it."""

    def __init__(self, conn: aiosqlite.Connection, recording: Recording) -> None:
        self._conn = conn
        self._recording = recording

    def execute(self, sql: str, params: SqlParams = ()) -> Any:
        self._recording.statement(sql, params)
        return self._conn.execute(sql, params)  # awaited or used as `async with`, as the original

    def executemany(self, sql: str, rows: list[SqlParams]) -> Any:
        if rows:
            self._recording.statement(sql, rows[0])
        return self._conn.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def record_statements(db: Database, recording: Recording, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("execute", "write_returning", "fetchone", "fetchall"):
        monkeypatch.setattr(db, name, _recorded(getattr(db, name), recording))
    transaction = db.transaction

    @asynccontextmanager
    async def recorded_transaction(**options: Any) -> AsyncIterator[RecordingConnection]:
        async with transaction(**options) as conn:
            yield RecordingConnection(conn, recording)

    monkeypatch.setattr(db, "transaction", recorded_transaction)


def _recorded(method: Callable[..., Awaitable[Any]], recording: Recording) -> Any:
    async def call(sql: str, params: SqlParams = (), **options: Any) -> Any:
        recording.statement(sql, params)
        return await method(sql, params, **options)

    return call


def repositories(store: Store) -> list[Any]:
    """The store's repositories: whatever it holds that works on its database (a repository
    added to Store later is found too)."""
    return [value for value in vars(store).values() if getattr(value, "db", None) is store.db]


def public_methods(cls: type) -> list[str]:
    return sorted(name for name, _ in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_"))


def record_calls(repo: Any, recording: Recording, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in public_methods(type(repo)):
        method = getattr(repo, name)
        assert inspect.iscoroutinefunction(method), f"{type(repo).__name__}.{name} is not async"
        label = f"{type(repo).__name__}.{name}"
        recording.methods.add(label)
        monkeypatch.setattr(repo, name, _counted(method, label, recording))


def _counted(method: Callable[..., Awaitable[Any]], label: str, recording: Recording) -> Any:
    async def call(*args: Any, **kwargs: Any) -> Any:
        recording.called.add(label)
        return await method(*args, **kwargs)

    return call


def instrumented_bot(
    settings: Settings, recording: Recording, monkeypatch: pytest.MonkeyPatch, *, grace: float = 10.0
) -> AbstractAsyncContextManager[tuple[ImageBot, RecordingPresenter]]:
    """`running_bot`, its storage recorded from the first statement after the migrations (those
    run once, not per request)."""

    def record(store: Store) -> None:
        record_statements(store.db, recording, monkeypatch)
        for repo in repositories(store):
            record_calls(repo, recording, monkeypatch)

    return running_bot(settings, grace=grace, prepare=record)


# --- the checks ---------------------------------------------------------------------------------
def growing_tables(database: Path) -> set[str]:
    with closing(sqlite3.connect(database)) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
        return {name for (name,) in rows} - SMALL_TABLES


def table_named(name: str, sql: str, tables: set[str]) -> str:
    """The table a plan line's name stands for: itself, or the table it is an alias of."""
    if name in tables:
        return name
    aliased = re.search(rf"\b(?:FROM|JOIN)\s+(\w+)\s+(?:AS\s+)?{re.escape(name)}\b", sql, re.IGNORECASE)
    return aliased.group(1) if aliased else name


def is_full_scan(line: str, sql: str, tables: set[str]) -> bool:
    """Whether a plan line reads a whole growing table.

    `SCAN t` reads every row. `SCAN t USING [COVERING] INDEX i` reads every entry of an index,
    which is no better, unless the statement walks the index in its ORDER BY and stops at a LIMIT
    (e.g. "the newest 10"). `SEARCH t USING ...` is a look-up."""
    scan = re.match(r"SCAN (\w+)( USING (?:COVERING )?INDEX \w+)?", line)
    if scan is None or table_named(scan.group(1), sql, tables) not in tables:
        return False
    walks_an_index = scan.group(2) is not None
    return not (walks_an_index and re.search(r"\bORDER BY\b.*\bLIMIT\b", sql, re.DOTALL))


def full_scans(database: Path, recording: Recording) -> list[str]:
    """Each recorded statement whose plan scans a growing table, with its parameters and plan."""
    tables = growing_tables(database)
    found = []
    with closing(sqlite3.connect(database)) as conn:
        for sql, params in recording.statements.items():
            if not STATEMENT.match(sql):
                continue
            # The statement itself is what is explained; its parameters stay bound.
            plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            if any(is_full_scan(line, sql, tables) for line in plan):
                found.append(f"{sql}\n    params: {params!r}\n    plan: " + "\n          ".join(plan))
    return found


def written_statements() -> dict[str, str]:
    """The opening text of every SQL statement written in storage/ (an f-string's up to its first
    placeholder), each with where it is written."""
    found = {}
    for path in sorted(Path(storage.__file__).parent.glob("*.py")):
        if path.name in ACCESS_LAYER:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text = _opening_text(node)
            if text is not None and STATEMENT.match(text):
                found[text] = f"storage/{path.name}:{getattr(node, 'lineno', '?')}"
    return found


def _opening_text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    return None


# --- the scenario -------------------------------------------------------------------------------
def queued(outcome: Outcome) -> Queued:
    assert isinstance(outcome, Queued), getattr(outcome, "text", outcome)
    return outcome


async def done(presenter: RecordingPresenter, outcome: Outcome) -> Any:
    final = await presenter.final(queued(outcome).job_id)
    assert final.stage is Stage.DONE, final.result
    return final


async def choose_settings(bot: ImageBot) -> None:
    for actor, scope, flags in (
        (ADMIN, "workspace", "--quality low"),
        (ADMIN, "channel", "--n 2"),
        (ALICE, "me", "--n 4"),
    ):
        assert problem_kind(await bot.update_settings(actor, THREAD, scope, flags)) is None
    await bot.settings_view(ALICE, THREAD)


async def use_templates(bot: ImageBot, presenter: RecordingPresenter) -> None:
    """Prompt templates: saved on a person's and the workspace's shelves, used, listed, renamed."""
    assert problem_kind(await bot.template(ALICE, THREAD, "save", "shot a photo of {product}")) is None
    assert problem_kind(await bot.template(ADMIN, THREAD, "save", "team a {x}", workspace=True)) is None
    await done(presenter, await bot.imagine(ALICE, THREAD, "--template shot product=kite --n 1"))
    await bot.template(ALICE, THREAD, "list", "")
    assert problem_kind(await bot.template(ALICE, THREAD, "rename", "shot kite-shot")) is None
    assert problem_kind(await bot.template(ALICE, THREAD, "delete", "kite-shot")) is None


async def imagine_a_stored_request(bot: ImageBot, presenter: RecordingPresenter) -> Any:
    """/imagine --n 4 as an adapter runs it: stored before the ack, handled, noted, finished."""
    ticket = await bot.intake.receive("test", "test:cmd:1", "command", {"text": "four kites --n 4"})
    assert ticket.admission is Admission.HANDLE
    with bot.intake.handling(ticket.key):
        grid = await done(presenter, await bot.imagine(ALICE, THREAD, "four kites --n 4"))
    await bot.intake.note(ticket.key, "status", "m-1")
    await bot.intake.finish(ticket.key)
    assert len(grid.result.images) == 4
    return grid


async def reply_in_the_thread(bot: ImageBot, presenter: RecordingPresenter) -> None:
    assert "Which image" in (await bot.reply(BOB, THREAD, "make it red")).text
    await done(presenter, await bot.reply(BOB, THREAD, "#3 make it red"))
    await done(
        presenter, await bot.reply(BOB, THREAD, "now add a sun", [Attachment("sun.png", png(256, 256))])
    )
    assert problem_kind(await bot.reply(BOB, THREAD, "undo")) is None


async def press_buttons(bot: ImageBot, presenter: RecordingPresenter, set_id: str, image_id: str) -> None:
    assert problem_kind(await bot.press(BOB, THREAD, ButtonId(Verb.U, set_id, "2"))) is None
    for button in (
        ButtonId(Verb.V, set_id, "1"),
        ButtonId(Verb.REROLL, set_id),
        ButtonId(Verb.UPSCALE, image_id),
        ButtonId(Verb.VARY_SUBTLE, image_id),
    ):
        await done(presenter, await bot.press(BOB, THREAD, button))
    assert problem_kind(await bot.press(BOB, THREAD, ButtonId(Verb.USE, image_id))) is None
    await bot.press(BOB, THREAD, ButtonId(Verb.UNDO, image_id))  # "nothing to undo": looked up all the same
    described = await bot.press(BOB, THREAD, ButtonId(Verb.DESCRIBE, image_id))
    assert problem_kind(described) is None
    suggestion = next(b for b in getattr(described, "buttons", ()) if b.verb is Verb.SUGGEST)
    await done(presenter, await bot.press(BOB, THREAD, suggestion.id))


async def look_back(bot: ImageBot, set_id: str, image_id: str) -> None:
    assert problem_kind(await bot.show(ALICE, THREAD, set_id)) is None
    assert problem_kind(await bot.show(ALICE, THREAD, image_id)) is None
    assert problem_kind(await bot.show(ALICE, THREAD, "deadbeef")) == "not_found"
    assert image_id in (await bot.history(ALICE, THREAD, limit=50)).text
    assert image_id in (await bot.history(ALICE, THREAD, mine=True, limit=50)).text
    assert (await bot.session_state(THREAD)) is not None


async def start_from_uploads(bot: ImageBot, presenter: RecordingPresenter, image_id: str) -> None:
    cat = Attachment("cat.png", png(1024, 1024))
    await done(presenter, await bot.edit_upload(ALICE, UPLOAD_THREAD, cat, "give it a hat"))
    await done(presenter, await bot.vary_upload(ALICE, UPLOAD_THREAD, cat))
    await done(presenter, await bot.edit_image(ALICE, THREAD, image_id, "make it blue"))


async def use_house_styles(bot: ImageBot, presenter: RecordingPresenter) -> None:
    """Save (with an upload), list, apply, reword, rename and delete a style (bot/styles.py)."""
    ink = Attachment("ink.png", png(256, 256))
    assert problem_kind(await bot.style(ALICE, THREAD, "save", "ink", "ink wash", [ink])) is None
    assert "`ink`" in (await bot.style(ALICE, THREAD, "list", "", "")).text
    await done(presenter, await bot.imagine(ALICE, THREAD, "a heron --style ink --n 1"))
    assert problem_kind(await bot.style(ALICE, THREAD, "words", "ink", "sumi-e brush, rice paper")) is None
    assert problem_kind(await bot.style(ALICE, THREAD, "rename", "ink", "sumi")) is None
    assert problem_kind(await bot.style(ALICE, THREAD, "delete", "sumi", "")) is None


async def fail_and_retry(bot: ImageBot, presenter: RecordingPresenter, openai: FakeOpenAI) -> None:
    openai.refuse_next()
    failed = await presenter.final(queued(await bot.imagine(ALICE, THREAD, "a storm --n 1")).job_id)
    assert failed.stage is Stage.FAILED
    await done(presenter, await bot.press(ALICE, THREAD, ButtonId(Verb.RETRY, failed.job.id)))


async def use_the_delivery_log(bot: ImageBot, grid: Any) -> None:
    """What an adapter writes and reads about its posts, and what it owes after a restart."""
    job = grid.job
    await bot.deliveries.record(job.id, "test", PostRef(PostKind.STATUS, "chan", "m-1"))
    await bot.deliveries.record(job.id, "test", PostRef(PostKind.RESULT, "chan", "m-2"))
    assert len(await bot.deliveries.posts(job.id)) == 2
    assert (await bot.deliveries.request_notes(job)) == {"status": "m-1"}
    assert await bot.job_ended(job.id)
    await bot.undelivered("test")
    await bot.unfinalised("test")


async def report(bot: ImageBot) -> None:
    for actor in (ALICE, ADMIN):
        assert "budget" in (await bot.usage(actor, THREAD)).text
    await bot.queue(ADMIN, THREAD)
    assert problem_kind(await bot.update_settings(ALICE, THREAD, "me", "reset")) is None


async def answer_busy(bot: ImageBot, database: Path) -> None:
    """A request that could not be stored in time is answered busy; its late write is dropped."""
    holder = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        ticket = await bot.intake.receive("test", "test:cmd:busy", "command", {})
        holder.execute("COMMIT")
    finally:
        holder.close()
    assert ticket.admission is Admission.BUSY
    await bot.intake.close()  # waits for the late write, and the forgetting it leads to


async def leave_work_behind(bot: ImageBot, openai: FakeOpenAI) -> tuple[str, str]:
    """A job held by the provider (interrupted by the stop), one waiting behind it, two cancelled
    (button and command), and a request stored but never handled: the next start owes them."""
    openai.gate = asyncio.Event()
    arrived = len(openai.requests) + 1
    running = queued(await bot.imagine(ALICE, THREAD, "a held kite --n 1"))
    await openai.wait_for_requests(arrived)
    waiting = queued(await bot.imagine(BOB, THREAD, "a waiting kite --n 1"))
    for how in ("button", "command"):
        doomed = queued(await bot.imagine(BOB, THREAD, f"a kite cancelled by {how} --n 1"))
        if how == "button":
            cancel = await bot.press(BOB, THREAD, ButtonId(Verb.CANCEL, doomed.job_id))
        else:
            cancel = await bot.cancel(BOB, THREAD, doomed.job_id)
        assert problem_kind(cancel) is None
    await bot.usage(BOB, THREAD)  # with reservations held
    assert running.job_id in (await bot.queue(ADMIN, THREAD)).text
    ticket = await bot.intake.receive("test", "test:cmd:later", "command", {"text": "later"})
    assert ticket.admission is Admission.HANDLE
    return running.job_id, waiting.job_id


async def first_run(
    bot: ImageBot, presenter: RecordingPresenter, openai: FakeOpenAI, database: Path
) -> tuple[str, str]:
    await choose_settings(bot)
    await use_templates(bot, presenter)
    grid = await imagine_a_stored_request(bot, presenter)
    set_id, image_id = grid.result.caption.short_id, grid.result.images[0].image_id
    await reply_in_the_thread(bot, presenter)
    await press_buttons(bot, presenter, set_id, image_id)
    await look_back(bot, set_id, image_id)
    await start_from_uploads(bot, presenter, image_id)
    await use_house_styles(bot, presenter)
    await fail_and_retry(bot, presenter, openai)
    await use_the_delivery_log(bot, grid)
    await report(bot)
    await answer_busy(bot, database)
    return await leave_work_behind(bot, openai)


async def after_restart(bot: ImageBot, presenter: RecordingPresenter, left: tuple[str, str]) -> None:
    for job_id in left:  # the interrupted job is retried, the waiting one runs
        assert (await presenter.final(job_id)).stage is Stage.DONE
    again, _ = await bot.intake.replayable("test")
    assert [row.key for row in again] == ["test:cmd:later"]
    await bot.intake.finish("test:cmd:later")


async def test_every_query_is_served_by_an_index(
    data_dir: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = openai_settings(
        data_dir,
        fake_openai,
        imagebot_monthly_budget_usd=1000.0,
        imagebot_person_monthly_budget_usd=500.0,
        imagebot_daily_image_quota=1000,
        imagebot_max_concurrency=1,
    )
    recording = Recording()
    async with instrumented_bot(settings, recording, monkeypatch, grace=0.1) as (bot, presenter):
        left = await first_run(bot, presenter, fake_openai, settings.database_path)
    assert fake_openai.gate is not None
    fake_openai.gate.set()
    async with instrumented_bot(settings, recording, monkeypatch) as (bot, presenter):
        await after_restart(bot, presenter, left)

    missed = sorted(recording.methods - recording.called)
    assert not missed, f"the scenario never calls {missed}: add them to it"
    unissued = [
        f"{where}: {text}"
        for text, where in written_statements().items()
        if not any(text in sql for sql in recording.statements)
    ]
    assert not unissued, "the scenario never issues:\n" + "\n".join(unissued)
    scans = full_scans(settings.database_path, recording)
    assert not scans, "full scans of growing tables:\n\n" + "\n\n".join(scans)


@pytest.mark.parametrize(
    ("line", "sql", "full"),
    [
        ("SCAN images", "SELECT id FROM images WHERE set_id=?", True),
        ("SCAN j", "SELECT * FROM jobs j WHERE j.platform=?", True),
        ("SCAN p", "SELECT 1 FROM posts AS p WHERE p.kind=?", True),
        (
            "SCAN usage USING COVERING INDEX usage_by_requester",
            "SELECT SUM(images) FROM usage WHERE model=?",
            True,
        ),
        ("SEARCH images USING INDEX images_by_set (set_id=?)", "SELECT id FROM images WHERE set_id=?", False),
        (
            "SCAN images USING INDEX images_by_session",
            "SELECT * FROM images ORDER BY session_id, created_at LIMIT ?",
            False,
        ),
        ("SCAN schema_migrations", "SELECT version FROM schema_migrations", False),
        ("SCAN CONSTANT ROW", "SELECT 1", False),
    ],
)
def test_the_plan_reader_tells_a_full_scan_from_a_look_up(line: str, sql: str, full: bool) -> None:
    tables = {"images", "jobs", "posts", "usage"}
    assert is_full_scan(line, sql, tables) is full
