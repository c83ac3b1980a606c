"""Durable intake on Slack (issue 8): every request is stored before it is acked, a redelivery runs
nothing twice, a request acked but not finished is handled on the next start (reusing what it had
already posted), storage that is slow never delays the ack, and status messages end true.

Through the REAL slack-bolt AsyncApp and slack-sdk against FakeSlack and FakeOpenAI, as in
test_slack_adapter.py; the kill -9 of the real process is in test_slack_crash.py.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.domain import SessionKey, UserRef
from bot.intake import BUSY_TEXT, GAVE_UP_TEXT
from bot.records import IntakeRequest
from storage.store import Store
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack, app_mention_event, slash_command_body
from tests.helpers import build_bot
from tests.integration.helpers import RecordingPresenter
from tests.integration.test_slack_adapter import (
    ALICE,
    BOB,
    CHANNEL,
    Harness,
    running_slack,
    slack_settings,
)


@pytest.fixture
def settings(data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI) -> Settings:
    return slack_settings(data_dir, slack, fake_openai)


@pytest.fixture
async def h(settings: Settings, slack: FakeSlack) -> AsyncIterator[Harness]:
    async with running_slack(settings, slack) as harness:
        yield harness


def command_body(
    slack: FakeSlack, text: str, user: str = ALICE, trigger_id: str | None = None
) -> dict[str, str]:
    """A slash command as Bolt hands it to listeners (and as the intake stores it)."""
    raw = slash_command_body("/imagine", text, user_id=user, fake=slack, trigger_id=trigger_id)
    return dict(urllib.parse.parse_qsl(raw))


async def store_unfinished(
    settings: Settings, key: str, kind: str, payload: dict[str, Any], **notes: Any
) -> None:
    """What a run that acked a request and died before finishing it leaves in the database."""
    store = await Store.open(settings.database_path, settings.blobs_dir)
    try:
        assert await store.intake.receive_many([IntakeRequest(key, "slack", kind, payload)]) == {key}
        for name, value in notes.items():
            await store.intake.note(key, name, value)
    finally:
        await store.close()


async def post_as_bot(slack: FakeSlack, text: str) -> str:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    return str((await client.chat_postMessage(channel=CHANNEL, text=text))["ts"])


# --- redeliveries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("copies", [2, 3])
async def test_an_event_delivered_several_times_at_once_runs_once(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI, copies: int
) -> None:
    mention = app_mention_event("a lighthouse --n 1", bot_user_id=slack.bot_user_id)
    responses = await asyncio.gather(
        *(h.event(mention, event_id="Ev0MANY", x_slack_retry_num=str(i)) for i in range(copies))
    )
    assert [r.status for r in responses] == [200] * copies
    await h.wait_for_files(mention["ts"])
    await h.adapter.wait_idle(10)
    assert len(fake_openai.requests) == 1
    assert len(h.file_messages(mention["ts"])) == 1
    assert await h.bot.intake.replayable("slack") == ([], [])  # handled, and marked so


async def test_a_command_delivered_three_times_at_once_runs_once(
    h: Harness, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    body = slash_command_body("/imagine", "a kite --n 1", fake=slack)  # one trigger id
    responses = await asyncio.gather(*(h.dispatch(body) for _ in range(3)))
    assert [r.status for r in responses] == [200] * 3
    [parent] = await slack.wait_for(lambda: h.parents())
    await h.wait_for_files(parent["ts"])
    await h.adapter.wait_idle(10)
    assert len(h.parents()) == 1
    assert len(fake_openai.requests) == 1


# --- slow storage never delays the ack --------------------------------------------------------------


async def test_a_locked_database_is_answered_busy_in_time_and_a_resend_works(
    h: Harness, settings: Settings, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    await h.command("/imagebot", "help")  # Bolt's first dispatch asks auth.test: done before the lock
    # It waits for the bot's own writes of the help answer to end before it takes the lock.
    holder = sqlite3.connect(settings.database_path, timeout=10, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the database
        started = time.monotonic()
        response = await h.command("/imagine", "a locked door --n 1")
        assert time.monotonic() - started < 2.5
        assert response.status == 200
        assert json.loads(response.body)["text"] == BUSY_TEXT
        # An event is not acked at all, so Slack delivers it again later.
        mention = app_mention_event("a locked gate --n 1", bot_user_id=slack.bot_user_id)
        started = time.monotonic()
        assert (await h.event(mention)).status == 503
        assert time.monotonic() - started < 2.5
        holder.execute("COMMIT")
    finally:
        holder.close()
    await h.bot.intake.close()  # the writes that landed late are closed, never run
    await h.adapter.wait_idle(10)
    assert h.parents() == []
    assert fake_openai.requests == []

    await h.command("/imagine", "a locked door --n 1")  # the person sends it again
    [parent] = await slack.wait_for(lambda: h.parents())
    await h.wait_for_files(parent["ts"])
    assert len(fake_openai.requests) == 1


# --- handled again on the next start ----------------------------------------------------------------


async def test_a_request_acked_but_not_handled_is_handled_on_the_next_start_in_its_parent(
    settings: Settings, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    body = command_body(slack, "a glass harp --n 1")
    parent_ts = await post_as_bot(slack, "🎨 /imagine by *alice*: “a glass harp --n 1”\n⏳ Starting…")
    # The last run acked it, posted its parent message (and noted it), and died.
    await store_unfinished(
        settings, f"slack:trigger:{body['trigger_id']}", "command:/imagine", body, parent_ts=parent_ts
    )
    async with running_slack(settings, slack) as h:
        await h.adapter.start_http(0, host="127.0.0.1")
        await h.wait_for_files(parent_ts)
        await slack.wait_for(lambda: "✅ Done" in slack.message(CHANNEL, parent_ts)["text"])
        await h.adapter.wait_idle(10)
        assert [p["ts"] for p in h.parents()] == [parent_ts]  # no second parent message
        assert len(fake_openai.requests) == 1
        assert await h.bot.intake.replayable("slack") == ([], [])


async def test_a_job_made_before_a_crash_is_not_made_again_and_its_status_ends_done(
    settings: Settings, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    body = command_body(slack, "a brass owl --n 1")
    key = f"slack:trigger:{body['trigger_id']}"
    parent_ts = await post_as_bot(slack, "🎨 /imagine by *alice*: “a brass owl --n 1”\n⏳ Starting…")
    await store_unfinished(settings, key, "command:/imagine", body, parent_ts=parent_ts)
    # A run that made the job for it (which finished, unposted) and died before telling Slack.
    store = await Store.open(settings.database_path, settings.blobs_dir)
    bot = build_bot(settings, store)
    stand_in = RecordingPresenter()
    bot.register_presenter("slack", stand_in)
    await bot.start()
    where = SessionKey("slack", slack.team_id, CHANNEL, parent_ts)
    with bot.intake.handling(key):
        job_id = (await bot.imagine(UserRef("slack", ALICE, "alice"), where, "a brass owl --n 1")).job_id
    assert job_id is not None
    await stand_in.final(job_id)
    await bot.stop()
    await bot.provider.close()
    await store.close()

    async with running_slack(settings, slack) as h:
        await h.adapter.start_http(0, host="127.0.0.1")
        [posted] = await h.wait_for_files(parent_ts)
        await slack.wait_for(lambda: "✅ Done" in slack.message(CHANNEL, parent_ts)["text"])
        await h.adapter.wait_idle(10)
        assert f"job `{job_id}`" in slack.message(CHANNEL, parent_ts)["text"]
        assert h.uploaded(posted) == [fake_openai.returned[0][0]]
        assert len(fake_openai.requests) == 1
        assert [p["ts"] for p in h.parents()] == [parent_ts]
        assert await h.bot.intake.replayable("slack") == ([], [])


async def test_a_request_given_up_on_tells_its_sender_and_its_parent(
    settings: Settings, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    body = command_body(slack, "a cursed vase --n 1")
    key = f"slack:trigger:{body['trigger_id']}"
    parent_ts = await post_as_bot(slack, "🎨 /imagine by *alice*: “a cursed vase”\n⏳ Starting…")
    await store_unfinished(settings, key, "command:/imagine", body, parent_ts=parent_ts)
    store = await Store.open(settings.database_path, settings.blobs_dir)
    for _ in range(2):  # two starts that crashed while handling it
        await store.intake.started(key)
    await store.close()
    async with running_slack(settings, slack) as h:
        await h.adapter.start_http(0, host="127.0.0.1")
        await slack.wait_for(lambda: "❌" in slack.message(CHANNEL, parent_ts)["text"])
        assert GAVE_UP_TEXT in slack.message(CHANNEL, parent_ts)["text"]
        assert "Starting" not in slack.message(CHANNEL, parent_ts)["text"]
        told = await slack.wait_for(lambda: [e for e in slack.ephemerals if e["text"] == GAVE_UP_TEXT])
        assert told[0]["user"] == ALICE
        assert fake_openai.requests == []
        assert len(h.parents()) == 1


# --- status messages end true -----------------------------------------------------------------------


async def test_a_parent_whose_job_could_not_be_made_says_so(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    # Room in alice's budget for one image (~$0.19 reserved each), not two.
    settings = slack_settings(data_dir, slack, fake_openai, imagebot_person_monthly_budget_usd=0.30)
    async with running_slack(settings, slack) as h:
        slack.hold("chat.postMessage")
        # Both pass the budget check and open their thread; the second to be recorded is refused.
        await h.command("/imagine", "second --n 1")
        await h.command("/imagine", "third --n 1")
        await slack.wait_for(lambda: len(slack.held) == 2)
        slack.release("chat.postMessage")
        await slack.wait_for(lambda: len(h.parents()) == 2)
        await h.adapter.wait_idle(10)
        texts = [slack.message(CHANNEL, p["ts"])["text"] for p in h.parents()]
        [refused] = [t for t in texts if "❌" in t]
        assert "budget" in refused.lower()
        assert "Starting" not in refused
        [accepted] = [p for p in h.parents() if "❌" not in slack.message(CHANNEL, p["ts"])["text"]]
        await h.wait_for_files(accepted["ts"])
        assert len(fake_openai.requests) == 1


async def test_stopping_answers_busy_releases_what_is_in_hand_and_the_next_start_finishes_it(
    settings: Settings, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    async with running_slack(settings, slack) as h:
        slack.hold("chat.postMessage")
        assert (await h.command("/imagine", "a slow snail --n 1")).status == 200
        await slack.wait_for(lambda: slack.held)
        await h.adapter.stop(grace=0.2)  # the parent post is still held: cut off and released
        late = await h.command("/imagine", "a late hare --n 1", user=BOB)
        assert "try again" in json.loads(late.body)["text"]
        slack.release("chat.postMessage")
        await slack.wait_for(lambda: slack.dropped)
        assert h.parents() == []
    async with running_slack(settings, slack) as h:
        await h.adapter.start_http(0, host="127.0.0.1")
        [parent] = await slack.wait_for(lambda: h.parents())
        assert "a slow snail" in parent["text"]
        await h.wait_for_files(parent["ts"])
        await h.adapter.wait_idle(10)
        assert len(h.parents()) == 1
        assert len(fake_openai.requests) == 1


async def test_a_status_left_working_by_a_restart_is_ended_on_the_next_start(
    settings: Settings, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    async with running_slack(settings, slack) as h:
        await h.command("/imagine", "a tin robot --n 1")
        [parent] = await slack.wait_for(lambda: h.parents())
        await h.wait_for_files(parent["ts"])
        await slack.wait_for(lambda: "✅ Done" in slack.message(CHANNEL, parent["ts"])["text"])
        await h.adapter.wait_idle(10)
    # As if the last run had stopped after posting the result but before ending its status.
    with sqlite3.connect(settings.database_path) as conn:
        assert conn.execute("DELETE FROM posts WHERE message_ref LIKE 'final:%'").rowcount == 1
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    await client.chat_update(channel=CHANNEL, ts=parent["ts"], text="🖌️ Working on it…")
    uploads = len(slack.uploads)

    async with running_slack(settings, slack) as h:
        await h.adapter.start_http(0, host="127.0.0.1")
        await slack.wait_for(lambda: "✅ Done" in slack.message(CHANNEL, parent["ts"])["text"])
        await h.adapter.wait_idle(10)
        assert len(slack.uploads) == uploads
        assert len(fake_openai.requests) == 1


async def test_files_uploaded_just_before_a_stop_are_not_uploaded_again(
    settings: Settings, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    async with running_slack(settings, slack) as h:
        await h.command("/imagine", "a glass whale --n 2")
        [parent] = await slack.wait_for(lambda: h.parents())
        await h.wait_for_files(parent["ts"])
        actions = await h.wait_for_actions(parent["ts"])
        await h.adapter.wait_idle(10)
    # As if the last run had stopped right after the upload: no record of it, no buttons message.
    with sqlite3.connect(settings.database_path) as conn:
        conn.execute("DELETE FROM posts WHERE message_ref LIKE 'result:%' OR message_ref LIKE 'upload:%'")
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    await client.chat_delete(channel=CHANNEL, ts=actions["ts"])
    uploads = len(slack.uploads)

    async with running_slack(settings, slack) as h:
        await h.adapter.start_http(0, host="127.0.0.1")
        await h.wait_for_actions(parent["ts"])  # the buttons come back...
        await h.adapter.wait_idle(10)
        assert len(slack.uploads) == uploads  # ...and the images are not uploaded a second time
        assert len(h.file_messages(parent["ts"])) == 1
