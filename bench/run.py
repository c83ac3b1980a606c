"""Benchmarks (figures, not pass/fail): `make bench`.

- offline render: time for /imagine --n 4 at 1024x1024 through the whole core (queue, provider,
  storage, grid), and for an upscale to 2880x2880;
- event-loop stall: the longest gap the loop saw while those jobs ran (the 3-second acks on
  Discord and Slack depend on this staying small);
- fit_under: re-encoding a noisy 3840x2160 image under Discord's 10 MiB limit;
- acknowledgement latency of /imagine on Discord and Slack while the provider is busy
  (bench/acks.py), and through the durable intake for a burst of 50, also with the database
  write-locked (bench/slack_intake.py, bench/discord_intake.py);
- the CPU time of one grid of four 1024² images;
- what a button press looks up, on a database of many images (bench/lookups.py);
- the bot's core side by side with the bare OpenAI SDK against one fake Images API, from 1 to 500
  jobs at once (bench/side_by_side.py);
- how fast the job queue drains a burst of jobs with an instant provider (bench/queue_burst.py).

`make bench` runs the last three in their quick form (50,000 images; 20 jobs; a burst of 500);
`BENCH_FULL=1 make bench` runs them in full (1,000,000 images, about 30 s to build; 500 jobs,
about 2.5 minutes; a burst of 4,000).

`make bench-faults` runs the fault matrix at the issue's durations: storage faults through the core
(bench/storage_faults.py), Slack 429s and upload-URL 500s (bench/slack_faults.py), Discord 429s and
5xx (bench/discord_faults.py), each printing posted once / duplicated / lost counts.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image

from bench.waiter import Waiter
from bot import imaging
from bot.answers import Images, Queued
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
            if not isinstance(update.result, Images):
                raise RuntimeError(f"job {reply.job.id} ended {update.stage.value}")
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


def bench_grid() -> None:
    """CPU time of one grid of four 1024² images: offline renders, and noisy real-size PNGs."""
    from bot.domain import ImageOptions
    from bot.providers.base import ProviderRequest
    from bot.providers.offline import _render
    from bot.providers.offline_pictures import Plan

    request = ProviderRequest("generate", "a grid", ImageOptions(model="gpt-image-2", size="1024x1024", n=4))
    offline = [_render(Plan(request, (1024, 1024), None, None, ()), i)[1].data for i in range(4)]
    noisy = []
    for _ in range(4):
        buffer = io.BytesIO()
        Image.frombytes("RGB", (1024, 1024), os.urandom(1024 * 1024 * 3)).save(buffer, "PNG")
        noisy.append(buffer.getvalue())
    for name, images in (("offline renders", offline), ("noisy 3 MB PNGs", noisy)):
        times = []
        for _ in range(15):
            start = time.process_time()
            imaging.make_grid(images)
            times.append(time.process_time() - start)
        print(f"grid of four 1024² {name}: median {statistics.median(times) * 1000:.1f} ms CPU")


def main() -> None:
    from bench import acks, discord_intake, lookups, queue_burst, side_by_side, slack_intake

    asyncio.run(bench_core(rounds=int(os.environ.get("BENCH_ROUNDS", "3"))))
    bench_fit()
    bench_grid()
    acks.main()
    # The intake benches lock the database on purpose: each busy answer would log a warning.
    logging.getLogger("imagebot.bot.intake").setLevel(logging.ERROR)
    slack_intake.main()
    discord_intake.main()
    lookups.main([] if os.environ.get("BENCH_FULL") else ["--quick"])
    side_by_side.main([] if os.environ.get("BENCH_FULL") else ["--quick"])
    queue_burst.main([] if os.environ.get("BENCH_FULL") else ["--quick"])


def faults() -> None:
    """The fault matrix at the issue's full durations (`make bench-faults`, a few minutes)."""
    from bench import discord_faults, slack_faults, storage_faults

    storage_faults.main()
    slack_faults.main()
    discord_faults.main()


if __name__ == "__main__":
    main()
