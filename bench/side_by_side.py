"""The bot's core next to the bare OpenAI SDK (`python -m bench.side_by_side [--quick]`).

The same image requests go (a) through the core (`bot.imagine` -> queue -> provider -> storage ->
grid -> presenter) and (b) straight through `openai.AsyncOpenAI().images.generate`, both against
the same fake Images API with a fixed latency L, so the difference is what the core adds.
Figures, not pass/fail. Per case, one row:

- ratio: whole-batch wall time, bot / SDK (1.00 = the core adds nothing);
- p50 / p99 per-job latency, submit -> done, for both; for the bot also submit -> running and
  submit -> stored (the job's images recorded in the database);
- CPU seconds (all threads) each side's process spent on the batch, and its peak RSS;
- event-loop stall during the bot run: p99 and worst gap seen by a 1 ms ticker task (and, for
  comparison, the worst gap in the SDK's process: what calling the SDK on the loop costs anyway).

Each side of each case runs in a fresh child process (`--side bot|sdk`, JSON on stdout), so its
peak RSS is its own; the fake runs in a third (bench/fake_openai_process.py), so its CPU and
memory are not the bot's, and answers from pre-rendered images (FakeOpenAI.pool), so its cost per
reply is ~0. Both sides do one warm-up request of the case's kind first: a long-running bot has
its connections open, its lazy imports done and its first grid made.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import inspect
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import openai

from bench.fake_openai_process import ROOT, FakeEndpoint, PoolKind, child_env, fake_openai_process
from bot.answers import JobUpdate, Queued, Stage
from bot.domain import SessionKey, UserRef
from bot.service import ImageBot
from storage.store import Store
from tests.helpers import build_bot, make_settings

Side = Literal["bot", "sdk"]
MODEL = "gpt-image-2"
SIZE = "1024x1024"
TICK = 0.001  # the stall ticker's period, seconds
T = TypeVar("T")


# --- cases and figures -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    delay: float  # the fake provider's latency L, seconds
    jobs: int  # submitted at once
    n: int  # images per job
    pool: PoolKind  # "solid": the fake's small solid-colour PNGs; "noisy": ~3 MB, like real output

    @property
    def label(self) -> str:
        images = "fake-size" if self.pool == "solid" else "real-size"
        return f"{f'L={self.delay:g}s':<7} {self.jobs:>3}×n{self.n}  {images}"


def full_cases() -> list[Case]:
    cases = [Case(delay, jobs, n, "solid") for delay in (2.0, 0.2) for jobs in (1, 500) for n in (1, 4)]
    cases.append(Case(0.2, 1, 4, "noisy"))
    cases += [Case(delay, 50, 4, "noisy") for delay in (2.0, 0.2)]
    return cases


def quick_cases() -> list[Case]:
    """Tiny cases for a smoke run (CI): the whole thing in well under 20 s."""
    return [Case(0.05, 20, 1, "solid"), Case(0.05, 20, 4, "solid"), Case(0.05, 3, 4, "noisy")]


@dataclass(frozen=True)
class SdkFigures:
    wall: float  # seconds, first submit -> last done
    p50: float  # per-job latency, submit -> done, seconds
    p99: float
    cpu: float  # seconds of CPU, all threads, during the batch
    peak_rss_mb: float
    stall_max_ms: float  # the worst gap of a 1 ms ticker while the batch ran


@dataclass(frozen=True)
class BotFigures:
    wall: float
    p50: float
    p99: float
    running_p50: float  # submit -> the job's RUNNING update
    stored_p50: float  # submit -> its results recorded (store.jobs.complete returned)
    stored_p99: float
    cpu: float
    peak_rss_mb: float
    stall_p99_ms: float  # gaps between ticks of a 1 ms ticker while the batch ran
    stall_max_ms: float


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1): a value that was actually seen."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # the whole process: worker threads too
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Spent:
    wall: float  # seconds
    cpu: float  # seconds of CPU, all threads


async def measured(batch: Awaitable[T]) -> tuple[T, Spent]:
    """Await a batch; what it returned and the wall-clock and CPU time it took."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = await batch
    return result, Spent(time.perf_counter() - wall, cpu_seconds() - cpu)


# --- the bot side ----------------------------------------------------------------------------------
class Timeline:
    """The presenter: when each job started running and ended, and a way to wait for the end."""

    def __init__(self) -> None:
        self.running: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.failures: dict[str, str] = {}
        self._ends: dict[str, asyncio.Event] = {}

    async def job_update(self, update: JobUpdate) -> None:
        now = time.perf_counter()
        job_id = update.job.id
        if update.stage is Stage.RUNNING:
            self.running.setdefault(job_id, now)
        elif update.stage in (Stage.DONE, Stage.FAILED, Stage.CANCELLED):
            self.ended[job_id] = now
            if update.stage is not Stage.DONE:
                self.failures[job_id] = getattr(update.result, "text", update.stage.value)
            self._end(job_id).set()

    async def wait(self, job_id: str) -> None:
        await self._end(job_id).wait()

    def _end(self, job_id: str) -> asyncio.Event:
        return self._ends.setdefault(job_id, asyncio.Event())


class Ticker:
    """A task that asks to wake every millisecond; how late it wakes is how long the loop stalled."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _tick(self) -> None:
        last = time.perf_counter()
        while not self._stop.is_set():
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            self.gaps.append(now - last)
            last = now


def time_stored(store: Store, stored: dict[str, float]) -> None:
    """Record when each job's results are in the database, by wrapping the repository call that
    records them (the executor looks it up on `store.jobs` at each call, so the wrapper is used)."""
    repo = store.jobs
    complete = getattr(repo, "complete", None)
    if not callable(complete) or next(iter(inspect.signature(complete).parameters), None) != "job":
        raise RuntimeError(
            f"{type(repo).__name__}.complete(job, ...) is gone or has changed: bench/side_by_side.py"
            " times 'to stored' by wrapping the call that records a job's results; point"
            " time_stored() at the new one"
        )

    async def timed(job: Any, *args: Any, **kwargs: Any) -> Any:
        result = await complete(job, *args, **kwargs)
        stored[job.id] = time.perf_counter()
        return result

    setattr(repo, "complete", timed)  # noqa: B010 - an instance attribute over the method, on purpose


async def submit_and_wait(bot: ImageBot, timeline: Timeline, who: str, n: int) -> tuple[str, float]:
    """One /imagine by its own requester (so per-person limits never serialize the batch); returns
    the job id and when it was submitted, once the job has ended."""
    user = UserRef("bench", who, f"User {who}")
    where = SessionKey("bench", "w", "c", f"t-{who}")
    submitted = time.perf_counter()
    reply = await bot.imagine(user, where, f"prompt {who} --n {n}")
    if not isinstance(reply, Queued):
        raise RuntimeError(f"/imagine by {who} was refused: {reply.text}")
    await timeline.wait(reply.job.id)
    return reply.job.id, submitted


async def run_bot(case: Case, endpoint: FakeEndpoint) -> BotFigures:
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(
            Path(tmp),
            imagebot_provider="openai",
            openai_api_key=endpoint.api_key,
            openai_base_url=endpoint.base_url,
            imagebot_partial_images=0,
            imagebot_max_concurrency=1000,
            imagebot_openai_max_retries=0,
        )
        store = await Store.open(settings.database_path, settings.blobs_dir)
        bot = build_bot(settings, store)
        timeline = Timeline()
        stored: dict[str, float] = {}
        time_stored(store, stored)
        bot.register_presenter("bench", timeline)
        await bot.start()
        try:
            await submit_and_wait(bot, timeline, "warm-up", case.n)
            ticker = Ticker()
            ticker.start()
            batch = (submit_and_wait(bot, timeline, f"u{i}", case.n) for i in range(case.jobs))
            jobs, spent = await measured(asyncio.gather(*batch))
            await ticker.stop()
        finally:
            await bot.stop()
            await bot.provider.close()
            await store.close()
    return bot_figures(jobs, timeline, stored, ticker.gaps, spent)


def bot_figures(
    jobs: list[tuple[str, float]],
    timeline: Timeline,
    stored: dict[str, float],
    gaps: list[float],
    spent: Spent,
) -> BotFigures:
    if timeline.failures:
        job_id, text = next(iter(timeline.failures.items()))
        raise RuntimeError(f"{len(timeline.failures)} bot jobs failed, e.g. {job_id}: {text}")
    missing = [job_id for job_id, _ in jobs if job_id not in stored]
    if missing:
        raise RuntimeError(
            f"{len(missing)} jobs ended without store.jobs.complete being called: the core records"
            " results some other way now; point time_stored() at it"
        )
    done = [timeline.ended[job_id] - t for job_id, t in jobs]
    to_stored = [stored[job_id] - t for job_id, t in jobs]
    return BotFigures(
        wall=spent.wall,
        p50=percentile(done, 0.5),
        p99=percentile(done, 0.99),
        running_p50=percentile([timeline.running[job_id] - t for job_id, t in jobs], 0.5),
        stored_p50=percentile(to_stored, 0.5),
        stored_p99=percentile(to_stored, 0.99),
        cpu=spent.cpu,
        peak_rss_mb=peak_rss_mb(),
        stall_p99_ms=percentile(gaps, 0.99) * 1000,
        stall_max_ms=max(gaps) * 1000,
    )


# --- the SDK side ----------------------------------------------------------------------------------
async def generate_once(client: openai.AsyncOpenAI, prompt: str, n: int) -> float:
    """One request as any client makes it, decoding the images to bytes; its latency."""
    submitted = time.perf_counter()
    response = await client.images.generate(model=MODEL, prompt=prompt, n=n, size=SIZE)
    images = [base64.b64decode(item.b64_json or "") for item in response.data or []]
    if len(images) != n:
        raise RuntimeError(f"asked for {n} images, the fake returned {len(images)}")
    return time.perf_counter() - submitted


async def run_sdk(case: Case, endpoint: FakeEndpoint) -> SdkFigures:
    # The SDK's default connection limits (openai._constants: 1000 connections, 100 kept alive)
    # are what the bot's OpenAIProvider uses too; 1000 does not cap 500 concurrent requests, so
    # both sides keep the defaults rather than a setting the bot could not be given.
    async with openai.AsyncOpenAI(
        api_key=endpoint.api_key, base_url=endpoint.base_url, max_retries=0
    ) as client:
        await generate_once(client, "warm-up", case.n)
        ticker = Ticker()
        ticker.start()
        batch = (generate_once(client, f"prompt {i}", case.n) for i in range(case.jobs))
        latencies, spent = await measured(asyncio.gather(*batch))
        await ticker.stop()
    return SdkFigures(
        wall=spent.wall,
        p50=percentile(latencies, 0.5),
        p99=percentile(latencies, 0.99),
        cpu=spent.cpu,
        peak_rss_mb=peak_rss_mb(),
        stall_max_ms=max(ticker.gaps) * 1000,
    )


# --- the parent: one case at a time, each side in a fresh process ----------------------------------
def run_side(side: Side, case: Case, endpoint: FakeEndpoint) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "bench.side_by_side",
        "--side",
        side,
        "--case",
        json.dumps(dataclasses.asdict(case)),
        "--endpoint",
        json.dumps(dataclasses.asdict(endpoint)),
    ]
    # stderr is passed through: a child's warnings and tracebacks show where they happen.
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=child_env(), cwd=ROOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the {side} side of {case.label} failed (exit {done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_case(case: Case) -> tuple[BotFigures, SdkFigures]:
    with fake_openai_process(case.delay, case.pool) as endpoint:
        bot = BotFigures(**run_side("bot", case, endpoint))
        sdk = SdkFigures(**run_side("sdk", case, endpoint))
    return bot, sdk


COLUMNS = (
    ("case (L, jobs×images)", 25),
    ("ratio", 5),
    ("wall bot/sdk s", 13),
    ("p50 bot/sdk s", 13),
    ("p99 bot/sdk s", 13),
    ("→run p50", 8),
    ("→stored p50/p99", 15),
    ("CPU bot/sdk s", 13),
    ("RSS bot/sdk MB", 14),
    ("stall p99/max (sdk) ms", 22),
)
LEGEND = (
    "ratio: whole-batch wall time bot/SDK. p50, p99: per job, submit -> done. →run, →stored: bot only,"
    " submit -> running / results recorded.\nCPU: seconds, all threads, during the batch. RSS: peak"
    " of the process. stall: gaps of a 1 ms ticker in the bot process (worst in the SDK's)."
)


def header() -> str:
    return "  ".join(
        name.ljust(width) if i == 0 else name.rjust(width) for i, (name, width) in enumerate(COLUMNS)
    )


def row(case: Case, bot: BotFigures, sdk: SdkFigures) -> str:
    cells = (
        case.label,
        f"{bot.wall / sdk.wall:.2f}",
        f"{bot.wall:.2f}/{sdk.wall:.2f}",
        f"{bot.p50:.2f}/{sdk.p50:.2f}",
        f"{bot.p99:.2f}/{sdk.p99:.2f}",
        f"{bot.running_p50:.3f}",
        f"{bot.stored_p50:.2f}/{bot.stored_p99:.2f}",
        f"{bot.cpu:.2f}/{sdk.cpu:.2f}",
        f"{bot.peak_rss_mb:.0f}/{sdk.peak_rss_mb:.0f}",
        f"{bot.stall_p99_ms:.1f}/{bot.stall_max_ms:.0f} ({sdk.stall_max_ms:.0f})",
    )
    return "  ".join(
        cell.ljust(width) if i == 0 else cell.rjust(width)
        for i, (cell, (_, width)) in enumerate(zip(cells, COLUMNS, strict=True))
    )


def run_all(cases: list[Case]) -> None:
    started = time.perf_counter()
    print("bot core vs bare OpenAI SDK, same fake Images API (latency L) in its own process")
    print(header())
    for case in cases:
        bot, sdk = run_case(case)
        print(row(case, bot, sdk), flush=True)
    print(LEGEND)
    print(f"({len(cases)} cases in {time.perf_counter() - started:.0f} s)")


async def measure_side(side: Side, case: Case, endpoint: FakeEndpoint) -> BotFigures | SdkFigures:
    if side == "bot":
        return await run_bot(case, endpoint)
    return await run_sdk(case, endpoint)


def run_child(side: Side, case: Case, endpoint: FakeEndpoint) -> None:
    """One side of one case, in this (fresh) process: its figures as one JSON line."""
    figures = asyncio.run(measure_side(side, case, endpoint))
    print(json.dumps(dataclasses.asdict(figures)))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The bot's core next to the bare OpenAI SDK.")
    parser.add_argument("--quick", action="store_true", help="tiny cases, for a smoke run")
    # A child process: one side of one case (what main runs for each row).
    parser.add_argument("--side", choices=("bot", "sdk"), help=argparse.SUPPRESS)
    parser.add_argument("--case", type=lambda text: Case(**json.loads(text)), help=argparse.SUPPRESS)
    parser.add_argument(
        "--endpoint", type=lambda text: FakeEndpoint(**json.loads(text)), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.side is not None:
        run_child(args.side, args.case, args.endpoint)
        return
    run_all(quick_cases() if args.quick else full_cases())


if __name__ == "__main__":
    main()
