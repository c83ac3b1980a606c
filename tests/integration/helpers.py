"""Helpers for driving the core (ImageBot) directly, with a presenter that records updates, and
for running `imagebot` as a real process."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.answers import JobUpdate, Stage
from bot.config import Settings
from bot.domain import SessionKey, UserRef
from bot.service import ImageBot
from storage.store import Store
from tests.helpers import build_bot

ALICE = UserRef("test", "alice", "Alice")
BOB = UserRef("test", "bob", "Bob")
ADMIN = UserRef("test", "root", "Root", is_admin=True)
THREAD = SessionKey("test", "team", "chan", "thread-1")


class RecordingPresenter:
    """Keeps every update; tests wait on a condition instead of sleeping."""

    def __init__(self) -> None:
        self.updates: list[JobUpdate] = []
        self._changed = asyncio.Condition()

    async def job_update(self, update: JobUpdate) -> None:
        async with self._changed:
            self.updates.append(update)
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[list[JobUpdate]], object], timeout: float = 10.0) -> object:
        async with self._changed:
            async with asyncio.timeout(timeout):
                await self._changed.wait_for(lambda: predicate(self.updates))
        return predicate(self.updates)

    async def final(self, job_id: str, timeout: float = 10.0) -> JobUpdate:
        finished = (Stage.DONE, Stage.FAILED, Stage.CANCELLED)

        def find(updates: list[JobUpdate]) -> JobUpdate | None:
            return next((u for u in updates if u.job.id == job_id and u.stage in finished), None)

        await self.wait_for(find, timeout)
        result = find(self.updates)
        assert result is not None
        return result

    def stages(self, job_id: str) -> list[Stage]:
        return [u.stage for u in self.updates if u.job.id == job_id]


@asynccontextmanager
async def running_bot(
    settings: Settings, *, grace: float = 10.0, prepare: Callable[[Store], None] | None = None
) -> AsyncIterator[tuple[ImageBot, RecordingPresenter]]:
    """The core on its own store, started, with a recording presenter; `prepare` sees the store
    before the core is built on it (e.g. to instrument it)."""
    store = await Store.open(settings.database_path, settings.blobs_dir)
    if prepare is not None:
        prepare(store)
    bot = build_bot(settings, store)
    presenter = RecordingPresenter()
    bot.register_presenter("test", presenter)
    await bot.start()
    try:
        yield bot, presenter
    finally:
        await bot.runner.stop(grace=grace)
        await bot.intake.close()
        await bot.provider.close()
        await store.close()


ROOT = Path(__file__).resolve().parents[2]


def process_env(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "IMAGEBOT_", "DISCORD_", "SLACK_"))
    }
    return clean | {"IMAGEBOT_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT), **env}


async def start_imagebot(
    tmp_path: Path, *args: str, stdin: bool = False, **env: str
) -> asyncio.subprocess.Process:
    """`imagebot ARGS` as a child process (stdout and stderr piped); stopping it is the caller's."""
    return await _spawn(tmp_path, args, env, stdin)


async def _spawn(tmp_path: Path, args: tuple[str, ...], env: dict[str, str], stdin: bool):
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "adapters.cli",
        *args,
        cwd=tmp_path,
        env=process_env(tmp_path, env),
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def line_matching(stream: asyncio.StreamReader, pattern: bytes, timeout: float = 30.0):
    """Read a child's output until a line matches (its own word that it is ready)."""
    async with asyncio.timeout(timeout):
        while line := await stream.readline():
            if match := re.search(pattern, line):
                return match
    raise AssertionError(f"the process ended without printing {pattern!r}")


@asynccontextmanager
async def imagebot_process(
    tmp_path: Path, *args: str, stdin: bool = False, **env: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`imagebot ARGS` as a child process with only the given settings (its data directory is
    `tmp_path/data`); on leaving, SIGTERM (or, with `stdin=True`, end of input) and a check that
    it shut down cleanly (exit 0, no traceback)."""
    process = await _spawn(tmp_path, args, env, stdin)
    try:
        yield process
    finally:
        if stdin:
            assert process.stdin is not None
            process.stdin.close()
        else:
            process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr, stderr.decode()[-3000:]


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str


async def imagebot_finishes(
    tmp_path: Path, *args: str, timeout: float = 15.0, input: str | None = None, **env: str
) -> Finished:
    """`imagebot ARGS` run to its end, which must come within `timeout` seconds."""
    process = await _spawn(tmp_path, args, env, stdin=input is not None)
    try:
        async with asyncio.timeout(timeout):
            out, err = await process.communicate(input.encode() if input is not None else None)
    except TimeoutError:
        process.kill()
        out, err = await process.communicate()
        raise AssertionError(
            f"imagebot {' '.join(args)} still ran after {timeout} s:\n{out.decode()}{err.decode()}"
        ) from None
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())
