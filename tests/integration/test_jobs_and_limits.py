"""The job queue through the whole core, with the fake OpenAI holding jobs 'running' on a gate."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from bot import imaging, queue_positions
from bot.answers import JobUpdate, Queued, Stage, problem_kind
from bot.buttons import ButtonId, Verb
from bot.domain import UserRef
from tests.fakes.openai import FakeOpenAI
from tests.helpers import count_commits, make_settings
from tests.integration.helpers import ADMIN, ALICE, BOB, THREAD, RecordingPresenter, running_bot


def openai_settings(data_dir: Path, fake: FakeOpenAI, **extra: object):
    values = {
        "imagebot_provider": "openai",
        "openai_api_key": "sk-test",
        "openai_base_url": fake.base_url,
        "imagebot_partial_images": 0,
        "imagebot_openai_max_retries": 0,
        "imagebot_provider_retry_seconds": 0.0,
    }
    values.update(extra)
    return make_settings(data_dir, **values)


def job_statuses(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT id, status FROM jobs").fetchall())


async def test_per_user_limits_queue_positions_and_cancel(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.gate = asyncio.Event()
    settings = openai_settings(data_dir, fake_openai, imagebot_user_max_running=2, imagebot_user_max_queued=3)
    async with running_bot(settings) as (bot, presenter):
        first = [await bot.imagine(ALICE, THREAD, f"fox {i} --n 1") for i in range(2)]
        assert [r.position for r in first] == [0, 0]  # both start at once
        await fake_openai.wait_for_requests(2)
        queued = [await bot.imagine(ALICE, THREAD, f"owl {i} --n 1") for i in range(3)]
        assert [r.position for r in queued] == [1, 2, 3]
        assert "#2 in line" in queued[1].text

        full = await bot.imagine(ALICE, THREAD, "one too many --n 1")
        assert problem_kind(full) == "quota"
        assert "Queue full" in full.text
        assert len(job_statuses(settings.database_path)) == 5  # the refused one stored nothing

        # Bob is not held back by Alice's running limit: the global limit (4) has room.
        bobs = await bot.imagine(BOB, THREAD, "bob's cat --n 1")
        assert bobs.position == 0
        await fake_openai.wait_for_requests(3)

        queue = await bot.queue(ALICE, THREAD)
        assert "3 running, 3 waiting" in queue.text
        assert "#1 in line" in queue.text

        refused = await bot.cancel(BOB, THREAD, queued[0].job_id)
        assert problem_kind(refused) == "forbidden"
        assert "Alice" in refused.text
        assert problem_kind(await bot.cancel(ALICE, THREAD, queued[0].job_id)) is None
        assert problem_kind(await bot.cancel(ADMIN, THREAD, queued[1].job_id)) is None
        assert (await presenter.final(queued[0].job_id)).stage is Stage.CANCELLED

        fake_openai.gate.set()
        for reply in [*first, queued[2], bobs]:
            assert (await presenter.final(reply.job_id)).stage is Stage.DONE
    statuses = job_statuses(settings.database_path)
    assert statuses[queued[0].job_id] == statuses[queued[1].job_id] == "cancelled"
    assert len(fake_openai.requests) == 4  # cancelled jobs never reached the provider


async def test_cancel_a_running_job(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.gate = asyncio.Event()
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        reply = await bot.imagine(ALICE, THREAD, "a slow painting --n 1")
        await fake_openai.wait_for_requests(1)
        assert problem_kind(await bot.cancel(ALICE, THREAD)) is None  # no id: my latest job
        assert (await presenter.final(reply.job_id)).stage is Stage.CANCELLED
    assert job_statuses(data_dir / "imagebot.sqlite3")[reply.job_id] == "cancelled"


async def test_restart_resumes_queued_and_retries_running_jobs(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.gate = asyncio.Event()
    settings = openai_settings(data_dir, fake_openai, imagebot_max_concurrency=1)
    async with running_bot(settings, grace=0) as (bot, _):
        running = await bot.imagine(ALICE, THREAD, "interrupted --n 1")
        waiting = await bot.imagine(BOB, THREAD, "still waiting --n 1")
        await fake_openai.wait_for_requests(1)
        assert waiting.position == 1
    # The process "died" with one job running and one queued.
    statuses = job_statuses(settings.database_path)
    assert statuses == {running.job_id: "running", waiting.job_id: "queued"}

    fake_openai.gate.set()
    async with running_bot(settings) as (bot, presenter):
        assert (await presenter.final(running.job_id)).stage is Stage.DONE
        assert (await presenter.final(waiting.job_id)).stage is Stage.DONE
    assert set(job_statuses(settings.database_path).values()) == {"done"}


async def test_a_job_interrupted_twice_is_reported_failed(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.gate = asyncio.Event()
    settings = openai_settings(data_dir, fake_openai)
    for attempt in (1, 2):
        async with running_bot(settings, grace=0) as (bot, _):
            if attempt == 1:
                job_id = (await bot.imagine(ALICE, THREAD, "unlucky --n 1")).job_id
            await fake_openai.wait_for_requests(attempt)
    async with running_bot(settings) as (bot, presenter):
        final = await presenter.final(job_id)
        assert final.stage is Stage.FAILED
        assert "restarted" in final.result.text
        assert final.result.buttons[0].verb == "retry"


async def test_safety_refusal_is_explained_and_not_charged(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.refuse_next("violence")
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        reply = await bot.imagine(ALICE, THREAD, "something violent --n 2")
        final = await presenter.final(reply.job_id)
        assert final.stage is Stage.FAILED
        assert "safety system" in final.result.text
        assert "violence" in final.result.text
        assert problem_kind(final.result) == "refused"
        assert final.result.buttons == ()  # retrying the same prompt will not help
        usage = await bot.usage(ALICE, THREAD)
        assert "You today: 0 images" in usage.text


async def test_rate_limit_fails_with_retry_button_that_works(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_next(429, headers={"retry-after-ms": "1"}, times=2)
    settings = openai_settings(data_dir, fake_openai, imagebot_openai_max_retries=1)
    async with running_bot(settings) as (bot, presenter):
        reply = await bot.imagine(ALICE, THREAD, "a busy day --n 1")
        final = await presenter.final(reply.job_id)
        assert final.stage is Stage.FAILED
        assert problem_kind(final.result) == "rate_limited"
        assert len(fake_openai.requests) == 2  # the SDK retried before giving up
        (retry,) = final.result.buttons
        assert problem_kind(await bot.press(BOB, THREAD, retry.id)) == "forbidden"
        again = await bot.press(ALICE, THREAD, retry.id)
        assert (await presenter.final(again.job_id)).stage is Stage.DONE


async def test_streamed_partials_reach_the_presenter(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    settings = openai_settings(data_dir, fake_openai, imagebot_partial_images=2)
    async with running_bot(settings) as (bot, presenter):
        reply = await bot.imagine(ALICE, THREAD, "a lighthouse --n 1 --ar 16:9")
        final = await presenter.final(reply.job_id)
        assert final.stage is Stage.DONE
        stages = presenter.stages(reply.job_id)
        assert stages == [Stage.QUEUED, Stage.RUNNING, Stage.PARTIAL, Stage.PARTIAL, Stage.DONE]
        partials = [u.preview for u in presenter.updates if u.stage is Stage.PARTIAL]
        assert all(p.startswith(b"\x89PNG") for p in partials)
        assert fake_openai.requests[0].fields["stream"] is True
        assert final.result.images[0].width == 1536
        assert final.result.images[0].height == 864


async def test_double_click_does_not_start_a_duplicate_job(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        made = await bot.imagine(ALICE, THREAD, "a kite --n 1")
        image_id = (await presenter.final(made.job_id)).result.images[0].image_id
        fake_openai.gate = asyncio.Event()
        first = await bot.press(ALICE, THREAD, ButtonId(Verb.UPSCALE, image_id))
        second = await bot.press(BOB, THREAD, ButtonId(Verb.UPSCALE, image_id))
        assert second.job_id == first.job_id
        assert "Already on it" in second.text
        fake_openai.gate.set()
        assert (await presenter.final(first.job_id)).stage is Stage.DONE
        assert len(fake_openai.requests) == 2


async def test_upscale_beyond_the_model_is_a_labelled_local_resample(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        made = await presenter.final(
            (await bot.imagine(ALICE, THREAD, "a tile --model gpt-image-1.5 --n 1")).job_id
        )
        image_id = made.result.images[0].image_id
        up = await presenter.final((await bot.press(ALICE, THREAD, ButtonId(Verb.UPSCALE, image_id))).job_id)
        (view,) = up.result.images
        assert (view.width, view.height) == (2048, 2048)  # 2x, since 1024x1024 is this model's largest
        assert "local resample" in up.result.text
        assert len(fake_openai.requests) == 1  # the provider was not asked for what it cannot do
        stored = await bot.store.images.image(view.image_id, within=THREAD)
        assert stored.label == "local resample"
        assert stored.parents == (image_id,)


class SlowToPostPresenter(RecordingPresenter):
    """Takes its time over a job's QUEUED update (a platform slow to post the status line)."""

    def __init__(self) -> None:
        super().__init__()
        self.posting = asyncio.Event()
        self.posted = asyncio.Event()

    async def job_update(self, update: JobUpdate) -> None:
        if update.stage is Stage.QUEUED and isinstance(update.result, Queued):
            self.posting.set()
            await self.posted.wait()
        await super().job_update(update)


async def test_a_job_is_announced_through_the_presenter_before_anything_else_it_reports(
    data_dir: Path,
) -> None:
    """One way for job events: the QUEUED update carries the job and its queued line, and no
    later update of the job reaches the presenter before it is through (no guard in adapters)."""
    async with running_bot(make_settings(data_dir)) as (bot, _):
        presenter = SlowToPostPresenter()
        bot.register_presenter("test", presenter)
        asking = asyncio.create_task(bot.imagine(ALICE, THREAD, "a lighthouse --n 1"))
        async with asyncio.timeout(10):
            await presenter.posting.wait()
        assert presenter.updates == []  # the job runs, but its RUNNING waits for the status line
        presenter.posted.set()
        queued = await asyncio.wait_for(asking, 10)
        assert isinstance(queued, Queued)
        final = await presenter.final(queued.job.id)
        assert final.stage is Stage.DONE
        first = presenter.updates[0]
        assert first.stage is Stage.QUEUED
        assert first.result == queued  # the same outcome the request was answered with
        assert first.job == queued.job
        assert presenter.stages(queued.job.id)[:2] == [Stage.QUEUED, Stage.RUNNING]


async def test_a_finished_job_frees_its_slot_before_its_grid_is_made(
    data_dir: Path, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One slot. The first set's grid is held; the next job must reach the provider meanwhile.
    grid_may_finish = threading.Event()
    real_grid = imaging.make_grid

    def held_grid(images: list[bytes]) -> bytes:
        if not grid_may_finish.wait(10):
            raise TimeoutError("the test never released the grid")
        return real_grid(images)

    monkeypatch.setattr(imaging, "make_grid", held_grid)
    settings = openai_settings(data_dir, fake_openai, imagebot_max_concurrency=1)
    async with running_bot(settings) as (bot, presenter):
        first = await bot.imagine(ALICE, THREAD, "a set of four --n 4")
        second = await bot.imagine(BOB, THREAD, "the next one --n 1")
        assert second.position == 1
        await fake_openai.wait_for_requests(2)  # while the first job's grid is still being made
        assert Stage.DONE not in presenter.stages(first.job_id)
        grid_may_finish.set()
        assert (await presenter.final(first.job_id)).stage is Stage.DONE
        assert (await presenter.final(second.job_id)).stage is Stage.DONE


async def test_a_burst_of_waiting_jobs_hears_its_place_in_line_a_bounded_number_of_times(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One slot and 40 jobs from 40 people: each start moves everyone up. Telling every waiting
    # job each time would be 780 updates. Coalesced, a job hears its place at most once per
    # interval: with an interval longer than the test, at most once in all.
    settings = make_settings(data_dir, imagebot_max_concurrency=1)
    people = [UserRef("test", f"u{i}", f"Person {i}") for i in range(40)]
    monkeypatch.setattr(queue_positions, "POSITION_INTERVAL", 3600.0)
    async with running_bot(settings) as (bot, presenter):
        replies = [await bot.imagine(person, THREAD, f"picture {i} --n 1") for i, person in enumerate(people)]
        for reply in replies:
            assert (await presenter.final(reply.job_id)).stage is Stage.DONE
    moves = [u for u in presenter.updates if u.stage is Stage.QUEUED and u.result is None]
    assert moves, "waiting jobs were never told they moved up"
    for reply in replies:
        assert len([u for u in moves if u.job.id == reply.job_id]) <= 1


async def test_a_job_that_starts_at_once_is_two_write_transactions(data_dir: Path) -> None:
    async with running_bot(make_settings(data_dir)) as (bot, presenter):
        earlier = await bot.imagine(ALICE, THREAD, "the thread's first image --n 1")
        assert (await presenter.final(earlier.job_id)).stage is Stage.DONE
        commits = await count_commits(bot.store.db)
        reply = await bot.imagine(ALICE, THREAD, "a kite over the sea --n 4")
        assert (await presenter.final(reply.job_id)).stage is Stage.DONE
    assert len(commits) == 2  # the job recorded as running, then its results
