"""Start-up with a data directory that cannot be used: a damaged database, a data directory that
is not a writable directory, or one another imagebot is already using. Each is a real process."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from bot.errors import BotError, ErrorKind
from storage.db import Database, DatabaseCorrupt, StorageError
from tests.integration.helpers import imagebot_finishes, imagebot_process, line_matching, start_imagebot

# Settings that make each command start a platform; nothing listens on port 9, so a process that
# got past the data directory would keep retrying the connection and never finish by itself.
PLATFORM_ENV = {
    "discord": {"DISCORD_TOKEN": "token", "DISCORD_API_BASE_URL": "http://127.0.0.1:9/api/v10"},
    "slack": {
        "SLACK_BOT_TOKEN": "xoxb-1-2-3",
        "SLACK_APP_TOKEN": "xapp-1-2-3",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
    },
}
EVERY_COMMAND = [
    pytest.param(("console",), {}, id="console"),
    pytest.param(("run",), {}, id="run-console"),
    pytest.param(("run",), PLATFORM_ENV["discord"] | PLATFORM_ENV["slack"], id="run-platforms"),
    pytest.param(("discord",), PLATFORM_ENV["discord"], id="discord"),
    pytest.param(("slack",), PLATFORM_ENV["slack"], id="slack"),
]


def damaged_database(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "imagebot.sqlite3"
    path.parent.mkdir()
    path.write_bytes(b"this is not an SQLite file\n" * 400)
    return path


def malformed_database(tmp_path: Path) -> Path:
    """A real SQLite database whose header is fine but one b-tree page is overwritten."""
    path = tmp_path / "data" / "imagebot.sqlite3"
    path.parent.mkdir()
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        conn.execute("CREATE INDEX notes_text ON notes (text)")
        conn.executemany("INSERT INTO notes (text) VALUES (?)", [(f"note {i} " * 5,) for i in range(2000)])
    conn.close()
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[3 * page + 8 : 3 * page + 200] = b"\xff" * 192
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(("args", "env"), EVERY_COMMAND)
async def test_a_damaged_database_stops_start_up_at_once_and_says_what_to_do(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str]
) -> None:
    path = damaged_database(tmp_path)
    before = path.read_bytes()
    result = await imagebot_finishes(tmp_path, *args, input="", timeout=10, **env)
    assert result.returncode == 1, result.stderr
    assert str(path) in result.stderr
    assert "damaged" in result.stderr
    assert "move it aside" in result.stderr.lower()
    assert "Traceback" not in result.stderr
    assert path.read_bytes() == before  # nothing deleted or rewritten


async def test_a_malformed_database_is_found_at_start_up_and_by_doctor(tmp_path: Path) -> None:
    path = malformed_database(tmp_path)
    started = await imagebot_finishes(tmp_path, "console", input="", timeout=10)
    assert started.returncode == 1
    assert str(path) in started.stderr
    assert "damaged" in started.stderr
    assert "Traceback" not in started.stderr

    doctor = await imagebot_finishes(tmp_path, "doctor")
    assert doctor.returncode == 1
    assert "database:       DAMAGED" in doctor.stdout
    assert "out of range" in doctor.stdout


async def test_doctor_checks_the_database_without_creating_or_locking_it(tmp_path: Path) -> None:
    fresh = await imagebot_finishes(tmp_path, "doctor")
    assert fresh.returncode == 0, fresh.stdout
    assert "not created yet" in fresh.stdout
    assert not (tmp_path / "data").exists()

    made = await imagebot_finishes(tmp_path, "console", input="/imagine a kite --n 1\n")
    assert made.returncode == 0, made.stdout + made.stderr
    healthy = await imagebot_finishes(tmp_path, "doctor")
    assert healthy.returncode == 0, healthy.stdout
    assert "database:       OK (quick_check)" in healthy.stdout

    (tmp_path / "data" / "imagebot.sqlite3").write_bytes(b"garbage" * 1000)
    for name in ("imagebot.sqlite3-wal", "imagebot.sqlite3-shm"):
        (tmp_path / "data" / name).unlink(missing_ok=True)
    broken = await imagebot_finishes(tmp_path, "doctor")
    assert broken.returncode == 1
    assert "database:       DAMAGED" in broken.stdout
    assert "file is not a database" in broken.stdout


@pytest.mark.parametrize("command", ["console", "run"])
async def test_a_data_dir_that_is_not_a_directory_is_one_clear_line(tmp_path: Path, command: str) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    data_dir = tmp_path / "a-file" / "data"
    result = await imagebot_finishes(tmp_path, command, input="", IMAGEBOT_DATA_DIR=str(data_dir))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0, result.stderr  # one line
    assert "IMAGEBOT_DATA_DIR" in result.stderr
    assert "is not a directory" in result.stderr

    doctor = await imagebot_finishes(tmp_path, "doctor", IMAGEBOT_DATA_DIR=str(data_dir))
    assert doctor.returncode == 1
    assert "IMAGEBOT_DATA_DIR" in doctor.stdout
    assert "is not a directory" in doctor.stdout
    assert "Configuration: OK" not in doctor.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to any directory")
async def test_a_read_only_data_dir_is_one_clear_line(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    data_dir.chmod(0o555)
    try:
        result = await imagebot_finishes(tmp_path, "console", input="")
        doctor = await imagebot_finishes(tmp_path, "doctor")
    finally:
        data_dir.chmod(0o755)
    assert result.returncode == 1
    assert "not writable" in result.stderr
    assert "Traceback" not in result.stderr
    assert doctor.returncode == 1
    assert "not writable" in doctor.stdout


async def test_a_second_process_on_one_data_directory_refuses_to_start(tmp_path: Path) -> None:
    async with imagebot_process(tmp_path, "console", stdin=True) as first:
        assert first.stdout is not None
        await line_matching(first.stdout, rb"imagebot console")  # its banner: it is running
        data_dir = tmp_path / "data"
        # The latecomers are independent of each other: they start together.
        *seconds, doctor = await asyncio.gather(
            imagebot_finishes(tmp_path, "run", input=""),
            imagebot_finishes(tmp_path, "discord", input="", **PLATFORM_ENV["discord"]),
            imagebot_finishes(tmp_path, "doctor"),
        )
        for second in seconds:
            assert second.returncode == 1, second.stderr
            assert str(data_dir) in second.stderr
            assert "in use" in second.stderr
            assert f"pid {first.pid}" in second.stderr
            assert "imagebot console" in second.stderr
            assert "Traceback" not in second.stderr

        assert doctor.returncode == 0, doctor.stdout
        assert f"in use by a running imagebot (pid {first.pid}, imagebot console)" in doctor.stdout
    # The first one has ended: the data directory is free again.
    after = await imagebot_finishes(tmp_path, "console", input="")
    assert after.returncode == 0, after.stderr


async def test_the_lock_is_released_when_the_holder_is_killed(tmp_path: Path) -> None:
    first = await start_imagebot(tmp_path, "console", stdin=True)
    try:
        assert first.stdout is not None
        await line_matching(first.stdout, rb"imagebot console")
        refused = await imagebot_finishes(tmp_path, "console", input="")
        assert refused.returncode == 1
        assert "in use" in refused.stderr
    finally:
        first.kill()  # SIGKILL: no clean-up code runs, only the kernel's
        async with asyncio.timeout(10):
            await first.communicate()
    again = await imagebot_finishes(tmp_path, "console", input="/imagine a kite --n 1\n")
    assert again.returncode == 0, again.stderr
    assert "Here you go" in again.stdout


async def test_a_database_damaged_while_running_raises_a_typed_error(tmp_path: Path) -> None:
    """What the job runner catches: a BotError (kind INTERNAL) whose message is safe to show and
    whose text, for the log, names the damaged file."""
    path = tmp_path / "imagebot.sqlite3"
    db = await Database.open(path)
    try:
        await db.execute("CREATE TABLE notes (text TEXT)")
        for number in range(50):
            await db.execute("INSERT INTO notes VALUES (?)", (f"note {number}" * 10,))
        (root,) = await db.fetchone("SELECT rootpage FROM sqlite_master WHERE name = 'notes'")
        # Another connection changes the file, so this one re-reads pages instead of its cache.
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("CREATE TABLE bump (x)")
        other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (page_size,) = other.execute("PRAGMA page_size").fetchone()
        other.close()
        with path.open("r+b") as file:
            file.seek((root - 1) * page_size)
            file.write(b"\xff" * page_size)

        with pytest.raises(DatabaseCorrupt) as read:
            await db.fetchall("SELECT COUNT(*) FROM notes")
        with pytest.raises(DatabaseCorrupt):
            await db.execute("INSERT INTO notes VALUES ('one more')")
    finally:
        await db.close()
    error = read.value
    assert isinstance(error, StorageError)
    assert isinstance(error, BotError)
    assert error.kind is ErrorKind.INTERNAL
    assert str(path) not in error.message
    assert "storage" in error.message  # for the person who asked
    assert str(path) in str(error)
    assert "malformed" in str(error)  # for the log
    assert error.path == path
