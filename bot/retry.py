"""Storage writes that outlast a short fault: a locked database, a disk that is full for a while.

A job's state changes and its results are too valuable to drop on the first failed write: the
images are already paid for. `persist` retries a write with back-off for a bounded time, and
only then lets the error through (to be reported in plain words by the job runner).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.errors import ErrorKind, storage_error

log = logging.getLogger(f"imagebot.{__name__}")

T = TypeVar("T")
FIRST_DELAY = 0.05
MAX_DELAY = 2.0


async def persist(
    write: Callable[[], Awaitable[T]],
    *,
    patience: float,
    what: str,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run `write`, retrying transient storage failures (disk full, read-only, I/O error, locked
    database) with doubling back-off for up to `patience` seconds. Anything else, a damaged
    database, or a fault that outlasts the patience is raised."""
    deadline = clock() + patience
    delay = FIRST_DELAY
    while True:
        try:
            return await write()
        except Exception as exc:
            error = storage_error(exc)
            if error is None or error.kind is ErrorKind.INTERNAL or clock() + delay > deadline:
                raise
            log.warning("%s failed (%s); retrying in %.2f s", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)
