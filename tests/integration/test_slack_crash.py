"""`imagebot slack --http` killed with SIGKILL right after acking a burst of /imagine commands, then
started again on the same data directory: every request ends with exactly one parent message and
one posted result (0 lost, 0 duplicated), and every parent message ends "✅ Done".

The kill lands after the acks and before the work is done: either before any parent message is
posted (FakeSlack holds chat.postMessage), or after the jobs exist (FakeSlack holds chat.update,
the status shown on each parent, and FakeOpenAI holds the images).
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack, signed_request, slash_command_body
from tests.integration.helpers import imagebot_process, line_matching, start_imagebot

SECRET = "test-signing-secret"
N = 5
CHANNELS = [f"C0ROOM{i}" for i in range(N)]  # one each: status updates are paced per channel


def env(slack: FakeSlack, openai: FakeOpenAI) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "IMAGEBOT_PROVIDER": "openai",
        "IMAGEBOT_PARTIAL_IMAGES": "0",
        **openai.env,
    }


async def send(url: str, body: str) -> int:
    signed = signed_request(body, secret=SECRET)
    headers = {k: v[0] if isinstance(v, list) else v for k, v in signed.headers.items()}
    async with aiohttp.ClientSession() as http, http.post(url, data=body.encode(), headers=headers) as answer:
        await answer.read()
        return answer.status


def parents(slack: FakeSlack, channel: str) -> list[dict]:
    return [m for m in slack.messages(channel, top_level=True) if m.get("bot_id")]


def results(slack: FakeSlack, channel: str, thread: str) -> list[dict]:
    return [m for m in slack.messages(channel, thread_ts=thread) if m.get("files")]


@pytest.mark.parametrize("kill_when", ["before the parent is posted", "after the job exists"])
async def test_a_kill_after_the_acks_loses_nothing_and_repeats_nothing(
    tmp_path: Path, fake_openai: FakeOpenAI, kill_when: str
) -> None:
    async with FakeSlack() as slack:
        if kill_when == "before the parent is posted":
            slack.hold("chat.postMessage")
            held, expected_held = "chat.postMessage", N
        else:
            slack.hold("chat.update")
            fake_openai.gate = asyncio.Event()
            held, expected_held = "chat.update", N
        process = await start_imagebot(tmp_path, "slack", "--http", "--port", "0", **env(slack, fake_openai))
        try:
            assert process.stderr is not None
            port = int(
                (await line_matching(process.stderr, rb"serving /slack/events on [^:]+:(\d+)")).group(1)
            )
            url = f"http://127.0.0.1:{port}/slack/events"
            bodies = [
                slash_command_body("/imagine", f"crash test {i} --n 1", channel_id=CHANNELS[i], fake=slack)
                for i in range(N)
            ]
            assert await asyncio.gather(*(send(url, b) for b in bodies)) == [200] * N  # all acked
            await slack.wait_for(lambda: slack.held.count(held) >= expected_held, timeout=20)
        finally:
            process.send_signal(signal.SIGKILL)
            await process.communicate()
        assert process.returncode == -signal.SIGKILL
        slack.release(held)
        if fake_openai.gate is not None:
            fake_openai.gate.set()
        await slack.wait_for(lambda: slack.dropped.count(held) >= expected_held, timeout=10)

        async with imagebot_process(tmp_path, "slack", "--http", "--port", "0", **env(slack, fake_openai)):
            for i, channel in enumerate(CHANNELS):
                [parent] = await slack.wait_for(lambda c=channel: parents(slack, c), timeout=30)
                assert f"crash test {i}" in parent["text"]
                await slack.wait_for(lambda c=channel, p=parent: results(slack, c, p["ts"]), timeout=30)
                await slack.wait_for(
                    lambda c=channel, p=parent: "✅ Done" in slack.message(c, p["ts"])["text"], timeout=30
                )
        # After a clean stop: exactly one parent and one result for each request.
        for channel in CHANNELS:
            [parent] = parents(slack, channel)
            assert len(results(slack, channel, parent["ts"])) == 1
            assert "✅ Done" in slack.message(channel, parent["ts"])["text"]
