"""Tracked background tasks: work started after an ack is kept, logged if it fails, drained on stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(f"imagebot.{__name__}")


class TaskSet:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._guard(coro, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    async def _guard(coro: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("slack task %s failed", name)

    async def wait_idle(self, timeout: float | None = None) -> None:
        """Wait until every task (including ones started meanwhile) has finished."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def drain(self, timeout: float) -> None:
        """Let running tasks finish for up to `timeout` seconds, then cancel what is left."""
        try:
            await self.wait_idle(timeout)
        except TimeoutError:
            pending = list(self._tasks)
            log.warning("cancelling %d slack task(s) still running at shutdown", len(pending))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
