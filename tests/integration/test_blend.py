"""/blend (issue 11, item 3): 2 to 5 uploaded images combined by one multi-image edit, on the
console, Discord and Slack, through the real openai SDK (and discord.py, slack-bolt) against the
fakes. The fake OpenAI records the edit's input images: exactly the uploads, in order."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack, app_mention_event
from tests.helpers import png
from tests.integration.test_console_flow import run_script
from tests.integration.test_discord_adapter import channel_id, discord_bot, labels, settings_for
from tests.integration.test_jobs_and_limits import openai_settings
from tests.integration.test_slack_adapter import ALICE, CHANNEL, action_ids, running_slack, slack_settings

RED, GREEN, BLUE, GREY = (200, 30, 30), (30, 160, 60), (20, 60, 200), (128, 128, 128)


def rows(db_path: Path, table: str) -> int:
    with sqlite3.connect(db_path) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608 - fixed names


def stored_blobs(settings: Any) -> list[Path]:
    return [p for p in Path(settings.blobs_dir).rglob("*") if p.is_file()]


# --- console ----------------------------------------------------------------------------------


async def test_console_blend_sends_exactly_the_images_in_order_and_reroll_sends_them_again(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    pictures = {"red.png": png(96, 96, color=RED), "green.png": png(80, 80, color=GREEN)}
    pictures["blue.png"] = png(64, 64, color=BLUE)
    for name, data in pictures.items():
        (tmp_path / name).write_bytes(data)
    a, b, c = (tmp_path / n for n in ("blue.png", "red.png", "green.png"))
    settings = openai_settings(tmp_path / "data", fake_openai)
    script = f"/blend {a} {b} {c} -- a cosy reading nook --ar 16:9 --n 2\nreroll\nU2\n"
    code, output = await run_script(settings, script, tmp_path / "out")
    assert code == 0, output
    blend, reroll = fake_openai.requests
    for request in (blend, reroll):
        assert request.endpoint == "edits"
        assert [f.data for f in request.images] == [a.read_bytes(), b.read_bytes(), c.read_bytes()]
        assert request.fields["n"] == "2"
        assert request.fields["size"] == "1536x864"  # --ar 16:9
        assert "a cosy reading nook" in request.fields["prompt"]
        assert "into one coherent new image" in request.fields["prompt"]
    assert "Blended" in output
    assert "blend of 3 images: a cosy reading nook" in output
    assert "👉 Image 2" in output  # U2 picks from the blend's set


async def test_console_blend_without_a_prompt_asks_the_model_to_combine_them(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    for name, color in (("one.png", RED), ("two.png", BLUE)):
        (tmp_path / name).write_bytes(png(64, 64, color=color))
    settings = openai_settings(tmp_path / "data", fake_openai)
    script = f"/blend {tmp_path / 'one.png'} {tmp_path / 'two.png'}\n"
    code, output = await run_script(settings, script, tmp_path / "out")
    assert code == 0, output
    [request] = fake_openai.requests
    assert len(request.images) == 2
    assert request.fields["prompt"].startswith("Combine the input images")
    assert request.fields["prompt"].endswith("Request: blend of 2 images")


async def test_console_blend_refusals_name_the_problem_and_store_nothing(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    paths = []
    for i in range(6):
        path = tmp_path / f"p{i}.png"
        path.write_bytes(png(32, 32, color=(i * 40, 10, 10)))
        paths.append(str(path))
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    settings = openai_settings(tmp_path / "data", fake_openai)
    lines = {
        f"/blend {paths[0]} -- a fox": "blend needs 2 to 5 images; you gave 1",
        "/blend": "blend needs 2 to 5 images; you gave 0",
        f"/blend {' '.join(paths)} a fox": "blend takes at most 5 images; you gave 6",
        f"/blend {paths[0]} {notes} a fox": "notes.txt",
        f"/blend {paths[0]} {paths[1]} --ar 5:1": "--ar",
    }
    for line, message in lines.items():
        code, output = await run_script(settings, line + "\n", tmp_path / "out")
        assert code == 1, output
        assert message in output, output
    assert fake_openai.requests == []
    assert rows(settings.database_path, "images") == 0
    assert rows(settings.database_path, "jobs") == 0
    assert stored_blobs(settings) == []


# --- Discord ----------------------------------------------------------------------------------


async def test_discord_blend_sends_exactly_the_attachments_in_order_and_posts_a_set_with_buttons(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake = fake_discord
    async with discord_bot(settings_for(data_dir, fake, fake_openai)):
        general = channel_id(fake)
        sent = [png(64, 64, color=color) for color in (GREEN, RED, BLUE)]
        files = [fake.add_attachment(f"{i}.png", data, "image/png") for i, data in enumerate(sent)]
        options = {"image1": files[0], "image2": files[1], "image3": files[2], "prompt": "a cosy nook --n 2"}
        payload = fake.slash_interaction("blend", options, channel=general)
        await fake.dispatch("INTERACTION_CREATE", payload)
        result = await fake.wait_for(
            lambda f: (m := f.original_message(payload["id"])) and "Blended" in m["content"] and m, timeout=15
        )
    [request] = fake_openai.requests
    assert request.endpoint == "edits"
    assert [f.data for f in request.images] == sent
    assert "a cosy nook" in request.fields["prompt"]
    assert labels(result)[:4] == ["U1", "U2", "V1", "V2"]
    assert fake.channels[result["id"]]["type"] == 11  # the result got its session thread


async def test_discord_blend_refuses_a_non_image_by_name_and_opens_nothing(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake = fake_discord
    async with discord_bot(settings_for(data_dir, fake, fake_openai)):
        photo = fake.add_attachment("photo.png", png(64, 64), "image/png")
        notes = fake.add_attachment("notes.pdf", b"%PDF-1.7 ...", "application/pdf")
        payload = fake.slash_interaction(
            "blend", {"image1": photo, "image2": notes}, channel=channel_id(fake)
        )
        await fake.dispatch("INTERACTION_CREATE", payload)
        message = await fake.wait_for(lambda f: f.followups(payload["id"]) and f.followups(payload["id"])[0])
    assert "notes.pdf is not an image" in message["content"]
    assert message["flags"] & 64  # only they see it
    assert not [c for c in fake.channels.values() if c["type"] == 11]
    assert fake_openai.requests == []


def reroll_of(message: dict[str, Any]) -> str | None:
    return next((a for a in action_ids(message) if a.startswith("ib:reroll:")), None)


# --- Slack ------------------------------------------------------------------------------------


async def test_slack_blend_message_sends_exactly_the_files_in_order_and_reroll_reuses_them(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    async with running_slack(slack_settings(data_dir, slack, fake_openai), slack) as h:
        sent = [png(64, 64, color=color) for color in (BLUE, GREY, RED, GREEN)]
        files = [slack.add_user_file(f"shot{i}.png", data) for i, data in enumerate(sent)]
        mention = app_mention_event("blend a cosy nook --n 2", bot_user_id=slack.bot_user_id, files=files)
        message = slack.add_user_message(CHANNEL, mention["text"])
        mention["ts"] = mention["event_ts"] = message["ts"]
        await h.event(mention)
        [result] = await h.wait_for_files(message["ts"])
        actions = await slack.wait_for(
            lambda: next((m for m in h.thread(message["ts"]) if reroll_of(m)), None)
        )
        [request] = fake_openai.requests
        assert [f.data for f in request.images] == sent
        assert request.fields["prompt"].endswith("Request: blend of 4 images: a cosy nook")
        assert "Blended" in result["text"] or "Blended" in actions["text"]
        await h.click(actions, reroll_of(actions))
        again = await fake_openai.wait_for_requests(2)
        assert [f.data for f in again.images] == sent
        assert again.fields["prompt"] == request.fields["prompt"]
        await h.wait_for_files(message["ts"], count=2)


async def test_slack_blend_refusals_are_specific_and_nothing_is_downloaded_or_stored(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    settings = slack_settings(data_dir, slack, fake_openai)
    async with running_slack(settings, slack) as h:
        one = [slack.add_user_file("solo.png", png())]
        six = [slack.add_user_file(f"s{i}.png", png()) for i in range(6)]
        mixed = [
            slack.add_user_file("ok.png", png()),
            slack.add_user_file("brief.pdf", b"%PDF-1.7", "application/pdf"),
        ]
        cases = (
            (one, "blend needs 2 to 5 images; you gave 1"),
            (six, "blend takes at most 5 images; you gave 6"),
            (mixed, "brief.pdf is not an image"),
            ([], "blend needs 2 to 5 images; you gave 0"),
        )
        for count, (files, expected) in enumerate(cases, start=1):
            await h.event(app_mention_event("blend", bot_user_id=slack.bot_user_id, files=files))
            await slack.wait_for(lambda c=count: len(slack.ephemerals) >= c)
            assert expected in slack.ephemerals[-1]["text"]
            assert slack.ephemerals[-1]["user"] == ALICE
            assert ("`/imagine`" in slack.ephemerals[-1]["text"]) == (len(files) < 2)
        await h.command("/imagebot", "blend")
        await slack.wait_for(lambda: len(slack.ephemerals) > len(cases))
        assert "attach 2 to 5 images" in slack.ephemerals[-1]["text"]
        assert "Slack commands can't carry files, so blend in a message" in slack.ephemerals[-1]["text"]
        await h.adapter.wait_idle(10)
    assert slack.downloads == []
    assert fake_openai.requests == []
    assert rows(settings.database_path, "images") == 0
    assert stored_blobs(settings) == []
