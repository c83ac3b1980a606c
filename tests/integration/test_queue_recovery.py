"""The queue survives faults while the process lives (issue 8, item 3).

A transient provider error mid-job gets one more attempt; a generated image whose write fails is
kept and its write retried while the disk is full; and the runner re-reads the database, so a
job the process dropped (a queued row it does not hold, a 'running' row with no task) still runs.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

import pytest

import bot.job_outcomes as job_outcomes
from bot.answers import Queued, Stage
from bot.domain import Job, JobSpec, JobStatus, Operation
from bot.records import PostKind, PostRef
from tests.fakes.openai import FakeOpenAI
from tests.helpers import make_settings
from tests.integration.helpers import ALICE, THREAD, running_bot
from tests.integration.test_jobs_and_limits import openai_settings
from tests.integration.test_storage_faults import fill, small_blob_disk  # noqa: F401 (fixture)


async def test_a_5xx_mid_job_gets_one_more_attempt(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        fake_openai.fail_next(502)
        done = await presenter.final((await bot.imagine(ALICE, THREAD, "a harbour --n 1")).job_id)
        assert done.stage is Stage.DONE
        assert len(fake_openai.requests) == 2


async def test_a_safety_refusal_is_not_retried(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        fake_openai.refuse_next()
        failed = await presenter.final((await bot.imagine(ALICE, THREAD, "a harbour --n 1")).job_id)
        assert failed.stage is Stage.FAILED
        assert len(fake_openai.requests) == 1  # paid once, told once


class _Seen(logging.Handler):
    """Sets an event when a log line containing `words` is emitted (no sleeping to find out)."""

    def __init__(self, words: str) -> None:
        super().__init__()
        self.words = words
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self.event.set()


async def test_a_generated_image_waits_out_a_full_disk(data_dir: Path, small_blob_disk: Path) -> None:  # noqa: F811
    seen = _Seen("saving an image failed")
    logging.getLogger("imagebot.bot.retry").addHandler(seen)
    try:
        async with running_bot(make_settings(data_dir, imagebot_storage_patience_seconds=30)) as (
            bot,
            presenter,
        ):
            filler = fill(small_blob_disk)
            queued = await bot.imagine(ALICE, THREAD, "a lighthouse --n 2")
            async with asyncio.timeout(10):
                await seen.event.wait()  # the disk is full and the job is holding on to its images
            filler.unlink()
            done = await presenter.final(queued.job_id, timeout=15)
            assert done.stage is Stage.DONE
            assert len(done.result.images) == 2
    finally:
        logging.getLogger("imagebot.bot.retry").removeHandler(seen)


@pytest.mark.parametrize("status", ["queued", "running"])
async def test_a_job_the_process_dropped_is_found_by_the_sweep(data_dir: Path, status: str) -> None:
    async with running_bot(make_settings(data_dir)) as (bot, presenter):
        session = await bot.store.images.session_for(THREAD)
        options = await bot.options_for(ALICE, THREAD, bot_overrides())
        job = Job(
            id="d0d0d0d0",
            session_id=session.id,
            where=THREAD,
            requester=ALICE,
            spec=JobSpec(Operation.IMAGINE, "a dropped kite", options),
            status=JobStatus.QUEUED,
            created_at=time.time(),
        )
        await bot.store.jobs.create(job)  # in the database, but never handed to the runner
        if status == "running":
            await bot.store.jobs.mark_running(job.id)  # and marked running, with no task behind it
        await bot.runner.sweep()
        done = await presenter.final(job.id)
        assert done.stage is Stage.DONE
        with sqlite3.connect(data_dir / "imagebot.sqlite3") as conn:
            assert conn.execute("SELECT status FROM jobs WHERE id=?", (job.id,)).fetchone()[0] == "done"
        await bot.runner.sweep()  # a second pass finds nothing to do: the job is not run twice
        assert [u.stage for u in presenter.updates if u.job.id == job.id].count(Stage.DONE) == 1


async def test_a_job_that_ends_while_the_sweep_reads_is_not_run_again(
    data_dir: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep's snapshot can show a job running that ends (and, after a burst of thousands,
    is forgotten by the runner's memory of ended jobs) before the snapshot is looked at: it must
    not be taken for a dropped job and paid for again."""
    monkeypatch.setattr(job_outcomes, "KEEP_FINISHED", 0)  # ended jobs forgotten at once, as in a burst
    fake_openai.gate = asyncio.Event()
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        job_id = (await bot.imagine(ALICE, THREAD, "a kite --n 1")).job_id
        read = bot.store.jobs.with_status

        async def read_then_the_job_ends(*statuses: JobStatus) -> list[Job]:
            snapshot = await read(*statuses)  # the job is running in it
            assert fake_openai.gate is not None
            fake_openai.gate.set()
            await presenter.final(job_id)
            return snapshot

        monkeypatch.setattr(bot.store.jobs, "with_status", read_then_the_job_ends)
        await bot.runner.sweep()
    assert len(fake_openai.requests) == 1
    assert [u.stage for u in presenter.updates if u.job.id == job_id and u.stage in FINAL] == [Stage.DONE]
    with sqlite3.connect(data_dir / "imagebot.sqlite3") as conn:
        assert conn.execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()[0] == "done"


FINAL = (Stage.DONE, Stage.FAILED, Stage.CANCELLED)


def bot_overrides():
    from bot.options import split_flags

    return split_flags("x --n 1")[1]


async def test_a_slow_platform_post_does_not_hold_the_next_job(data_dir: Path) -> None:
    """Posting a result (a Slack 429 wait, a big upload) happens outside the job's slot."""
    from tests.integration.helpers import BOB

    settings = make_settings(data_dir, imagebot_max_concurrency=1)
    async with running_bot(settings) as (bot, presenter):
        posting = asyncio.Event()
        release = asyncio.Event()
        record = presenter.job_update

        async def slow_on_done(update):
            await record(update)
            if update.stage is Stage.DONE and update.job.requester == ALICE:
                posting.set()
                await release.wait()  # the platform is rate-limiting this post

        presenter.job_update = slow_on_done
        first = await bot.imagine(ALICE, THREAD, "a slow post --n 1")
        second = await bot.imagine(BOB, THREAD, "the next job --n 1")
        async with asyncio.timeout(10):
            await posting.wait()
        # While Alice's result is still being posted, Bob's job runs and finishes.
        assert (await presenter.final(second.job_id)).stage is Stage.DONE
        release.set()
        assert (await presenter.final(first.job_id)).stage is Stage.DONE


async def test_two_requests_at_once_cannot_both_take_the_last_place_in_a_queue(data_dir: Path) -> None:
    settings = make_settings(data_dir, imagebot_user_max_running=1, imagebot_user_max_queued=1)
    async with running_bot(settings) as (bot, presenter):
        replies = await asyncio.gather(*(bot.imagine(ALICE, THREAD, f"kite {k} --n 1") for k in range(4)))
        accepted = [r for r in replies if isinstance(r, Queued)]
        # One running and one waiting at most; the others are told the queue is full.
        assert len(accepted) <= 2
        assert all("Queue full" in r.text for r in replies if not isinstance(r, Queued))
        for reply in accepted:
            await presenter.final(reply.job_id)


async def test_a_failure_message_never_posted_is_owed_after_a_restart(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        fake_openai.fail_next(500, times=2)  # the job and its one extra attempt
        failed = await presenter.final((await bot.imagine(ALICE, THREAD, "a storm --n 1")).job_id)
        assert failed.stage is Stage.FAILED
        # The process stopped before the platform got the failure message: it is still owed.
        owed = await bot.undelivered("test")
        assert [
            (job.id, "failed" in reply.text, [b.label for b in reply.buttons]) for job, reply in owed
        ] == [(failed.job.id, True, ["🔄 Retry"])]
        await bot.store.jobs.record_post(failed.job.id, "test", PostRef(PostKind.RESULT, "chan", "1"))
        assert await bot.undelivered("test") == []  # once posted, never again
