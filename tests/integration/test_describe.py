"""/describe end to end (issue 11, item 4): an image → 4 prompt suggestions from the text model
through the Responses API (the real `openai` client against the fake, which records the call),
each with a button that runs /imagine with it; on Discord (the real discord.py), Slack (the real
slack-bolt) and the console; costs recorded and budgeted like image jobs; ids scoped to their
workspace; bad input refused with nothing stored."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.answers import Notice, Problem, Stage
from bot.buttons import ButtonId, Verb
from bot.domain import Attachment, SessionKey
from bot.errors import ErrorKind
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack, app_mention_event, message_event
from tests.helpers import make_settings, png
from tests.integration.helpers import ALICE, BOB, THREAD, running_bot
from tests.integration.test_console_flow import run_script
from tests.integration.test_discord_adapter import (
    button_ids,
    channel_id,
    discord_bot,
    imagine,
    labels,
    original_containing,
    settings_for,
)
from tests.integration.test_jobs_and_limits import openai_settings
from tests.integration.test_slack_adapter import (
    CHANNEL,
    Harness,
    action_ids,
    button_labels,
    imagine_and_wait,
    running_slack,
    slack_settings,
)

RED = png(800, 600, color=(200, 30, 30))  # the fake's model "sees" #c81e1e, 800x600


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def suggestion_lines(text: str) -> list[str]:
    return [line.split(". ", 1)[1] for line in text.splitlines() if line[:2] in ("1.", "2.", "3.", "4.")]


# --- Discord ------------------------------------------------------------------------------------


async def test_discord_describe_calls_the_responses_api_with_the_image_and_a_button_imagines_it(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake = fake_discord
    async with discord_bot(settings_for(data_dir, fake, fake_openai)):
        assert "describe" in {c["name"] for c in fake.global_commands()}
        photo = fake.add_attachment("photo.png", RED, "image/png")
        payload = fake.slash_interaction("describe", {"image": photo}, channel=channel_id(fake))
        await fake.dispatch("INTERACTION_CREATE", payload)
        answer = await original_containing(fake, payload, "4 prompts for")
        [call] = fake_openai.responses.calls
        assert call.status == 200
        assert call.model == "gpt-6.2-astra"  # IMAGEBOT_TEXT_MODEL's default
        assert call.image_sizes == [(800, 600)]
        assert call.body["input"][0]["content"][1]["image_url"].startswith("data:image/png;base64,")
        assert fake_openai.requests == []  # describing made no image
        prompts = suggestion_lines(answer["content"])
        assert len(prompts) == 4
        assert all("#c81e1e" in p and "800x600" in p for p in prompts)  # what the model saw
        assert labels(answer) == ["Imagine 1", "Imagine 2", "Imagine 3", "Imagine 4"]
        assert not answer.get("flags", 0) & 64  # posted for the channel, not only the asker
        suggest = next(i for i in button_ids(answer) if i.startswith("ib:suggest:") and i.endswith(":2"))
        click = fake.component_interaction(answer, suggest)
        await fake.dispatch("INTERACTION_CREATE", click)
        request = await fake_openai.wait_for_requests(1)
        assert request.endpoint == "generations"
        assert request.fields["prompt"] == prompts[1]
        await fake.wait_for(
            lambda f: any(
                m.get("attachments") and "Here you go" in m["content"] for m in f.messages_in(channel_id(f))
            )
        )
    [(model, cost)] = rows(data_dir / "imagebot.sqlite3", "SELECT model, cost_usd FROM usage WHERE images=0")
    assert model == "gpt-6.2-astra"
    assert cost > 0  # the text model's tokens, priced


async def test_discord_describe_button_describes_the_sessions_image(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake = fake_discord
    async with discord_bot(settings_for(data_dir, fake, fake_openai)):
        _, result = await imagine(fake, "a lighthouse --n 1")
        assert "Describe" in labels(result)
        describe = next(i for i in button_ids(result) if i.startswith("ib:describe:"))
        await fake.dispatch("INTERACTION_CREATE", fake.component_interaction(result, describe))
        thread_id = result["id"]
        answer = await fake.wait_for(
            lambda f: next((m for m in f.messages_in(thread_id) if "4 prompts for" in m["content"]), None)
        )
    [call] = fake_openai.responses.calls
    assert call.images == [fake_openai.returned[0][0]]  # the very image the session made
    assert len([i for i in button_ids(answer) if i.startswith("ib:suggest:")]) == 4


async def test_discord_message_menu_describes_any_posted_image(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake = fake_discord
    async with discord_bot(settings_for(data_dir, fake, fake_openai)):
        general = channel_id(fake)
        photo = fake.add_attachment("photo.png", RED, "image/png", channel_id=general)
        posted = fake.message_create(general, "our new poster", attachments=[photo])
        menu = fake.context_menu_interaction("Describe image", posted, channel=general)
        await fake.dispatch("INTERACTION_CREATE", menu)
        answer = await original_containing(fake, menu, "4 prompts for `photo.png`")
        text_only = fake.message_create(general, "no picture here")
        nothing = fake.context_menu_interaction("Describe image", text_only, channel=general)
        await fake.dispatch("INTERACTION_CREATE", nothing)
        await fake.wait_for(lambda f: f.interactions[nothing["id"]].response is not None)
    assert len([i for i in button_ids(answer) if i.startswith("ib:suggest:")]) == 4
    assert fake_openai.responses.calls[0].images == [RED]
    refusal = fake.interaction_responses[nothing["id"]]["data"]
    assert "no image to describe" in refusal["content"]
    assert refusal["flags"] & 64
    assert len(fake_openai.responses.calls) == 1


# --- Slack --------------------------------------------------------------------------------------


@pytest.fixture
async def h(data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI) -> AsyncIterator[Harness]:
    async with running_slack(slack_settings(data_dir, slack, fake_openai), slack) as harness:
        yield harness


async def test_slack_a_mention_saying_describe_with_a_file_gets_suggestions_and_a_button_imagines_one(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    shared = slack.add_user_file("photo.png", RED)
    mention = app_mention_event("describe", bot_user_id=slack.bot_user_id, files=[shared])
    user_message = slack.add_user_message(CHANNEL, mention["text"])
    mention["ts"] = mention["event_ts"] = user_message["ts"]
    await h.event(mention)
    answer = await h.wait_for_actions(user_message["ts"])
    [call] = fake_openai.responses.calls
    assert call.images == [RED]
    assert fake_openai.requests == []  # not an /imagine of the word "describe"
    assert button_labels(answer) == ["Imagine 1", "Imagine 2", "Imagine 3", "Imagine 4"]
    prompts = suggestion_lines(answer["text"])
    assert all("#c81e1e" in p for p in prompts)
    third = next(a for a in action_ids(answer) if a.startswith("ib:suggest:") and a.endswith(":3"))
    await h.click(answer, third, user="U0BOB")
    request = await fake_openai.wait_for_requests(1)
    assert request.fields["prompt"] == prompts[2]
    await h.wait_for_files(user_message["ts"])


async def test_slack_a_thread_reply_saying_describe_describes_the_current_image(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    thread, actions = await imagine_and_wait(h, "a teapot --n 1")
    assert "Describe" in button_labels(actions)
    await h.event(message_event("describe", thread_ts=thread))
    answer = await h.wait_for_actions(thread, count=2)
    assert "4 prompts for" in answer["text"]
    [call] = fake_openai.responses.calls
    assert call.images == [fake_openai.returned[0][0]]
    assert len(fake_openai.requests) == 1  # no edit was made of the word


# --- the console ----------------------------------------------------------------------------------


async def test_console_describe_a_file_then_imagine_a_suggestion_offline(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(png(300, 900, color=(30, 50, 160)))
    settings = make_settings(tmp_path / "data")
    code, output = await run_script(settings, f"describe {photo}\nsuggestion 2\n", tmp_path / "out")
    assert code == 0, output
    assert "4 prompts for `photo.png` [offline preview]" in output
    assert "next: suggestion 1 · suggestion 2 · suggestion 3 · suggestion 4" in output
    second = suggestion_lines(output)[1]
    assert "deep blue" in second
    assert {p for (p,) in rows(settings.database_path, "SELECT prompt FROM images")} == {
        second
    }  # a grid of it


# --- the core: costs, budgets, isolation, bad input ----------------------------------------------


async def test_a_description_is_refused_over_budget_with_figures_and_nothing_is_called_or_stored(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    settings = openai_settings(data_dir, fake_openai, imagebot_monthly_budget_usd=0.001)
    async with running_bot(settings) as (bot, _):
        refused = await bot.describe(ALICE, THREAD, Attachment("photo.png", RED))
    assert isinstance(refused, Problem)
    assert refused.kind is ErrorKind.QUOTA
    assert "this would cost about $" in refused.text
    assert "$0.00 budget" in refused.text
    assert fake_openai.responses.calls == []
    assert rows(settings.database_path, "SELECT COUNT(*) FROM suggestions") == [(0,)]


async def test_a_descriptions_cost_counts_in_usage_and_the_budget(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    prices = {"default": {"text_input": 5.0}, "gpt-6.2-astra": {"text_input": 1000.0, "text_output": 2000.0}}
    settings = openai_settings(
        data_dir, fake_openai, imagebot_monthly_budget_usd=50.0, imagebot_prices=prices
    )
    async with running_bot(settings) as (bot, _):
        before = (await bot.usage(ALICE, THREAD)).text
        described = await bot.describe(ALICE, THREAD, Attachment("photo.png", RED))
        after = (await bot.usage(ALICE, THREAD)).text
    assert isinstance(described, Notice)
    usage = fake_openai.responses.calls[0].usage
    cost = round((usage["input_tokens"] * 1000.0 + usage["output_tokens"] * 2000.0) / 1e6, 6)
    assert rows(settings.database_path, "SELECT input_tokens, output_tokens, cost_usd FROM suggestions") == [
        (usage["input_tokens"], usage["output_tokens"], cost)
    ]
    assert cost > 0.5  # big enough to show in the figures below
    assert "$50.00 of $50.00 left" in before
    assert f"You this month: 0 images, ~${cost:.2f}" in after
    assert f"${50.0 - cost:.2f} of $50.00 left" in after


async def test_a_malformed_answer_is_said_clearly_and_nothing_is_stored(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.responses.answer_next("I'd rather not.")
    settings = openai_settings(data_dir, fake_openai)
    async with running_bot(settings) as (bot, _):
        answer = await bot.describe(ALICE, THREAD, Attachment("photo.png", RED))
    assert isinstance(answer, Problem)
    assert "could not be read as 4 prompts" in answer.text
    assert rows(settings.database_path, "SELECT COUNT(*) FROM suggestions") == [(0,)]
    assert rows(settings.database_path, "SELECT COUNT(*) FROM usage") == [(0,)]


async def test_suggestions_are_found_only_in_their_workspace(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    settings = openai_settings(data_dir, fake_openai)
    elsewhere = SessionKey("test", "other-team", "chan", "thread-9")
    async with running_bot(settings) as (bot, _):
        described = await bot.describe(ALICE, THREAD, Attachment("photo.png", RED))
        suggest = described.buttons[0].id
        stranger = await bot.press(BOB, elsewhere, suggest)
        unknown = await bot.press(BOB, THREAD, ButtonId(Verb.SUGGEST, "deadbeef", "1"))
        no_such = await bot.press(BOB, THREAD, ButtonId(Verb.SUGGEST, suggest.target, "7"))
    assert isinstance(stranger, Problem)
    assert stranger.kind is ErrorKind.NOT_FOUND
    assert stranger.text == unknown.text.replace("deadbeef", suggest.target)  # said exactly alike
    assert isinstance(no_such, Problem)
    assert "no suggestion 7" in no_such.text
    assert fake_openai.requests == []


async def test_describe_pressed_again_while_answering_is_not_paid_twice(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    settings = openai_settings(data_dir, fake_openai)
    async with running_bot(settings) as (bot, presenter):
        queued = await bot.imagine(ALICE, THREAD, "a kite --n 1")
        image_id = (await presenter.final(queued.job_id)).result.images[0].image_id
        fake_openai.responses.gate = asyncio.Event()
        first = asyncio.create_task(bot.press(BOB, THREAD, ButtonId(Verb.DESCRIBE, image_id)))
        await fake_openai.responses.wait_for_calls(1)
        again = await bot.press(BOB, THREAD, ButtonId(Verb.DESCRIBE, image_id))
        fake_openai.responses.gate.set()
        answered = await first
        after = await bot.press(BOB, THREAD, ButtonId(Verb.DESCRIBE, image_id))
    assert again.text == f"Already on it: describing `{image_id}`."
    assert "4 prompts for" in answered.text
    assert "4 prompts for" in after.text  # once answered, it may be asked again
    assert len(fake_openai.responses.calls) == 2


async def test_a_suggestion_pressed_twice_while_its_job_runs_makes_one_job(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    settings = openai_settings(data_dir, fake_openai)
    async with running_bot(settings) as (bot, presenter):
        described = await bot.describe(ALICE, THREAD, Attachment("photo.png", RED))
        suggest = described.buttons[1].id
        fake_openai.gate = asyncio.Event()  # the image model holds the first job
        first = await bot.press(BOB, THREAD, suggest)
        await fake_openai.wait_for_requests(1)
        again = await bot.press(ALICE, THREAD, suggest)
        fake_openai.gate.set()
        assert (await presenter.final(first.job_id)).stage is Stage.DONE
        after = await bot.press(BOB, THREAD, suggest)  # once done, it may be pressed again
        assert (await presenter.final(after.job_id)).stage is Stage.DONE
    assert again.text == f"Already on it: job `{first.job_id}` is working on that."
    assert after.job_id != first.job_id
    assert len(fake_openai.requests) == 2


async def test_suggestion_buttons_work_after_a_restart_and_describe_never_guesses_from_a_grid(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    settings = openai_settings(data_dir, fake_openai)
    async with running_bot(settings) as (bot, presenter):
        grid = await bot.imagine(ALICE, THREAD, "four kites --n 4")
        await presenter.final(grid.job_id)
        unpicked = await bot.reply(ALICE, THREAD, "describe")
        described = await bot.describe(ALICE, THREAD, Attachment("photo.png", RED))
    assert isinstance(unpicked, Problem)
    assert "Pick one first" in unpicked.text
    assert len(fake_openai.responses.calls) == 1  # only the upload was described
    async with running_bot(settings) as (bot, presenter):  # a new process on the same data
        queued = await bot.press(BOB, THREAD, described.buttons[3].id)
        await presenter.final(queued.job_id)
    assert fake_openai.last.fields["prompt"] == suggestion_lines(described.text)[3]
    assert queued.job.requester == BOB  # run as whoever pressed it


async def test_with_buttons_for_the_requester_only_others_cannot_imagine_a_suggestion(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    settings = openai_settings(data_dir, fake_openai, imagebot_buttons="requester")
    async with running_bot(settings) as (bot, presenter):
        described = await bot.describe(ALICE, THREAD, Attachment("photo.png", RED))
        refused = await bot.press(BOB, THREAD, described.buttons[0].id)
        mine = await bot.press(ALICE, THREAD, described.buttons[0].id)
        await presenter.final(mine.job_id)
    assert isinstance(refused, Problem)
    assert refused.kind is ErrorKind.FORBIDDEN
    assert len(fake_openai.requests) == 1  # Alice's only


async def test_bad_input_gets_a_specific_message_and_nothing_is_called(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    settings = openai_settings(data_dir, fake_openai)
    async with running_bot(settings) as (bot, _):
        pdf = await bot.describe(ALICE, THREAD, Attachment("brief.pdf", b"%PDF-1.7 not an image"))
        nothing = await bot.describe(ALICE, THREAD, None)
        two = await bot.reply(ALICE, THREAD, "describe", [Attachment("a.png", RED), Attachment("b.png", RED)])
    assert isinstance(pdf, Problem)
    assert "brief.pdf is not an image" in pdf.text
    assert isinstance(nothing, Problem)
    assert "Nothing to describe here" in nothing.text
    assert isinstance(two, Problem)
    assert "one image to describe at a time" in two.text
    assert fake_openai.responses.calls == []
    assert rows(settings.database_path, "SELECT COUNT(*) FROM suggestions") == [(0,)]
