"""Budgets in real money are never overshot (issue 7, item 7), through the real openai client.

A job reserves its estimated cost against the workspace's and the requester's monthly budgets
when it is accepted; a job that would cross either is refused with the figures and leaves
nothing behind. When it finishes, the cost from the API's reported usage replaces the estimate.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bot.answers import Stage, problem_kind
from bot.config import DEFAULT_PRICES
from bot.costs import estimate_job_cost
from bot.domain import ImageOptions, SessionKey, SpendLimit, UserRef
from tests.fakes.openai import FakeOpenAI
from tests.integration.helpers import ALICE, BOB, THREAD, running_bot
from tests.integration.test_jobs_and_limits import openai_settings

PRICES = DEFAULT_PRICES["default"]
PROMPT = "a small boat"


def estimate(size: str, n: int = 1, quality: str = "auto") -> float:
    """What the bot reserves for `/imagine PROMPT --size … --n …` (no partial previews here)."""
    return estimate_job_cost(ImageOptions("gpt-image-2", size, n, quality), PRICES, prompt=PROMPT)


def jobs_in(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "imagebot.sqlite3") as conn:
        return conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]


async def test_a_job_that_would_cross_the_budget_is_refused_with_the_figures(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    settings = openai_settings(data_dir, fake_openai, imagebot_monthly_budget_usd=0.50)
    async with running_bot(settings) as (bot, _presenter):
        opened = []

        async def open_session() -> SessionKey:
            opened.append(True)
            return THREAD

        big = await bot.imagine(
            ALICE, THREAD, f"{PROMPT} --size 3840x2160 --quality high --n 1", open_session=open_session
        )
        cost = estimate("3840x2160", 1, "high")
        assert cost > 0.50
        assert problem_kind(big) == "quota"
        assert f"about ${cost:.2f}" in big.text
        assert "$0.50 of this workspace's $0.50 budget" in big.text
        assert opened == []
        assert jobs_in(data_dir) == 0  # no thread, no job, no request
        assert fake_openai.requests == []


async def test_exactly_at_the_limit_is_accepted_and_one_cent_more_is_not(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    each = estimate("1024x1024")
    settings = openai_settings(
        data_dir, fake_openai, imagebot_monthly_budget_usd=round(2 * each, 6), imagebot_user_max_running=4
    )
    fake_openai.gate = asyncio.Event()  # hold the jobs, so their reservations stay in force
    async with running_bot(settings) as (bot, presenter):
        first = await bot.imagine(ALICE, THREAD, f"{PROMPT} --size 1024x1024 --n 1")
        second = await bot.imagine(BOB, THREAD, f"{PROMPT} --size 1024x1024 --n 1")
        assert problem_kind(first) is None, first.text
        assert problem_kind(second) is None, second.text
        third = await bot.imagine(ALICE, THREAD, f"{PROMPT} --size 1024x1024 --n 1")
        assert problem_kind(third) == "quota"
        assert "$0.00 of this workspace's" in third.text
        assert "held by jobs still running" in third.text
        fake_openai.gate.set()
        for queued in (first, second):
            assert (await presenter.final(queued.job_id)).stage is Stage.DONE
        # The reservations were replaced by the real cost from the usage the API reported.
        limit = SpendLimit("test", "team", 1.0, 0.0)
        spent, reserved = await bot.store.jobs.committed(limit)
        assert reserved == 0.0
        with sqlite3.connect(data_dir / "imagebot.sqlite3") as conn:
            recorded = conn.execute("SELECT SUM(cost_usd) FROM usage").fetchone()[0]
        assert spent == recorded
        assert 0 < spent < 2 * each  # the estimate errs high, never low


async def test_concurrent_jobs_racing_for_the_last_dollars_never_reserve_past_the_budget(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    each = estimate("1536x1024")
    budget = round(3.5 * each, 6)
    settings = openai_settings(data_dir, fake_openai, imagebot_monthly_budget_usd=budget)
    fake_openai.gate = asyncio.Event()
    people = [UserRef("test", f"user{k}", f"User {k}") for k in range(10)]
    async with running_bot(settings) as (bot, presenter):
        replies = await asyncio.gather(
            *(bot.imagine(person, THREAD, f"{PROMPT} --size 1536x1024 --n 1") for person in people)
        )
        accepted = [r for r in replies if problem_kind(r) is None]
        refused = [r for r in replies if problem_kind(r) == "quota"]
        assert len(accepted) == 3
        assert len(refused) == 7
        _spent, reserved = await bot.store.jobs.committed(SpendLimit("test", "team", budget, 0.0))
        assert reserved <= budget
        assert jobs_in(data_dir) == 3
        fake_openai.gate.set()
        for queued in accepted:
            await presenter.final(queued.job_id)
        spent, _ = await bot.store.jobs.committed(SpendLimit("test", "team", budget, 0.0))
        assert spent <= budget


async def test_a_persons_budget_stops_them_but_not_their_team(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    each = estimate("1024x1024")
    settings = openai_settings(data_dir, fake_openai, imagebot_person_monthly_budget_usd=round(1.5 * each, 6))
    fake_openai.gate = asyncio.Event()
    async with running_bot(settings) as (bot, presenter):
        mine = await bot.imagine(ALICE, THREAD, f"{PROMPT} --size 1024x1024 --n 1")
        assert problem_kind(mine) is None
        again = await bot.imagine(ALICE, THREAD, f"{PROMPT} --size 1024x1024 --n 1")
        assert problem_kind(again) == "quota"
        assert "of your $" in again.text
        bobs = await bot.imagine(BOB, THREAD, f"{PROMPT} --size 1024x1024 --n 1")
        assert problem_kind(bobs) is None, bobs.text
        fake_openai.gate.set()
        await presenter.final(mine.job_id)
        await presenter.final(bobs.job_id)
        # Once the job is done its real (lower) cost counts, which leaves room for another.
        later = await bot.imagine(ALICE, THREAD, f"{PROMPT} --size 1024x1024 --n 1")
        assert problem_kind(later) is None, later.text
        await presenter.final(later.job_id)
        usage = await bot.usage(ALICE, THREAD)
        assert "budget" in usage.text


async def test_the_offline_renderer_reserves_nothing(data_dir: Path) -> None:
    from tests.helpers import make_settings

    settings = make_settings(data_dir, imagebot_monthly_budget_usd=0.01)
    async with running_bot(settings) as (bot, presenter):
        made = await bot.imagine(ALICE, THREAD, f"{PROMPT} --size 3840x2160 --quality high --n 1")
        assert problem_kind(made) is None, made.text
        assert (await presenter.final(made.job_id)).stage is Stage.DONE
