"""SQLite through aiosqlite: WAL mode, versioned migrations at start-up, explicit transactions.

Also what keeps the data directory safe to use: a clear, typed error when the database file is
damaged or cannot be opened (`StorageError` and its kinds), and an exclusive lock so only one
imagebot process works on a data directory at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from bot.errors import BotError, ErrorKind
from storage.writes import GroupedWriter

log = logging.getLogger(f"imagebot.{__name__}")

SqlParams = tuple[Any, ...] | dict[str, Any]  # positional (?) or named (:name) parameters

LOCK_FILENAME = "imagebot.lock"
# SQLite's primary result codes that mean "this file is damaged" (the extended codes share them).
_CORRUPT_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
_STORAGE_CODES = (
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_PERM,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL,
)


class StorageError(BotError):
    """The database or the data directory cannot be used.

    A `BotError` of kind INTERNAL, so the core can classify it at the job boundary without
    importing storage: `message` is safe to show to the person who asked; `str(error)` (and
    `detail`) names the file and what an operator should do, for the log and the command line.
    """

    user_message = "The bot cannot use its storage right now; the operator has been told (see the log)."

    def __init__(self, detail: str, *, path: Path | str | None = None) -> None:
        super().__init__(ErrorKind.INTERNAL, self.user_message)
        self.detail = detail
        self.path = Path(path) if path is not None else None

    def __str__(self) -> str:
        return self.detail


class DatabaseCorrupt(StorageError):
    """The database file is damaged ("file is not a database", "disk image is malformed")."""

    def __init__(self, path: Path | str, problem: str) -> None:
        path = Path(path).absolute()
        super().__init__(
            f"the database {path} is damaged ({problem}). Move it aside, with its -wal and -shm files if"
            f" there are any, while imagebot is stopped (e.g. `mv {path} {path}.damaged`); the next start"
            " creates a new, empty database. Nothing was deleted: the moved file can still be examined"
            f" or recovered (`sqlite3 {path}.damaged .recover`).",
            path=path,
        )
        self.problem = problem


class DataDirError(StorageError):
    """IMAGEBOT_DATA_DIR is not a directory imagebot can create or write to."""


class DataDirInUse(StorageError):
    """Another process holds the data directory's lock."""

    def __init__(self, data_dir: Path, holder: str | None) -> None:
        who = f"another imagebot ({holder})" if holder else "another imagebot process"
        super().__init__(
            f"the data directory {data_dir.absolute()} is in use by {who}. Two processes on one data directory"
            " would run the same jobs twice; stop the other one, or give this one its own"
            " IMAGEBOT_DATA_DIR.",
            path=data_dir,
        )
        self.holder = holder


def storage_error(error: sqlite3.Error, path: Path | str) -> StorageError | None:
    """The typed error for an SQLite failure that is about the file, not the query; else None."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return None
    if code & 0xFF in _CORRUPT_CODES:
        return DatabaseCorrupt(path, str(error))
    if code & 0xFF in _STORAGE_CODES:
        return StorageError(f"cannot use the database {path}: {error}", path=path)
    return None


def quick_check(path: Path | str) -> list[str]:
    """SQLite's `PRAGMA quick_check` on the database file, read-only: the problems found ([] when
    it is sound). Raises DatabaseCorrupt when the file is not a database at all, and StorageError
    when it cannot be opened (e.g. it does not exist)."""
    path = Path(path)
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as error:
        raise storage_error(error, path) or StorageError(f"cannot check {path}: {error}", path=path) from None
    return _problems(rows)


def describe_problems(problems: list[str], limit: int = 3) -> str:
    """The first few of quick_check's problems on one line."""
    text = "; ".join(problems[:limit])
    return text + (f" (and {len(problems) - limit} more)" if len(problems) > limit else "")


def _problems(rows: list[sqlite3.Row] | list[aiosqlite.Row]) -> list[str]:
    """quick_check's answer as one problem per item ([] for "ok"); its rows may hold many lines."""
    lines = [line.strip() for row in rows for line in str(row[0]).splitlines()]
    return [line for line in lines if line and line != "ok" and not line.startswith("*** in database")]


def data_dir_problem(data_dir: Path) -> str | None:
    """Why `data_dir` cannot hold imagebot's data (not a directory, not writable), or None.

    Looks without changing anything, for `imagebot doctor`.
    """
    path = data_dir.resolve()
    if path.exists():
        if not path.is_dir():
            return f"{data_dir} is not a directory"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"{data_dir} is not writable"
        return None
    existing = next(parent for parent in path.parents if parent.exists())
    if not existing.is_dir():
        return f"{data_dir} cannot be created: {existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{data_dir} cannot be created: {existing} is not writable"
    return None


class DataDirLock:
    """An exclusive `flock` on `<data dir>/imagebot.lock`, held for the life of the process.

    The kernel releases it when the process ends however it ends (also on kill -9), so a crash
    never leaves a stale lock. The file says who holds it (pid and command), for the message a
    second process prints.
    """

    def __init__(self, data_dir: Path, fd: int) -> None:
        self.data_dir = data_dir
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, data_dir: Path, *, owner: str, wait: float = 1.0) -> DataDirLock:
        """Create the data directory if needed and lock it; DataDirError when it cannot be
        created or written, DataDirInUse when another process holds it. Waits up to `wait`
        seconds, which covers `imagebot doctor` looking at the lock for an instant."""
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(data_dir / LOCK_FILENAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise DataDirError(_data_dir_message(data_dir, error), path=data_dir) from None
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise DataDirInUse(data_dir, holder) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {owner}\n".encode(), 0)
        return cls(data_dir, fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None


def lock_holder(data_dir: Path) -> str | None:
    """Who holds `data_dir`'s lock ("pid 123, imagebot run"), or None when nobody does.

    Takes a shared lock for an instant at most, never the exclusive one (`imagebot doctor`)."""
    try:
        fd = os.open(data_dir / LOCK_FILENAME, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None  # no lock file: nobody has started here yet
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd) or "another process"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_holder(fd: int) -> str | None:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return None
    pid, _, command = text.partition(" ")
    if not pid.isdigit():
        return None
    return f"pid {pid}, {command}" if command else f"pid {pid}"


def _data_dir_message(data_dir: Path, error: OSError) -> str:
    problem = data_dir_problem(data_dir)
    if problem is None:
        problem = f"{data_dir} cannot be used: {error.strerror or error}"
    return f"IMAGEBOT_DATA_DIR: {problem}. Point IMAGEBOT_DATA_DIR at a directory imagebot may write to."


def _migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every `NNNN_name.sql` shipped in storage/migrations, in order."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


class Database:
    """Two aiosqlite connections to one file: writes go through the first (`transaction()`,
    `execute()`, `write_returning()`: one writer at a time, commits grouped under load, urgent
    ones first; see storage/writes.py), reads through the second, so a read never waits behind
    a write (WAL lets readers and the writer work at once; a read sees what was committed).

    SQLite failures that are about the file (damaged, unreadable, disk full) are raised as
    `StorageError` kinds (`DatabaseCorrupt` for a damaged file) naming the file; errors about a
    query (constraints, SQL) stay sqlite3 errors.
    """

    def __init__(self, conn: aiosqlite.Connection, path: Path | str = ":memory:") -> None:
        self._conn = conn
        self._reader = conn  # until `open` has a connection of its own for reads
        self._writer = GroupedWriter(conn, self._typed_errors)
        self.path = path

    @classmethod
    async def open(cls, path: Path | str) -> Database:
        """Open (creating if needed) and migrate the database; a damaged file fails at once with
        DatabaseCorrupt (found by SQLite itself or by `PRAGMA quick_check`)."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; we BEGIN/COMMIT explicitly.
        pending = aiosqlite.connect(str(path), isolation_level=None)
        try:
            conn = await pending
        except sqlite3.Error as error:
            # aiosqlite stops its worker thread without waiting; let it finish while the loop still
            # runs, or it reports to a closed loop with a traceback.
            worker = getattr(pending, "_thread", None)
            if worker is not None:
                await asyncio.to_thread(worker.join, 5)
            raise storage_error(error, path) or StorageError(
                f"cannot open {path}: {error}", path=path
            ) from None
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL keeps every commit across a crash or kill -9 of the process (only
            # a power cut can undo the last few); FULL would fsync each one, and acks wait on it.
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            db = cls(conn, path)
            problems = _problems(await db.fetchall("PRAGMA quick_check"))
            if problems:
                raise DatabaseCorrupt(path, describe_problems(problems))
            await db.migrate()
            if str(path) != ":memory:":  # an in-memory database exists for its one connection only
                db._reader = await _open_reader(path)
        except BaseException as error:
            # aiosqlite's worker thread would otherwise keep the process alive forever.
            await conn.close()
            if isinstance(error, sqlite3.Error):
                raise storage_error(error, path) or error from None
            raise
        return db

    async def migrate(self) -> list[str]:
        """Apply every migration not applied yet, each in its own transaction."""
        await self._conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT (datetime('now')))"
        )
        rows = await self.fetchall("SELECT version FROM schema_migrations")
        done = {row["version"] for row in rows}
        applied = []
        for version, name, sql in _migrations():
            if version in done:
                continue
            # The whole script in one trip to SQLite's thread (a statement at a time was about a
            # hundred trips, most of a new database's opening), in one transaction with its record.
            try:
                await self._conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\n;")
                await self._conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name)
                )
                await self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    await self._conn.execute("ROLLBACK")
                raise
            log.info("applied migration %s", name)
            applied.append(name)
        return applied

    @asynccontextmanager
    async def transaction(self, *, urgent: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """The body's statements all or nothing (rolled back on any error), committed when this
        returns. `urgent`: an acknowledgement waits on it, so it goes ahead of other writes."""
        async with self._writer.transaction(urgent=urgent) as conn:
            yield conn

    async def execute(self, sql: str, params: SqlParams = (), *, urgent: bool = False) -> None:
        """A single write statement, atomic on its own, committed when this returns."""
        await self._writer.statement(sql, params, urgent=urgent)

    async def write_returning(
        self, sql: str, params: SqlParams = (), *, urgent: bool = False
    ) -> list[aiosqlite.Row]:
        """A single write statement (e.g. INSERT … RETURNING), committed when this returns; its rows."""
        return await self._writer.statement(sql, params, urgent=urgent)

    async def fetchone(self, sql: str, params: SqlParams = ()) -> aiosqlite.Row | None:
        # One trip to the reader's thread (execute, fetch and close the cursor there): a cursor
        # used from here would cost three, and under load every job's reads queue for that thread.
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: SqlParams = ()) -> list[aiosqlite.Row]:
        with self._typed_errors():
            return list(await self._reader.execute_fetchall(sql, params))

    async def close(self) -> None:
        if self._reader is not self._conn:
            await self._reader.close()
        await self._conn.close()

    @contextlib.contextmanager
    def _typed_errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            typed = storage_error(error, self.path)
            if typed is None:
                raise
            raise typed from error


async def _open_reader(path: Path | str) -> aiosqlite.Connection:
    """The connection reads go through: it never writes (query_only), so it never takes the
    write lock, and in WAL mode it reads while the writer writes."""
    reader = await aiosqlite.connect(str(path), isolation_level=None)
    try:
        reader.row_factory = aiosqlite.Row
        await reader.execute("PRAGMA query_only=ON")
        await reader.execute("PRAGMA busy_timeout=5000")
    except BaseException:
        await reader.close()
        raise
    return reader


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (our migrations have no semicolons inside literals)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
