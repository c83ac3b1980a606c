"""`--compare` (issue 11, item 5) and the job parts under it, through the whole core with the real
openai client against the fake Images API (which records each request's model)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bot.answers import Images, Queued, Stage, problem_kind
from bot.buttons import ButtonId, Verb
from bot.domain import JobPart, OptionOverrides
from tests.fakes.openai import FakeOpenAI
from tests.integration.helpers import ALICE, THREAD, running_bot
from tests.integration.test_jobs_and_limits import openai_settings

TWO = "gpt-image-2,gpt-image-2.5-flare"


def jobs_in(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


async def test_compare_calls_each_model_once_and_labels_one_grid(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        queued = await bot.imagine(ALICE, THREAD, f"a lighthouse at dusk --compare {TWO}")
        assert isinstance(queued, Queued), queued
        assert "comparing 2 models (gpt-image-2, gpt-image-2.5-flare)" in queued.text
        assert "up to ~$" in queued.text  # the estimated total, before it runs
        done = await presenter.final(queued.job_id)
        assert done.stage is Stage.DONE
        result = done.result
        assert isinstance(result, Images)

        # Each model asked once, for one image, with the same prompt.
        assert sorted(r.fields["model"] for r in fake_openai.requests) == [
            "gpt-image-2",
            "gpt-image-2.5-flare",
        ]
        assert all(r.endpoint == "generations" for r in fake_openai.requests)
        assert all(r.fields.get("n", 1) == 1 for r in fake_openai.requests)
        assert {r.fields["prompt"] for r in fake_openai.requests} == {"a lighthouse at dusk"}

        # One set: a grid, two images, each cell labelled with its model, price and time.
        assert result.grid is not None
        assert len(result.images) == 2
        first, second = result.caption.cells
        assert first.startswith("gpt-image-2 · ~$")
        assert first.endswith("s")
        assert second.startswith("gpt-image-2.5-flare · ~$")
        assert "gpt-image-2 vs gpt-image-2.5-flare" in result.text
        assert "`2` gpt-image-2.5-flare · ~$" in result.text
        assert [b.label for b in result.buttons if b.verb is Verb.U] == ["U1", "U2"]

        # U2 selects the second model's image, as any set's U button does.
        picked = await bot.press(ALICE, THREAD, ButtonId(Verb.U, result.caption.short_id, "2"))
        assert isinstance(picked, Images)
        assert picked.caption.model == "gpt-image-2.5-flare"
        assert picked.images[0].data == result.images[1].data


async def test_the_estimated_total_is_each_models_estimate_and_is_reserved(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        singles = []
        for model in TWO.split(","):
            one = await bot.imagine(ALICE, THREAD, f"a teapot --n 1 --model {model}")
            assert isinstance(one, Queued)
            singles.append(one.job.reserved_usd)
            await presenter.final(one.job_id)
        both = await bot.imagine(ALICE, THREAD, f"a teapot --compare {TWO}")
        assert isinstance(both, Queued)
        assert both.job.reserved_usd == sum(singles) > 0
        assert f"up to ~${sum(singles):.2f}" in both.text
        await presenter.final(both.job_id)

    # A budget that fits one model's image but not the comparison refuses it before it runs.
    fake_openai.requests.clear()
    fresh = openai_settings(
        data_dir.parent / "fresh", fake_openai, imagebot_person_monthly_budget_usd=max(singles) * 1.5
    )
    async with running_bot(fresh) as (bot, _presenter):
        refused = await bot.imagine(ALICE, THREAD, f"a teapot --compare {TWO}")
        assert problem_kind(refused) == "quota"
        assert f"this would cost about ${sum(singles):.2f}" in refused.text
        assert fake_openai.requests == []
        assert jobs_in(fresh.database_path) == 0


async def test_a_failed_model_is_named_and_the_others_still_shown(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        fake_openai.refuse_next("violence")  # whichever model's request arrives first
        queued = await bot.imagine(ALICE, THREAD, f"a knight --compare {TWO}")
        done = await presenter.final(queued.job_id)
        assert done.stage is Stage.DONE
        result = done.result
        assert isinstance(result, Images)
        (refused,) = [r for r in fake_openai.requests if r.status == 400]
        (made,) = [r for r in fake_openai.requests if r.status == 200]
        assert f"⚠️ {refused.fields['model']} failed:" in result.text
        assert "safety" in result.text
        assert len(result.images) == 1
        assert result.caption.cells[0].startswith(f"{made.fields['model']} · ~$")
        # Rebuilt the same way when it is posted again after a restart (stored with the set).
        ((job, again),) = await bot.undelivered("test")
        assert job.id == queued.job_id
        assert isinstance(again, Images)
        assert f"⚠️ {refused.fields['model']} failed:" in again.text
        assert again.caption.cells == result.caption.cells

        # The one image made is the current one: a reply edits it without asking which.
        edit = await bot.reply(ALICE, THREAD, "make it blue")
        assert isinstance(edit, Queued), edit
        assert (await presenter.final(edit.job_id)).stage is Stage.DONE
        assert fake_openai.last.images[0].data == made.returned[0]


async def test_every_model_failing_fails_the_job_naming_each(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        fake_openai.refuse_next("violence", times=2)
        queued = await bot.imagine(ALICE, THREAD, f"a knight --compare {TWO}")
        done = await presenter.final(queued.job_id)
        assert done.stage is Stage.FAILED
        assert problem_kind(done.result) == "refused"
        assert "gpt-image-2:" in done.result.text
        assert "gpt-image-2.5-flare:" in done.result.text


async def test_bad_compares_are_refused_by_name_and_nothing_is_stored(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    settings = openai_settings(data_dir, fake_openai, imagebot_member_models=["gpt-image-2"])
    async with running_bot(settings) as (bot, presenter):
        for text, message in (
            (f"a cat --compare {TWO} --n 2", "one image per model"),
            ("a cat --compare gpt-image-2,gpt-image-9", "unknown model gpt-image-9"),
            ("a cat --compare gpt-image-2,gpt-image-1", "gpt-image-1 was shut down"),
            ("a cat --compare gpt-image-2", "--compare needs 2 to 4 models"),
            ("a cat --compare gpt-image-2,gpt-image-2", "a model is named twice"),
            (f"a cat --compare {TWO} --model gpt-image-2", "leave out --model"),
            (f"a cat --compare {TWO}", "gpt-image-2.5-flare is for admins here"),
        ):
            answer = await bot.imagine(ALICE, THREAD, text)
            assert problem_kind(answer) is not None, text
            assert message in answer.text, (text, answer.text)
        assert fake_openai.requests == []
        assert jobs_in(settings.database_path) == 0

        first = await bot.imagine(ALICE, THREAD, "a cat --n 1")
        await presenter.final(first.job_id)
        reply = await bot.reply(ALICE, THREAD, f"make it blue --compare {TWO}")
        assert problem_kind(reply) == "invalid_input"
        assert "--compare works with /imagine only" in reply.text
        assert len(fake_openai.requests) == 1


async def test_reroll_compares_again(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        queued = await bot.imagine(ALICE, THREAD, f"a violin --compare {TWO}")
        done = await presenter.final(queued.job_id)
        assert isinstance(done.result, Images)
        rerolled = await bot.press(ALICE, THREAD, ButtonId(Verb.REROLL, done.result.caption.short_id))
        assert isinstance(rerolled, Queued)
        assert "comparing 2 models" in rerolled.text
        again = await presenter.final(rerolled.job_id)
        assert isinstance(again.result, Images)
        assert len(again.result.caption.cells) == 2
        models = [r.fields["model"] for r in fake_openai.requests[2:]]
        assert sorted(models) == ["gpt-image-2", "gpt-image-2.5-flare"]


async def test_several_prompts_make_one_job_and_one_labelled_grid(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        chosen = await bot.options_for(ALICE, THREAD, OptionOverrides(n=1))
        parts = [
            JobPart("a sneaker, front view", chosen, "front"),
            JobPart("a sneaker, side view", chosen, "side"),
            JobPart("a sneaker, from above", chosen, "top"),
        ]
        queued = await bot.imagine_parts(ALICE, THREAD, parts, title="sneaker pack")
        assert isinstance(queued, Queued)
        assert "3 prompts, gpt-image-2" in queued.text
        done = await presenter.final(queued.job_id)
        assert isinstance(done.result, Images)
        assert sorted(r.fields["prompt"] for r in fake_openai.requests) == sorted(p.prompt for p in parts)
        assert len(done.result.images) == 3
        assert done.result.grid is not None
        assert [cell.split(" · ")[0] for cell in done.result.caption.cells] == ["front", "side", "top"]
        assert "sneaker pack" in done.result.text
        assert jobs_in(data_dir / "imagebot.sqlite3") == 1

        too_many = await bot.imagine_parts(ALICE, THREAD, parts * 2)
        assert problem_kind(too_many) == "invalid_input"
        assert "2 to 4" in too_many.text


async def test_a_comparison_cut_off_by_a_restart_runs_again_as_a_comparison(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    settings = openai_settings(data_dir, fake_openai)
    fake_openai.gate = asyncio.Event()
    async with running_bot(settings, grace=0.0) as (bot, _presenter):
        queued = await bot.imagine(ALICE, THREAD, f"a harbour --compare {TWO}")
        await fake_openai.wait_for_requests(2)  # both models asked; the process stops mid-job
    fake_openai.gate.set()
    async with running_bot(settings) as (bot, presenter):
        done = await presenter.final(queued.job_id)
        assert done.stage is Stage.DONE
        assert isinstance(done.result, Images)
        assert [cell.split(" · ")[0] for cell in done.result.caption.cells] == TWO.split(",")
        after = [r.fields["model"] for r in fake_openai.requests[2:]]
        assert sorted(after) == sorted(TWO.split(","))


async def test_a_failed_comparison_retries_as_a_comparison(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        fake_openai.fail_next(503, times=4)  # each model, and its one more attempt
        queued = await bot.imagine(ALICE, THREAD, f"a glacier --compare {TWO}")
        failed = await presenter.final(queued.job_id)
        assert failed.stage is Stage.FAILED
        assert problem_kind(failed.result) == "unavailable"
        (retry,) = failed.result.buttons
        again = await bot.press(ALICE, THREAD, retry.id)
        assert isinstance(again, Queued)
        assert "comparing 2 models" in again.text
        assert again.job.reserved_usd == queued.job.reserved_usd
        done = await presenter.final(again.job_id)
        assert isinstance(done.result, Images)
        assert [cell.split(" · ")[0] for cell in done.result.caption.cells] == TWO.split(",")
