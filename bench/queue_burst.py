"""How fast the job queue drains a burst: `python -m bench.queue_burst [--quick]`.

4,000 jobs (`--quick`: 500), each from its own requester so per-user limits do not serialize
them, are submitted at once through the real core (intake, policy, SQLite store, runner,
presenter) with a provider that answers at once, so what is measured is the queue's own cost.
One row per `imagebot_max_concurrency` (64 and 1000), each in a fresh process so its peak RSS is
its own. Per row: the time to submit the whole burst, the drain rate (jobs per second from the
first submit to the last DONE), p50/p99 from submit to DONE, how many place-in-line updates
(QUEUED without a result) the presenter received, in all and per job, and the peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import io
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

from bot.answers import JobUpdate, Queued, Stage
from bot.domain import SessionKey, UserRef
from bot.providers.base import GeneratedImage, OnPartial, ProviderRequest, ProviderResult
from storage.store import Store
from tests.helpers import build_bot, make_settings

CONCURRENCIES = (64, 1000)
FULL_JOBS = 4000
QUICK_JOBS = 500
DRAIN_TIMEOUT = 600.0  # seconds: a run that takes longer is reported as stuck


def _tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 140, 200)).save(buffer, "PNG")
    return buffer.getvalue()


class InstantProvider:
    """A bench-only stand-in that answers at once with a tiny pre-encoded PNG, so only the
    queue's own cost is measured; implements `bot.providers.base.Provider`."""

    name = "instant"
    label: str | None = "bench stand-in"
    charges = False
    partial_images = 0

    def __init__(self) -> None:
        self._png = _tiny_png()

    async def run(self, request: ProviderRequest, on_partial: OnPartial | None = None) -> ProviderResult:
        image = GeneratedImage(self._png, "image/png", 16, 16)
        return ProviderResult(images=(image,) * request.options.n, usage=None, label=self.label)

    async def close(self) -> None:
        return None


class BurstPresenter:
    """Counts place-in-line updates and notes when each job ended."""

    def __init__(self) -> None:
        self.expected: int | None = None  # known once the whole burst is submitted
        self.ended: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.place_updates: collections.Counter[str] = collections.Counter()
        self.all_ended = asyncio.Event()

    async def job_update(self, update: JobUpdate) -> None:
        if update.stage is Stage.QUEUED and update.result is None:
            self.place_updates[update.job.id] += 1
        elif update.stage in (Stage.DONE, Stage.FAILED, Stage.CANCELLED):
            self.ended[update.job.id] = time.perf_counter()
            if update.stage is not Stage.DONE:
                self.failed[update.job.id] = f"{update.stage.value}: {update.result!r}"[:200]
            if self.expected is not None and len(self.ended) >= self.expected:
                self.all_ended.set()


@dataclass
class Row:
    concurrency: int
    jobs: int
    queued: int
    problems: dict[str, int]
    failed: int
    submit_s: float
    drain_s: float
    rate: float
    p50_s: float
    p99_s: float
    place_updates: int
    place_max_per_job: int
    peak_rss_mb: float
    first_failure: str | None = None


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1): a value that was actually seen."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


async def burst(jobs: int, concurrency: int) -> Row:
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp), imagebot_max_concurrency=concurrency, imagebot_user_max_queued=10)
        store = await Store.open(settings.database_path, settings.blobs_dir)
        bot = build_bot(settings, store, InstantProvider())
        presenter = BurstPresenter()
        bot.register_presenter("bench", presenter)
        await bot.start()
        submitted: dict[str, float] = {}
        problems: collections.Counter[str] = collections.Counter()

        async def submit(i: int) -> None:
            user = UserRef("bench", f"u{i}", f"U{i}")
            where = SessionKey("bench", "w", "c", f"t{i}")
            start = time.perf_counter()
            outcome = await bot.imagine(user, where, f"p {i} --n 1")
            if isinstance(outcome, Queued):
                submitted[outcome.job.id] = start
            else:
                problems[f"{type(outcome).__name__}: {getattr(outcome, 'text', outcome)!r}"[:160]] += 1

        try:
            first = time.perf_counter()
            await asyncio.gather(*(submit(i) for i in range(jobs)))
            submit_s = time.perf_counter() - first
            presenter.expected = len(submitted)
            if len(presenter.ended) >= presenter.expected:
                presenter.all_ended.set()
            try:
                await asyncio.wait_for(presenter.all_ended.wait(), DRAIN_TIMEOUT)
            except TimeoutError:
                print(
                    f"  stuck: {len(presenter.ended)} of {len(submitted)} jobs ended in {DRAIN_TIMEOUT:.0f} s",
                    file=sys.stderr,
                )
        finally:
            await bot.stop()
            await store.close()
    ended = [presenter.ended[job_id] for job_id in submitted if job_id in presenter.ended]
    last = max(ended, default=first)
    latencies = [presenter.ended[job_id] - t for job_id, t in submitted.items() if job_id in presenter.ended]
    drain_s = last - first
    return Row(
        concurrency=concurrency,
        jobs=jobs,
        queued=len(submitted),
        problems=dict(problems),
        failed=len(presenter.failed),
        submit_s=submit_s,
        drain_s=drain_s,
        rate=len(ended) / drain_s if drain_s > 0 else 0.0,
        p50_s=percentile(latencies, 0.5) if latencies else math.nan,
        p99_s=percentile(latencies, 0.99) if latencies else math.nan,
        place_updates=sum(presenter.place_updates.values()),
        place_max_per_job=max(presenter.place_updates.values(), default=0),
        peak_rss_mb=peak_rss_mb(),
        first_failure=next(iter(presenter.failed.values()), None),
    )


def run_child(jobs: int, concurrency: int) -> Row:
    """One row in a fresh process, so its peak RSS is its own."""
    command = [
        sys.executable,
        "-m",
        "bench.queue_burst",
        "--jobs",
        str(jobs),
        "--concurrency",
        str(concurrency),
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    if done.stderr.strip():
        print(done.stderr.rstrip(), file=sys.stderr)
    return Row(**json.loads(done.stdout.strip().splitlines()[-1]))


def print_row(row: Row) -> None:
    per_job = row.place_updates / row.queued if row.queued else 0.0
    print(
        f"max_concurrency {row.concurrency:>4}: {row.jobs} jobs, submit {row.submit_s:.2f} s,"
        f" drain {row.rate:,.0f} jobs/s ({row.drain_s:.2f} s), submit->done p50 {row.p50_s:.2f} s"
        f" p99 {row.p99_s:.2f} s, place-in-line updates {row.place_updates} ({per_job:.2f}/job,"
        f" max {row.place_max_per_job}), peak RSS {row.peak_rss_mb:.0f} MB"
    )
    if row.problems:
        print(f"  refused at submit: {sum(row.problems.values())}: {row.problems}")
    if row.failed:
        print(f"  failed: {row.failed}, e.g. {row.first_failure}")
    if row.queued and not row.rate:
        print("  no job ended")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="How fast the job queue drains a burst of jobs.")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_JOBS} jobs instead of {FULL_JOBS}")
    # A child process: one row (what main runs for each concurrency), printed as one JSON line.
    parser.add_argument("--jobs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.jobs is not None:
        print(json.dumps(asdict(asyncio.run(burst(args.jobs, args.concurrency)))))
        return
    jobs = QUICK_JOBS if args.quick else FULL_JOBS
    print(f"queue burst: {jobs} jobs at once, one requester each, an instant provider")
    for concurrency in CONCURRENCIES:
        print_row(run_child(jobs, concurrency))


if __name__ == "__main__":
    main()
