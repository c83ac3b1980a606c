"""Posting results through Slack faults (issue 8, Slack side): every result is posted exactly
once and is never recorded as delivered when it was not.

The issue's faults are scaled down here (2 s instead of 25 s of 429s and 15 s of upload-URL 500s;
`bench/slack_faults.py` runs the full durations). The client's own retries are turned off
(`api_retries=0`) so a 2 s fault outlasts them and the adapter's back-off does the work, as a 25 s
fault does with slack-sdk's three retries.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from bot.records import PostKind, PostRef
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack
from tests.integration.test_slack_adapter import ALICE, CHANNEL, Harness, running_slack, slack_settings

N = 3
UPLOAD_STEPS = ("files.getUploadURLExternal", "files.completeUploadExternal")


def job_id_of(parent: dict[str, Any]) -> str:
    match = re.search(r"[Jj]ob `([^`]+)`", parent["text"])
    assert match, parent["text"]
    return match.group(1)


def result_messages(slack: FakeSlack, thread: str, job_id: str) -> list[dict[str, Any]]:
    return [
        m
        for m in slack.messages(CHANNEL, thread_ts=thread)
        if (m.get("metadata") or {}).get("event_payload", {}).get("job_id") == job_id
    ]


async def start_jobs(h: Harness, fake_openai: FakeOpenAI) -> list[dict[str, Any]]:
    """N /imagine commands whose images are held; returns their parent messages once each shows
    its job id."""
    fake_openai.gate = asyncio.Event()
    for i in range(N):
        assert (await h.command("/imagine", f"fault test {i} --n 1")).status == 200
    await h.slack.wait_for(
        lambda: len(h.parents()) == N and all("ob `" in p["text"] for p in h.parents()), timeout=10
    )
    return h.parents()


async def check_posted_once(h: Harness, parents: list[dict[str, Any]]) -> None:
    """Each job: one file message and one message naming it (by metadata) in its thread, its
    record pointing at that message, and its parent saying "✅ Done" only after it was posted."""
    slack = h.slack
    for parent in parents:
        job_id = job_id_of(parent)
        thread = parent["ts"]
        await slack.wait_for(lambda t=thread: "✅ Done" in slack.message(CHANNEL, t)["text"], timeout=30)
        assert len([m for m in slack.messages(CHANNEL, thread_ts=thread) if m.get("files")]) == 1
        [posted] = result_messages(slack, thread, job_id)
        assert posted["metadata"]["event_type"] == "imagebot_result"
        refs = [r for r in await h.bot.store.jobs.posts(job_id) if r.kind is PostKind.RESULT]
        assert refs == [PostRef(PostKind.RESULT, CHANNEL, posted["ts"])]  # recorded = what was posted
        # The parent never said "✅ Done" before the result was in the thread.
        calls = slack.calls
        done_at = next(
            i
            for i, c in enumerate(calls)
            if c.method == "chat.update" and c.args.get("ts") == thread and "✅ Done" in c.args["text"]
        )
        posted_at = next(
            i
            for i, c in enumerate(calls)
            if c.method == "chat.postMessage" and c.ok and c.response["ts"] == posted["ts"]
        )
        assert posted_at < done_at


async def test_429s_on_posts_and_uploads_for_a_while_post_every_result_once(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    settings = slack_settings(data_dir, slack, fake_openai)
    async with running_slack(settings, slack, api_retries=0, retry_first=0.2) as h:
        parents = await start_jobs(h, fake_openai)
        # The outage lasts until the test has seen the bot wait it out (the 25 s of 429s).
        slack.fail_for("chat.postMessage", None, status=429, retry_after=1)
        for step in UPLOAD_STEPS:
            slack.fail_for(step, None, status=429, retry_after=1)
        fake_openai.gate.set()
        # While Slack refuses, the requester sees the result is coming, not "✅ Done".
        await slack.wait_for(
            lambda: all(
                "Slack is not taking the result" in slack.message(CHANNEL, p["ts"])["text"] for p in parents
            ),
            timeout=10,
        )
        assert slack.failing("chat.postMessage")
        for parent in parents:
            assert not result_messages(slack, parent["ts"], job_id_of(parent))
            assert not [
                r for r in await h.bot.store.jobs.posts(job_id_of(parent)) if r.kind is PostKind.RESULT
            ]
        for method in ("chat.postMessage", *UPLOAD_STEPS):
            slack.recover(method)
        await check_posted_once(h, parents)
        assert any(c.status == 429 for c in slack.calls_to("files.getUploadURLExternal"))


async def test_upload_url_500s_for_a_while_post_every_result_once_without_an_unhandled_error(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    settings = slack_settings(data_dir, slack, fake_openai)
    caplog.set_level(logging.INFO)
    async with running_slack(settings, slack, api_retries=0, retry_first=0.2) as h:
        parents = await start_jobs(h, fake_openai)
        slack.fail_for("upload", None, status=500)  # until the bot has said so (the 15 s)
        fake_openai.gate.set()
        await slack.wait_for(
            lambda: all(
                "Slack is not taking the result" in slack.message(CHANNEL, p["ts"])["text"] for p in parents
            ),
            timeout=10,
        )
        assert slack.failing("upload")
        slack.recover("upload")
        await check_posted_once(h, parents)
        assert any(c.status == 500 for c in slack.calls_to("upload"))
    # No "⚠️ Slack refused the upload" note: a server error is not a refusal.
    assert not [m for m in slack.messages(CHANNEL) if "refused the upload" in m["text"]]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


async def test_a_result_owed_for_long_is_announced_privately_and_still_posted_once(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI
) -> None:
    settings = slack_settings(data_dir, slack, fake_openai)
    async with running_slack(settings, slack, api_retries=0, retry_first=0.2, owed_notice=0.5) as h:
        fake_openai.gate = asyncio.Event()
        assert (await h.command("/imagine", "a slow post --n 1")).status == 200
        [parent] = await slack.wait_for(lambda: [p for p in h.parents() if "ob `" in p["text"]], timeout=10)
        slack.fail_for("upload", None, status=500)
        fake_openai.gate.set()
        [notice] = await slack.wait_for(lambda: slack.ephemerals, timeout=10)
        assert notice["user"] == ALICE
        assert "I could not post your result here" in notice["text"]
        assert "/imagebot show " in notice["text"]
        # Still not posted, and not recorded as posted.
        assert slack.failing("upload")
        job_id = job_id_of(parent)
        assert not [r for r in await h.bot.store.jobs.posts(job_id) if r.kind is PostKind.RESULT]
        assert "✅ Done" not in slack.message(CHANNEL, parent["ts"])["text"]
        slack.recover("upload")
        await check_posted_once(h, [parent])
        assert len(slack.ephemerals) == 1  # told once
