"""Issue 8, an outbox for every post (Discord): a job's outcome posted into its thread appears
exactly once through rate limits, outages and a kill between the post and its record, and is
never recorded as delivered when it was not. Fault windows are short (≤ 3 s each)."""

from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
from pathlib import Path

import pytest

from adapters.discord.app import DiscordAdapter
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.integration.helpers import imagebot_process, start_imagebot
from tests.integration.test_discord_adapter import channel_id, discord_bot, settings_for

POSTS = r"/channels/\d+/messages"  # thread posts (and the thread look-ups before a re-post)
HERE_YOU_GO = "Here you go"


def results_in_threads(fake: FakeDiscord, payload: dict) -> list[dict]:
    """Result messages of an /imagine outside its (expired) response: in its thread."""
    original = fake.original_message(payload["id"])
    if original is None:
        return []
    return [
        m for m in fake.messages_in(original["id"]) if m.get("attachments") and HERE_YOU_GO in m["content"]
    ]


def recorded(db: Path) -> dict[str, list[str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT job_id, message_ref FROM posts WHERE message_ref LIKE 'result:%'"
        ).fetchall()
    found: dict[str, list[str]] = {}
    for job_id, ref in rows:
        found.setdefault(job_id, []).append(ref)
    return found


def job_ids(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM jobs ORDER BY created_at")]


async def deferred_burst(fake: FakeDiscord, n: int) -> list[dict]:
    """n /imagine in #general by n people, all deferred, then their tokens expire (so results go
    into the threads with the bot token, the posts this issue is about)."""
    payloads = [
        fake.slash_interaction(
            "imagine", {"prompt": f"outbox {i} --n 1"}, channel=channel_id(fake), user=fake.make_user(f"u{i}")
        )
        for i in range(n)
    ]
    for payload in payloads:
        await fake.dispatch("INTERACTION_CREATE", payload)
    # each answered with its queue position (its status message), before any result
    await fake.wait_for(
        lambda f: all((m := f.original_message(p["id"])) and m["content"] for p in payloads), timeout=10
    )
    for payload in payloads:
        fake.expire_interaction(payload["id"])
    return payloads


def quick(adapter: DiscordAdapter, fake: FakeDiscord, notice_after: float = 600.0) -> None:
    """Short back-off; each record wakes the test's waits on the fake."""
    presenter = adapter.presenter
    presenter.retry_first, presenter.retry_max, presenter.notice_after = 0.2, 0.5, notice_after
    record = presenter.record_post
    assert record is not None

    async def record_and_notify(job_id: str, platform: str, ref: str) -> None:
        await record(job_id, platform, ref)
        await fake.notify()

    presenter.record_post = record_and_notify


async def until(predicate, timeout: float) -> None:
    """Poll what another process writes (the database) until `predicate()` holds."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 (another process's writes: nothing to wait on)
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("status", [429, 503])
async def test_results_are_posted_once_through_rate_limits_and_outages(
    data_dir: Path, fake_openai: FakeOpenAI, status: int
) -> None:
    async with FakeDiscord() as fake:
        fake.make_guild("Studio", channels=["general"])
        settings = settings_for(data_dir, fake, fake_openai)
        fake_openai.gate = asyncio.Event()
        async with discord_bot(settings) as adapter:
            quick(adapter, fake)
            payloads = await deferred_burst(fake, 4)
            # The outage lasts until the bot has been refused a few times.
            fake.fail_for(None, POSTS, method="POST", status=status, retry_after=0.1)
            fake_openai.gate.set()
            # While Discord refuses, nothing is recorded as delivered.
            await fake.wait_for(
                lambda f: len([c for c in f.calls_to("POST", POSTS) if c.status == status]) >= 4, timeout=10
            )
            assert recorded(settings.database_path) == {}
            fake.recover(POSTS)
            await fake.wait_for(lambda f: len(recorded(settings.database_path)) == 4, timeout=20)
        assert [len(results_in_threads(fake, p)) for p in payloads] == [1] * 4  # none lost, none twice
        refs = recorded(settings.database_path)
        assert sorted(refs) == sorted(job_ids(settings.database_path))
        posted = {
            f"result:{m['channel_id']}:{m['id']}" for p in payloads for m in results_in_threads(fake, p)
        }
        assert {ref for refs_ in refs.values() for ref in refs_} == posted


async def test_an_unpostable_result_is_pointed_to_privately_and_never_recorded(
    data_dir: Path, fake_openai: FakeOpenAI
) -> None:
    async with FakeDiscord() as fake:
        fake.make_guild("Studio", channels=["general"])
        settings = settings_for(data_dir, fake, fake_openai)
        fake_openai.gate = asyncio.Event()
        async with discord_bot(settings) as adapter:
            quick(adapter, fake, notice_after=0.5)
            payload = fake.slash_interaction(
                "imagine", {"prompt": "a lost fox --n 1"}, channel=channel_id(fake)
            )
            await fake.dispatch("INTERACTION_CREATE", payload)
            await fake.wait_for(
                lambda f: (m := f.original_message(payload["id"])) and m["content"], timeout=10
            )
            # The token lives, but its response is gone (deleted) and the thread refuses the bot.
            fake.fail_for(30.0, r"/webhooks/\d+/[^/]+/messages/@original", method="PATCH", status=404)
            fake.fail_for(None, POSTS, method="POST", status=403)
            fake_openai.gate.set()
            note = await fake.wait_for(
                lambda f: next((m for m in f.followups(payload["id"]) if "/show" in m["content"]), None),
                timeout=10,
            )
            assert note["flags"] & 64  # only the requester sees it
            (job,) = job_ids(settings.database_path)
            assert f"`{job}`" in note["content"]
            assert recorded(settings.database_path) == {}
            fake.recover(POSTS)
            # Once Discord lets it through, it is delivered (once) and only then recorded.
            await fake.wait_for(lambda f: recorded(settings.database_path), timeout=15)
        original = fake.original_message(payload["id"])
        shown = [original] if HERE_YOU_GO in original["content"] else []
        (result,) = shown + results_in_threads(fake, payload)  # once
        image_id = re.search(r"`(\w+)` ·", result["content"]).group(1)  # the caption's id
        assert f"/show {image_id}" in note["content"]
        assert len(recorded(settings.database_path)[job]) == 1


async def test_a_kill_between_the_post_and_its_record_does_not_post_twice(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    env = {**fake_openai.env, "IMAGEBOT_PARTIAL_IMAGES": "0", "IMAGEBOT_OPENAI_MAX_RETRIES": "0"}
    async with FakeDiscord() as fake:
        fake.make_guild("Studio", channels=["general"])
        fake.nonce_window = 0.0  # the restart comes after Discord forgot the nonce: the thread is read
        env |= {"DISCORD_TOKEN": fake.token, "DISCORD_API_BASE_URL": fake.api_base}
        fake_openai.gate = asyncio.Event()
        first = await start_imagebot(tmp_path, "discord", **env)
        try:
            await fake.wait_for(lambda f: any(s.identified for s in f.gateway_sessions), timeout=30)
            await fake.wait_for(lambda f: {c["name"] for c in f.global_commands()} >= {"imagine"}, timeout=30)
            payloads = await deferred_burst(fake, 1)
            held = fake.hold_response("POST", POSTS)
            fake_openai.gate.set()
            await fake.wait_for(lambda f: f.held, timeout=20)  # the post is stored, its answer held
            assert len(results_in_threads(fake, payloads[0])) == 1
        finally:
            first.send_signal(signal.SIGKILL)
            await first.communicate()
        held.set()
        db = tmp_path / "data" / "imagebot.sqlite3"
        assert recorded(db) == {}  # killed before the record
        async with imagebot_process(tmp_path, "discord", **env):
            await until(lambda: recorded(db), timeout=30)
        (result,) = results_in_threads(fake, payloads[0])  # not posted again
        (job,) = job_ids(db)
        assert recorded(db) == {job: [f"result:{result['channel_id']}:{result['id']}"]}
        # the restarted process looked at the thread instead of posting
        assert len([c for c in fake.calls_to("POST", POSTS) if c.status == 200]) == 1
