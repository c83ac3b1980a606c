"""Durable intake on Discord (issue 8): every request is stored before it is deferred, runs once
however often Discord delivers it, is continued after a stop or crash, and is answered "busy"
when it cannot be stored in time. Status messages end true after restarts and token expiry."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

from bot.intake import BUSY_TEXT
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.helpers import png
from tests.integration.test_discord_adapter import (
    button_ids,
    channel_id,
    discord_bot,
    done_message,
    imagine,
    original_containing,
    settings_for,
)


def jobs_in(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "imagebot.sqlite3") as conn:
        return conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]


def callbacks(fake: FakeDiscord, payload: dict) -> list:
    return fake.calls_to("POST", rf"/interactions/{payload['id']}/[^/]+/callback")


def results_for(fake: FakeDiscord, payload: dict) -> list[dict]:
    """Every message holding a result of this /imagine: its response, or posts in its thread."""
    original = fake.original_message(payload["id"])
    found = (
        [original]
        if original and original.get("attachments") and "Here you go" in original["content"]
        else []
    )
    if original is not None:
        found += [
            m
            for m in fake.messages_in(original["id"])
            if m.get("attachments") and "Here you go" in m["content"]
        ]
    return found


def threads_of(fake: FakeDiscord) -> list[dict]:
    return [c for c in fake.channels.values() if c["type"] == 11]


async def test_an_interaction_delivered_two_or_three_times_at_once_runs_once(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        general = channel_id(fake_discord)
        twice = fake_discord.slash_interaction("imagine", {"prompt": "a kite --n 1"}, channel=general)
        thrice = fake_discord.slash_interaction("imagine", {"prompt": "a boat --n 1"}, channel=general)
        await asyncio.gather(
            *(fake_discord.dispatch("INTERACTION_CREATE", twice) for _ in range(2)),
            *(fake_discord.dispatch("INTERACTION_CREATE", thrice) for _ in range(3)),
        )
        for payload in (twice, thrice):
            await fake_discord.wait_for(lambda f, p=payload: results_for(f, p), timeout=15)
        # A later request, handled after the copies were taken in, bounds the wait for extras.
        _, _ = await imagine(fake_discord, "a marker --n 1")
        for payload in (twice, thrice):
            assert len(callbacks(fake_discord, payload)) == 1  # deferred once, never 40060
            assert len(results_for(fake_discord, payload)) == 1
        assert len(fake_openai.requests) == 3
        assert jobs_in(data_dir) == 3
        assert len(threads_of(fake_discord)) == 3
        assert not [c for c in fake_discord.failed_calls if c.status == 400]


async def test_clicks_forms_and_thread_replies_delivered_twice_run_once(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        _, result = await imagine(fake_discord, "two kites --n 2")
        thread_id = result["id"]
        u1 = next(c for c in button_ids(result) if c.startswith("ib:u:") and c.endswith(":1"))
        click = fake_discord.component_interaction(result["id"], u1)
        await asyncio.gather(*(fake_discord.dispatch("INTERACTION_CREATE", click) for _ in range(2)))
        selected = await fake_discord.wait_for(lambda f: done_message(f, thread_id, "Image 1"))

        edit_id = next(c for c in button_ids(selected) if c.startswith("ib:edit:"))
        opener = fake_discord.component_interaction(selected["id"], edit_id)
        await fake_discord.dispatch("INTERACTION_CREATE", opener)
        await fake_discord.wait_for(lambda f: f.interactions[opener["id"]].response is not None)
        form_id = fake_discord.interaction_responses[opener["id"]]["data"]["custom_id"]
        submit = fake_discord.modal_submit(form_id, {"instruction": "make it night"})
        await asyncio.gather(*(fake_discord.dispatch("INTERACTION_CREATE", submit) for _ in range(3)))
        await fake_discord.wait_for(lambda f: done_message(f, thread_id, "Edited"), timeout=15)

        reply = fake_discord.message_create(thread_id, "now make it snow")
        await asyncio.gather(*(fake_discord.dispatch("MESSAGE_CREATE", reply) for _ in range(2)))
        await fake_discord.wait_for(
            lambda f: (
                sum(1 for m in f.messages_in(thread_id) if "Edited" in m["content"] and m["attachments"]) >= 2
            ),
            timeout=15,
        )
        _, _ = await imagine(fake_discord, "a marker --n 1")  # bounds the wait for extras
        # imagine, the form's edit, the reply's edit, the marker (a selection is no job)
        assert [r.endpoint for r in fake_openai.requests] == ["generations", "edits", "edits", "generations"]
        assert jobs_in(data_dir) == 4
        assert sum(1 for m in fake_discord.messages_in(thread_id) if "Image 1" in m["content"]) == 1
        assert len(callbacks(fake_discord, click)) == 1
        assert len(callbacks(fake_discord, submit)) == 1
        edited = [m for m in fake_discord.messages_in(thread_id) if "Edited" in m["content"]]
        assert len(edited) == 2  # one status message each, which became its result


async def test_a_redelivery_after_a_restart_runs_nothing(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    settings = settings_for(data_dir, fake_discord, fake_openai)
    async with discord_bot(settings):
        payload, result = await imagine(fake_discord, "a lamp --n 1")
        reply = fake_discord.message_create(result["id"], "make it blue")
        await fake_discord.dispatch("MESSAGE_CREATE", reply)
        await fake_discord.wait_for(lambda f: done_message(f, result["id"], "Edited"), timeout=15)
    calls_before = len(fake_discord.calls_to("POST", r"/interactions/.*"))
    async with discord_bot(settings):
        await fake_discord.dispatch("INTERACTION_CREATE", payload)
        await fake_discord.dispatch("MESSAGE_CREATE", reply)
        _, _ = await imagine(fake_discord, "a marker --n 1")
    assert len(fake_discord.calls_to("POST", r"/interactions/.*")) == calls_before + 1  # the marker only
    assert len(fake_openai.requests) == 3
    assert jobs_in(data_dir) == 3
    assert len(results_for(fake_discord, payload)) == 1


async def test_a_request_cut_off_by_a_stop_is_continued_on_the_next_start(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    settings = settings_for(data_dir, fake_discord, fake_openai)
    # Discord is slow to make the session thread; the bot stops meanwhile, and that request
    # reaches Discord only after the bot has gone (so the thread exists, but was never noted).
    release = fake_discord.hold("POST", r"/channels/\d+/messages/\d+/threads")
    async with discord_bot(settings) as adapter:
        adapter.intake.stop_grace = 0.1
        payload = fake_discord.slash_interaction(
            "imagine", {"prompt": "a windmill --n 1"}, channel=channel_id(fake_discord)
        )
        await fake_discord.dispatch("INTERACTION_CREATE", payload)
        await fake_discord.wait_for(lambda f: f.held)
        assert fake_discord.interaction_responses[payload["id"]]["type"] == 5  # deferred before the stop
    release.set()
    await fake_discord.wait_for(lambda f: not f.held and threads_of(f))
    assert jobs_in(data_dir) == 0

    async with discord_bot(settings):  # the next start continues it with the same token
        result = await fake_discord.wait_for(lambda f: results_for(f, payload), timeout=15)
    assert len(result) == 1
    assert result[0]["id"] == fake_discord.original_message(payload["id"])["id"]
    assert len(threads_of(fake_discord)) == 1
    assert threads_of(fake_discord)[0]["id"] == result[0]["id"]
    assert len(fake_openai.requests) == 1
    assert jobs_in(data_dir) == 1
    assert len(callbacks(fake_discord, payload)) == 1


async def test_a_job_resumed_after_a_restart_finishes_its_status_message(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    settings = settings_for(data_dir, fake_discord, fake_openai)
    fake_openai.gate = asyncio.Event()
    async with discord_bot(settings) as adapter:
        payload = fake_discord.slash_interaction(
            "imagine", {"prompt": "a mill at dusk --n 1"}, channel=channel_id(fake_discord)
        )
        await fake_discord.dispatch("INTERACTION_CREATE", payload)
        await original_containing(fake_discord, payload, "Job")
        await fake_openai.wait_for_requests(1)
        await adapter.bot.runner.stop(grace=0)  # the process goes down mid-job
    fake_openai.gate.set()
    async with discord_bot(settings):  # the job is resumed; nothing in memory knows its message
        result = await fake_discord.wait_for(lambda f: results_for(f, payload), timeout=15)
    assert len(result) == 1
    assert result[0]["id"] == fake_discord.original_message(payload["id"])["id"]
    assert jobs_in(data_dir) == 1


async def test_after_the_token_expired_the_status_message_says_done(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    fake_openai.gate = asyncio.Event()
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)):
        payload = fake_discord.slash_interaction(
            "imagine", {"prompt": "a long render --n 1"}, channel=channel_id(fake_discord)
        )
        await fake_discord.dispatch("INTERACTION_CREATE", payload)
        queued = await original_containing(fake_discord, payload, "Job")
        await fake_openai.wait_for_requests(1)
        fake_discord.expire_interaction(payload["id"])
        fake_openai.gate.set()
        await fake_discord.wait_for(lambda f: done_message(f, queued["id"], "Here you go"))
        status = await original_containing(fake_discord, payload, "✅ Done")
        assert f"<#{queued['id']}>" in status["content"]
        assert not status["components"]


async def test_a_locked_database_is_answered_busy_within_the_deadline(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)) as adapter:
        holder = sqlite3.connect(data_dir / "imagebot.sqlite3", timeout=0, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")  # another writer holds the database
            payload = fake_discord.slash_interaction(
                "imagine", {"prompt": "a fox --n 1"}, channel=channel_id(fake_discord)
            )
            started = time.monotonic()
            await fake_discord.dispatch("INTERACTION_CREATE", payload)
            await fake_discord.wait_for(lambda f: f.interactions[payload["id"]].response is not None)
            assert time.monotonic() - started < 2.5
            answer = fake_discord.interaction_responses[payload["id"]]
            assert answer["type"] == 4
            assert answer["data"]["content"] == BUSY_TEXT
            assert answer["data"]["flags"] & 64  # only the sender sees it
            holder.execute("COMMIT")
        finally:
            holder.close()
        await adapter.bot.intake.close()  # the late write lands and is closed at once
        assert await adapter.bot.intake.replayable("discord") == ([], [])
    assert fake_openai.requests == []
    assert jobs_in(data_dir) == 0


async def test_a_stopping_bot_answers_busy_and_leaves_nothing_half_done(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    async with discord_bot(settings_for(data_dir, fake_discord, fake_openai)) as adapter:
        await adapter.intake.stop()
        payload = fake_discord.slash_interaction(
            "imagine", {"prompt": "late --n 1"}, channel=channel_id(fake_discord)
        )
        await fake_discord.dispatch("INTERACTION_CREATE", payload)
        await fake_discord.wait_for(lambda f: f.interactions[payload["id"]].response is not None)
        assert fake_discord.interaction_responses[payload["id"]]["data"]["content"] == BUSY_TEXT
    assert fake_openai.requests == []
    assert jobs_in(data_dir) == 0


async def test_a_thread_reply_cut_off_by_a_stop_is_handled_on_the_next_start(
    data_dir: Path, fake_discord: FakeDiscord, fake_openai: FakeOpenAI
) -> None:
    settings = settings_for(data_dir, fake_discord, fake_openai)
    async with discord_bot(settings):
        _, result = await imagine(fake_discord, "a cup --n 1")
    thread_id = result["id"]
    logo = fake_discord.add_attachment("logo.png", png(256, 256), "image/png", channel_id=thread_id)
    # The attachment download hangs, and the bot stops meanwhile.
    release = fake_discord.hold("GET", r"/cdn/.*", fail=True)
    async with discord_bot(settings) as adapter:
        adapter.intake.stop_grace = 0.1
        message = fake_discord.message_create(thread_id, "put this logo on it", attachments=[logo])
        await fake_discord.dispatch("MESSAGE_CREATE", message)
        await fake_discord.wait_for(lambda f: f.held)
    release.set()
    assert jobs_in(data_dir) == 1
    async with discord_bot(settings):
        edited = await fake_discord.wait_for(lambda f: done_message(f, thread_id, "Edited"), timeout=15)
    assert fake_openai.requests[-1].fields["prompt"] == "put this logo on it"
    assert fake_discord.file_bytes(edited["attachments"][0]) == fake_openai.returned[-1][0]
    assert jobs_in(data_dir) == 2
