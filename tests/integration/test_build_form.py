"""The Build-a-prompt form end to end on each platform: the console asking in turn, a Discord
slash command answered with a modal, a Slack `/imagebot build` opening a modal with views.open;
each submit runs the composed prompt as /imagine (through the real openai client to the fake
API) and shows the prompt it composed. A refused form stores nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import exact_text
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack, view_submission_body
from tests.integration.test_console_flow import run_script
from tests.integration.test_discord_adapter import channel_id, discord_bot, settings_for
from tests.integration.test_jobs_and_limits import openai_settings
from tests.integration.test_slack_adapter import Harness, response_json, running_slack, slack_settings

LAYERS = {
    "subject": "a red fox curled up asleep",
    "environment": "in a snowy pine forest at dawn",
    "lighting": "soft golden backlight",
    "camera": "close-up, 85mm lens",
}
COMPOSED = (
    "a red fox curled up asleep, in a snowy pine forest at dawn, soft golden backlight, close-up, 85mm lens"
)


def job_count(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


# --- console ---------------------------------------------------------------------------------


async def test_console_build_asks_each_layer_and_runs_the_composed_prompt(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    # An empty line skips an optional layer (no lighting here); the text is rendered exactly.
    script = "/build\na red fox curled up asleep\nin a snowy pine forest at dawn\n\nclose-up, 85mm lens\n\nGOOD NIGHT\n"
    settings = openai_settings(tmp_path / "data", fake_openai)
    code, output = await run_script(settings, script, tmp_path / "out")
    assert code == 0, output
    for question in ("Subject", "Environment", "Lighting", "Camera", "A house style", "Text to render"):
        assert f"? {question}" in output, output
    composed = "a red fox curled up asleep, in a snowy pine forest at dawn, close-up, 85mm lens"
    assert f'`/imagine {composed} --text "GOOD NIGHT"`' in output  # shown, to type next time
    (request,) = fake_openai.requests
    assert request.endpoint == "generations"
    assert request.fields["prompt"] == exact_text.with_texts(composed, ["GOOD NIGHT"])


async def test_console_build_refuses_an_empty_subject_and_stores_nothing(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    settings = openai_settings(tmp_path / "data", fake_openai)
    code, output = await run_script(settings, "/build\n\nin the woods\n\n\n\n\n", tmp_path / "out")
    assert code == 1
    assert "The subject is empty" in output
    assert "1 line(s) failed" in output
    assert fake_openai.requests == []
    assert job_count(settings.database_path) == 0


async def test_console_build_refuses_a_flag_in_a_layer(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    settings = openai_settings(tmp_path / "data", fake_openai)
    code, output = await run_script(settings, "/build a fox\n\n\nwide shot --ar 16:9\n\n\n", tmp_path / "out")
    assert code == 1
    assert "The camera layer has --ar" in output
    assert fake_openai.requests == []


# --- Discord ---------------------------------------------------------------------------------


async def test_discord_build_opens_a_modal_whose_submit_runs_the_composed_prompt(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        command = next(c for c in fake_discord.global_commands() if c["name"] == "build")
        assert [o["name"] for o in command.get("options", [])] == ["style"]  # the rest are the form's
        payload = fake_discord.slash_interaction("build", {}, channel=channel_id(fake_discord))
        await fake_discord.dispatch("INTERACTION_CREATE", payload)
        await fake_discord.wait_for(lambda f: f.interactions[payload["id"]].response is not None)
        response = fake_discord.interaction_responses[payload["id"]]
        assert response["type"] == 9  # a modal, as the first answer
        form_id = response["data"]["custom_id"]
        assert fake_discord.modals[form_id]["modal"]["title"] == "Build a prompt"

        submit = fake_discord.modal_submit(form_id, {**LAYERS, "text": "SLEEP TIGHT"})
        await fake_discord.dispatch("INTERACTION_CREATE", submit)
        queued = await fake_discord.wait_for(
            lambda f: (m := f.original_message(submit["id"])) and "Built prompt" in m["content"] and m
        )
        assert f'`/imagine {COMPOSED} --text "SLEEP TIGHT"`' in queued["content"]
        request = await fake_openai.wait_for_requests(1)
        assert request.fields["prompt"] == exact_text.with_texts(COMPOSED, ["SLEEP TIGHT"])
        result = await fake_discord.wait_for(
            lambda f: (m := f.original_message(submit["id"])) and m.get("attachments") and m, timeout=15
        )
        assert "a red fox curled up asleep" in result["content"]
        thread = fake_discord.channels[result["id"]]  # the result opened the session thread
        assert thread["name"] == LAYERS["subject"]


async def test_discord_build_refuses_a_bad_style_before_the_form_and_a_bad_form_after(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    settings = settings_for(data_dir, fake_discord, fake_openai)
    async with discord_bot(settings):
        # A style name its own check refuses: said at once, no form to fill in for nothing.
        bad = fake_discord.slash_interaction(
            "build", {"style": "two words"}, channel=channel_id(fake_discord)
        )
        await fake_discord.dispatch("INTERACTION_CREATE", bad)
        await fake_discord.wait_for(lambda f: f.interactions[bad["id"]].response is not None)
        answer = fake_discord.interaction_responses[bad["id"]]
        assert answer["type"] == 4
        assert "style name 'two words' is not valid" in answer["data"]["content"]
        assert answer["data"]["flags"] & 64  # only the person sees it

        # A valid name travels with the form; no style has that name here, so the submit is
        # refused with the core's own words, privately, and nothing is stored.
        styled = fake_discord.slash_interaction("build", {"style": "brand"}, channel=channel_id(fake_discord))
        await fake_discord.dispatch("INTERACTION_CREATE", styled)
        await fake_discord.wait_for(lambda f: f.interactions[styled["id"]].response is not None)
        form_id = fake_discord.interaction_responses[styled["id"]]["data"]["custom_id"]
        submit = fake_discord.modal_submit(form_id, {"subject": "a fox"})
        await fake_discord.dispatch("INTERACTION_CREATE", submit)
        refusal = await fake_discord.wait_for(
            lambda f: next((m for m in f.followups(submit["id"]) if "style" in m["content"]), None)
        )
        assert "no style named 'brand' here" in refusal["content"]
        assert refusal["flags"] & 64

        # An empty subject (a client that skips Discord's own required check): refused the same way.
        empty_form = fake_discord.slash_interaction("build", {}, channel=channel_id(fake_discord))
        await fake_discord.dispatch("INTERACTION_CREATE", empty_form)
        await fake_discord.wait_for(lambda f: f.interactions[empty_form["id"]].response is not None)
        form_id = fake_discord.interaction_responses[empty_form["id"]]["data"]["custom_id"]
        empty = fake_discord.modal_submit(form_id, {"subject": "   ", "lighting": "--q high"})
        await fake_discord.dispatch("INTERACTION_CREATE", empty)
        said = await fake_discord.wait_for(
            lambda f: next((m for m in f.followups(empty["id"]) if "subject is empty" in m["content"]), None)
        )
        assert said["flags"] & 64
    assert fake_openai.requests == []
    assert job_count(settings.database_path) == 0


async def test_discord_build_form_opened_before_a_restart_still_runs_after_it(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    settings = settings_for(data_dir, fake_discord, fake_openai)
    async with discord_bot(settings):
        save = fake_discord.slash_interaction(
            "style",
            {"action": "save", "name": "brand", "text": "flat pastel"},
            channel=channel_id(fake_discord),
        )
        await fake_discord.dispatch("INTERACTION_CREATE", save)
        await fake_discord.wait_for(
            lambda f: (m := f.original_message(save["id"])) and "Saved your style" in m["content"]
        )
        opened = fake_discord.slash_interaction("build", {"style": "brand"}, channel=channel_id(fake_discord))
        await fake_discord.dispatch("INTERACTION_CREATE", opened)
        await fake_discord.wait_for(lambda f: f.interactions[opened["id"]].response is not None)
        form_id = fake_discord.interaction_responses[opened["id"]]["data"]["custom_id"]
    async with discord_bot(settings):  # a new process: the form and its style live in its id only
        submit = fake_discord.modal_submit(form_id, {"subject": "a lighthouse", "camera": "wide shot"})
        await fake_discord.dispatch("INTERACTION_CREATE", submit)
        # The style came back with the submit and is applied.
        sent = await fake_openai.wait_for_requests(1)
        assert sent.fields["prompt"].startswith("a lighthouse")
        assert sent.fields["prompt"].endswith(", flat pastel")
        await fake_discord.wait_for(
            lambda f: (m := f.original_message(submit["id"])) and m.get("attachments"), timeout=15
        )

        plain = fake_discord.slash_interaction("build", {}, channel=channel_id(fake_discord))
        await fake_discord.dispatch("INTERACTION_CREATE", plain)
        await fake_discord.wait_for(lambda f: f.interactions[plain["id"]].response is not None)
        plain_id = fake_discord.interaction_responses[plain["id"]]["data"]["custom_id"]
    async with discord_bot(settings):
        submit = fake_discord.modal_submit(plain_id, {"subject": "a lighthouse", "camera": "wide shot"})
        await fake_discord.dispatch("INTERACTION_CREATE", submit)
        request = await fake_openai.wait_for_requests(2)
        assert request.fields["prompt"] == "a lighthouse, wide shot"
        await fake_discord.wait_for(
            lambda f: (m := f.original_message(submit["id"])) and m.get("attachments"), timeout=15
        )


# --- Slack -----------------------------------------------------------------------------------


@pytest.fixture
async def h(data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI) -> AsyncIterator[Harness]:
    async with running_slack(slack_settings(data_dir, slack, fake_openai), slack) as harness:
        yield harness


async def test_slack_build_opens_a_modal_whose_submit_runs_the_composed_prompt(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    response = await h.command("/imagebot", "build a red fox curled up asleep")
    assert response.status == 200
    opened = await slack.wait_for(lambda: slack.view_calls)
    assert opened[0]["method"] == "views.open"
    view = slack.views[-1]
    assert view["callback_id"] == "ib_form"
    blocks = {b["block_id"]: b for b in view["blocks"]}
    assert list(blocks) == ["subject", "environment", "lighting", "camera", "style", "text"]
    assert blocks["subject"]["element"]["initial_value"] == "a red fox curled up asleep"
    assert blocks["subject"]["optional"] is False
    assert blocks["camera"]["optional"] is True

    values = {name: {name: text} for name, text in LAYERS.items()}  # block and action: the field
    values["text"] = {"text": "SLEEP <!here>"}
    submitted = await h.dispatch(view_submission_body("ib_form", values, view=view, fake=slack))
    assert submitted.status == 200
    assert submitted.body == ""
    request = await fake_openai.wait_for_requests(1)
    assert request.fields["prompt"] == exact_text.with_texts(COMPOSED, ["SLEEP <!here>"])

    # The parent message opens the session thread; its status line shows the composed prompt,
    # with what people typed kept as text (no @here).
    def built() -> dict | None:
        return next((m for m in h.parents() if "Built prompt" in m["text"]), None)

    parent = await slack.wait_for(built)
    assert f'`/imagine {COMPOSED} --text "SLEEP &lt;!here&gt;"`' in parent["text"]
    await h.wait_for_files(parent["ts"])


async def test_slack_build_refused_form_is_said_privately_and_stores_nothing(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    await h.command("/imagebot", "build")
    await slack.wait_for(lambda: slack.view_calls)
    view = slack.views[-1]
    # A field its own check refuses is answered next to it; the form stays open as typed.
    values = {
        "subject": {"subject": "a fox"},
        "lighting": {"lighting": "x" * 501},
        "camera": {"camera": "--n 2"},
    }
    submitted = await h.dispatch(view_submission_body("ib_form", values, view=view, fake=slack))
    errors = response_json(submitted)["errors"]
    assert set(errors) == {"lighting", "camera"}
    assert "The lighting layer is 501 characters" in errors["lighting"]
    assert "The camera layer has --n" in errors["camera"]

    # What only the whole form can tell (an empty subject) is said privately once it closes.
    values = {"subject": {"subject": "  "}, "lighting": {"lighting": "dusk"}}
    submitted = await h.dispatch(view_submission_body("ib_form", values, view=view, fake=slack))
    assert response_json(submitted) == {}
    said = await slack.wait_for(
        lambda: [e for e in slack.ephemerals if "subject is empty" in (e.get("text") or "")]
    )
    assert said[0]["user"] == "U0ALICE"
    assert h.parents() == []  # no thread opened for a refused form
    assert fake_openai.requests == []
    assert job_count(h.bot.settings.database_path) == 0

    # A form that is not ours (or out of date) is answered on the form itself.
    stale = await h.dispatch(
        view_submission_body("ib_form", values, private_metadata="{}", view=view, fake=slack)
    )
    assert response_json(stale)["response_action"] == "errors"
