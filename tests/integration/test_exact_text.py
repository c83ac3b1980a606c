"""`--text "..."`: words rendered exactly (issue 11, item 6), seen by the real API client and in
the caption people read."""

from __future__ import annotations

from pathlib import Path

from bot.answers import Stage, problem_kind
from bot.buttons import ButtonId, Verb
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack
from tests.helpers import make_settings, png
from tests.integration.helpers import ALICE, THREAD, running_bot
from tests.integration.test_console_flow import block_after, run_script
from tests.integration.test_discord_adapter import channel_id, discord_bot, settings_for
from tests.integration.test_jobs_and_limits import openai_settings
from tests.integration.test_slack_adapter import running_slack, slack_settings

RENDER = "Render this text exactly as written, letter for letter, with nothing added:"


async def test_text_is_sent_quoted_and_kept_by_rerolls(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        queued = await bot.imagine(
            ALICE, THREAD, 'a shoe shop poster --text "SALE 50%" --n 1 --text “Today only”'
        )
        done = await presenter.final(queued.job_id)
        assert done.stage is Stage.DONE
        sent = fake_openai.last.fields["prompt"]
        assert sent == f"a shoe shop poster. {RENDER} “SALE 50%”, “Today only”."
        caption = done.result.text
        assert "text “SALE 50%”, “Today only”" in caption
        assert "“a shoe shop poster”" in caption  # the instruction is not repeated in the prompt shown
        rerolled = await bot.press(ALICE, THREAD, ButtonId(Verb.REROLL, done.result.images[0].image_id))
        assert (await presenter.final(rerolled.job_id)).stage is Stage.DONE
        assert RENDER in fake_openai.last.fields["prompt"]
        assert "“SALE 50%”" in fake_openai.last.fields["prompt"]


async def test_a_thread_reply_can_ask_for_text(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, presenter):
        assert (
            await presenter.final((await bot.imagine(ALICE, THREAD, "a mug --n 1")).job_id)
        ).stage is Stage.DONE
        reply = await bot.reply(ALICE, THREAD, 'print a slogan on it --text "Good morning"')
        assert (await presenter.final(reply.job_id)).stage is Stage.DONE
        assert fake_openai.last.endpoint == "edits"
        assert fake_openai.last.fields["prompt"].endswith(f"{RENDER} “Good morning”.")


async def test_bad_text_is_refused_and_nothing_runs(data_dir: Path, fake_openai: FakeOpenAI) -> None:
    async with running_bot(openai_settings(data_dir, fake_openai)) as (bot, _presenter):
        for text, message in (
            ("a poster --text", "--text needs a value"),
            ('a poster --text ""', "--text is empty"),
            ('a poster --text "SALE', "the quote is never closed"),
            ("a poster --text " + '"' + "x" * 201 + '"', "at most 200"),
        ):
            answer = await bot.imagine(ALICE, THREAD, text)
            assert problem_kind(answer) is not None, text
            assert message in answer.text, (text, answer.text)
        assert fake_openai.requests == []


async def test_the_console_shows_the_text_in_the_caption(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    line = '/imagine a bakery sign --n 1 --text "Fresh Bread"'
    code, output = await run_script(settings, line + "\n", tmp_path / "out")
    assert code == 0, output
    assert "text “Fresh Bread”" in block_after(output, line)


async def test_a_blend_can_ask_for_text_without_other_words(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    for name, color in (("a.png", (200, 30, 30)), ("b.png", (30, 30, 200))):
        (tmp_path / name).write_bytes(png(64, 64, color=color))
    settings = openai_settings(tmp_path / "data", fake_openai)
    line = f'/blend {tmp_path / "a.png"} {tmp_path / "b.png"} -- --text "OPEN" --n 1'
    code, output = await run_script(settings, line + "\n", tmp_path / "out")
    assert code == 0, output
    assert fake_openai.last.fields["prompt"].endswith(f"blend of 2 images: {RENDER} “OPEN”.")
    assert "text “OPEN”" in block_after(output, line)


async def test_slack_shows_the_text_as_text_never_as_a_ping(
    data_dir: Path, fake_openai: FakeOpenAI, slack: FakeSlack
) -> None:
    async with running_slack(slack_settings(data_dir, slack, fake_openai), slack) as h:
        response = await h.command("/imagine", 'a party poster --n 1 --text "<!channel> *OPEN*"')
        assert response.status == 200
        [parent] = await slack.wait_for(lambda: h.parents())
        [files] = await h.wait_for_files(parent["ts"])
        assert "text “@channel *OPEN*”" in files["text"]  # on its own, to check at a glance
        assert "<!channel>" not in files["text"]  # shown, never obeyed
        assert "“@channel *OPEN*”" in fake_openai.last.fields["prompt"]  # what the person saw they typed


async def test_discord_shows_the_text_escaped_in_the_caption(
    data_dir: Path, fake_openai: FakeOpenAI, fake_discord: FakeDiscord
) -> None:
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        payload = fake_discord.slash_interaction(
            "imagine",
            {"prompt": 'a party poster --text "@everyone *OPEN*"', "n": 1},
            channel=channel_id(fake_discord),
        )
        await fake_discord.dispatch("INTERACTION_CREATE", payload)
        result = await fake_discord.wait_for(
            lambda f: (m := f.original_message(payload["id"])) and m.get("attachments") and m, timeout=15
        )
        assert "text “" in result["content"]
        assert "\\*OPEN\\*" in result["content"]  # markdown escaped: shown as typed, not bold
        assert result.get("allowed_mentions", {}).get("parse", []) == []  # @everyone pings nobody
