"""The fake OpenAI Images API (tests/fakes/openai) in a process of its own, for benchmarks.

A benchmark of the bot must not count the fake's CPU and memory as the bot's, so the fake runs
apart: ``python -m bench.fake_openai_process --delay 2 --pool noisy`` starts it on 127.0.0.1
(port 0), prints one JSON line ``{"base_url": ..., "api_key": ...}`` once it serves, and serves
until its standard input closes (so it also ends when its parent dies). From the parent, use
``with fake_openai_process(delay, pool) as endpoint:``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tests.fakes.openai import FakeOpenAI, ImagePool

ROOT = Path(__file__).resolve().parent.parent  # the checkout whose code the child must import
PoolKind = Literal["solid", "noisy"]
POOL_KINDS: tuple[PoolKind, ...] = ("solid", "noisy")
POOL_SIZE = 8
# The only size the benchmarks ask for; rendered before the fake says it is ready, so no timed
# request pays for it.
WARM_SIZE = (1024, 1024)
# Room for every connection of a 500-job burst: past the accept queue the kernel drops a new
# connection and the client retries 1 s later, which would be counted against both sides.
BACKLOG = 2048


@dataclass(frozen=True)
class FakeEndpoint:
    """Where the fake serves, and the key it accepts."""

    base_url: str
    api_key: str


@contextlib.contextmanager
def fake_openai_process(delay: float, pool: PoolKind | None = None) -> Iterator[FakeEndpoint]:
    """Run the fake in a child process for the duration of the block."""
    command = [sys.executable, "-m", "bench.fake_openai_process", "--delay", str(delay)]
    if pool is not None:
        command += ["--pool", pool]
    child = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_env(), cwd=ROOT, text=True
    )
    if child.stdin is None or child.stdout is None:  # both are PIPEs; said again for the types
        raise RuntimeError("the fake OpenAI process has no pipes")
    try:
        line = child.stdout.readline()
        if not line:
            raise RuntimeError(f"the fake OpenAI process exited ({child.wait()}) before it served")
        yield FakeEndpoint(**json.loads(line))
    finally:
        child.stdin.close()  # its signal to stop
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def child_env() -> dict[str, str]:
    """The environment for a benchmark child: this checkout's code first on its path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


async def serve(delay: float, pool: PoolKind | None) -> None:
    async with FakeOpenAI(backlog=BACKLOG) as fake:
        fake.delay = delay
        if pool is not None:
            fake.pool = ImagePool(pool, size=POOL_SIZE)
            await asyncio.to_thread(fake.pool.warm, *WARM_SIZE)
        print(json.dumps({"base_url": fake.base_url, "api_key": fake.api_key}), flush=True)
        # Read in a thread: standard input may be a file or a terminal, which the loop cannot watch.
        await asyncio.to_thread(sys.stdin.read)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each image reply")
    parser.add_argument("--pool", choices=POOL_KINDS, help="answer from pre-rendered images")
    args = parser.parse_args()
    asyncio.run(serve(args.delay, args.pool))


if __name__ == "__main__":
    main()
