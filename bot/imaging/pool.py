"""The threads CPU-heavy imaging runs in: one bounded pool, sized to the machine.

Grids, re-encoding to fit an upload limit, resampling and decoding uploads are CPU work (Pillow
releases the GIL while it works, so threads use every core). They get a pool of their own rather
than asyncio's shared default executor: blob reads and writes go through that one, and behind a
queue of pending grids every job's next step would wait. More threads than cores would only make
each grid slower.

The pool's threads run at a lower CPU priority (Linux applies `nice` per thread): when the
machine is busy, the event loop (acknowledgements, provider calls) and the writes that store
results come first, and grids take what is left. Nothing waits on a grid but its own reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def _workers() -> int:
    """The cores this process may use (a container or `taskset` may give it fewer than exist)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


_NICENESS = 10  # how much lower: enough to yield to the loop, not so much as to starve


def _lower_priority() -> None:
    """Run in each new pool thread: lower its own priority (raising niceness needs no rights)."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux: the pool works all the same
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICENESS)


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        max_workers=_workers(), thread_name_prefix="imaging", initializer=_lower_priority
    )


async def offload(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking imaging `work` in the imaging pool; the event loop stays free meanwhile."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool(), functools.partial(work, *args, **kwargs))
