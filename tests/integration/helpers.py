"""Helpers for driving the core (ImageBot) directly, with a presenter that records updates."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from adapters.cli import build_provider
from bot.config import Settings
from bot.domain import JobUpdate, SessionKey, Stage, UserRef
from bot.service import ImageBot
from storage.store import Store

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
    settings: Settings, *, grace: float = 10.0
) -> AsyncIterator[tuple[ImageBot, RecordingPresenter]]:
    store = await Store.open(settings.database_path, settings.blobs_dir)
    bot = ImageBot(settings, store, build_provider(settings))
    presenter = RecordingPresenter()
    bot.register_presenter("test", presenter)
    await bot.start()
    try:
        yield bot, presenter
    finally:
        await bot.runner.stop(grace=grace)
        await bot.provider.close()
        await store.close()
