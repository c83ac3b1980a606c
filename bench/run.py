"""Benchmarks (figures, not pass/fail): `make bench`.

- offline render: time for /imagine --n 4 at 1024x1024 through the whole core (queue, provider,
  storage, grid), and for an upscale to 2880x2880;
- event-loop stall: the longest gap the loop saw while those jobs ran (the 3-second acks on
  Discord and Slack depend on this staying small);
- fit_under: re-encoding a noisy 3840x2160 image under Discord's 10 MiB limit;
- acknowledgement latency of /imagine on Discord and Slack while the provider is busy
  (bench/acks.py), and through the durable intake for a burst of 50, also with the database
  write-locked (bench/slack_intake.py, bench/discord_intake.py).

`make bench-faults` runs the fault matrix at the issue's durations: storage faults through the core
(bench/storage_faults.py), Slack 429s and upload-URL 500s (bench/slack_faults.py), Discord 429s and
5xx (bench/discord_faults.py), each printing posted once / duplicated / lost counts.
"""

from __future__ import annotations

import asyncio
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image

from bench.waiter import Waiter
from bot import imaging
from bot.answers import Queued
from bot.buttons import ButtonId, Verb
from bot.config import Settings
from bot.domain import SessionKey, UserRef
from bot.providers.offline import OfflineProvider
from storage.store import Store
from tests.helpers import build_bot

USER = UserRef("bench", "u1", "Bench")
WHERE = SessionKey("bench", "w", "c", "t")


async def watch_loop(stop: asyncio.Event, gaps: list[float]) -> None:
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


async def bench_core(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, imagebot_data_dir=Path(tmp), imagebot_provider="offline")
        store = await Store.open(settings.database_path, settings.blobs_dir)
        bot = build_bot(settings, store, OfflineProvider())
        waiter = Waiter()
        bot.register_presenter("bench", waiter)
        await bot.start()
        gaps: list[float] = []
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_loop(stop, gaps))
        imagine_times, upscale_times = [], []
        for i in range(rounds):
            start = time.perf_counter()
            reply = await bot.imagine(USER, WHERE, f"a lighthouse at dusk, take {i} --n 4")
            if not isinstance(reply, Queued):
                raise RuntimeError(reply.text)
            update = await waiter.wait(reply.job.id)
            imagine_times.append(time.perf_counter() - start)
            first = update.result.images[0].image_id
            start = time.perf_counter()
            reply = await bot.press(USER, WHERE, ButtonId(Verb.UPSCALE, first))
            if not isinstance(reply, Queued):
                raise RuntimeError(reply.text)
            await waiter.wait(reply.job.id)
            upscale_times.append(time.perf_counter() - start)
        stop.set()
        await watcher
        await bot.stop()
        await store.close()
    print(
        f"imagine --n 4 1024x1024 (offline, end to end): median {statistics.median(imagine_times):.3f} s over {rounds}"
    )
    print(
        f"upscale 1024 -> 2880x2880 (offline, end to end): median {statistics.median(upscale_times):.3f} s over {rounds}"
    )
    print(
        f"event loop: longest stall {max(gaps) * 1000:.1f} ms, p99 {sorted(gaps)[int(len(gaps) * 0.99)] * 1000:.1f} ms"
    )


def bench_fit() -> None:
    noise = Image.frombytes("RGB", (3840, 2160), os.urandom(3840 * 2160 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, "PNG")
    data = buffer.getvalue()
    start = time.perf_counter()
    fitted = imaging.fit_under(data, "image/png", 10 * 1024 * 1024)
    elapsed = time.perf_counter() - start
    print(
        f"fit_under 10 MiB: {len(data) / 2**20:.1f} MiB noisy PNG -> {len(fitted.data) / 2**20:.2f} MiB"
        f" {fitted.mime} in {elapsed:.2f} s"
    )


def main() -> None:
    from bench import acks, discord_intake, slack_intake

    asyncio.run(bench_core(rounds=int(os.environ.get("BENCH_ROUNDS", "3"))))
    bench_fit()
    acks.main()
    slack_intake.main()
    discord_intake.main()


def faults() -> None:
    """The fault matrix at the issue's full durations (`make bench-faults`, a few minutes)."""
    from bench import discord_faults, slack_faults, storage_faults

    storage_faults.main()
    slack_faults.main()
    discord_faults.main()


if __name__ == "__main__":
    main()
