"""`imagebot slack --http` killed with SIGKILL after Slack posted a result's message and before
the bot recorded it (FakeSlack carries out the post and holds its answer), then started again on
the same data directory: the start-up catch-up finds the message in the thread by its metadata,
records it instead of posting again, and the parent ends "✅ Done". The result appears once.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack, slash_command_body
from tests.integration.helpers import imagebot_process, line_matching, start_imagebot
from tests.integration.test_slack_crash import env, parents, send

CHANNEL = "C0CRASH"


def is_result_post(args: dict[str, Any]) -> bool:
    return (args.get("metadata") or {}).get("event_type") == "imagebot_result"


def named(slack: FakeSlack, thread: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(CHANNEL, thread_ts=thread) if m.get("metadata")]


async def test_a_kill_between_posting_and_recording_posts_the_result_once(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    async with FakeSlack() as slack:
        slack.hold_answer("chat.postMessage", is_result_post)
        process = await start_imagebot(tmp_path, "slack", "--http", "--port", "0", **env(slack, fake_openai))
        try:
            assert process.stderr is not None
            port = int(
                (await line_matching(process.stderr, rb"serving /slack/events on [^:]+:(\d+)")).group(1)
            )
            body = slash_command_body("/imagine", "crash after posting --n 1", channel_id=CHANNEL, fake=slack)
            assert await send(f"http://127.0.0.1:{port}/slack/events", body) == 200
            await slack.wait_for(lambda: "chat.postMessage" in slack.held, timeout=30)
        finally:
            process.send_signal(signal.SIGKILL)
            await process.communicate()
        assert process.returncode == -signal.SIGKILL
        slack.release("chat.postMessage")
        [parent] = parents(slack, CHANNEL)
        assert "✅ Done" not in parent["text"]  # the kill came before the bot knew it had posted
        [posted] = named(slack, parent["ts"])  # ...but Slack had the message
        assert posted["metadata"]["event_type"] == "imagebot_result"

        async with imagebot_process(tmp_path, "slack", "--http", "--port", "0", **env(slack, fake_openai)):
            await slack.wait_for(
                lambda: "✅ Done" in slack.message(CHANNEL, parent["ts"])["text"], timeout=30
            )
        # After a clean stop: one file message and one message for the result, found (not re-posted).
        thread = slack.messages(CHANNEL, thread_ts=parent["ts"])
        assert len([m for m in thread if m.get("files")]) == 1
        assert named(slack, parent["ts"]) == [posted]
        assert [p for p in parents(slack, CHANNEL)] == [parent]
        looked = slack.calls_to("conversations.replies")
        assert looked
        assert looked[-1].args.get("include_all_metadata") in ("1", "true", True)


async def test_a_kill_after_the_upload_and_before_its_message_uploads_nothing_twice(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """The files went in, the message with the buttons never reached Slack: the next start posts
    only that message (the upload was recorded), so the images appear once."""
    async with FakeSlack() as slack:
        fake_openai.gate = asyncio.Event()
        process = await start_imagebot(tmp_path, "slack", "--http", "--port", "0", **env(slack, fake_openai))
        try:
            assert process.stderr is not None
            port = int(
                (await line_matching(process.stderr, rb"serving /slack/events on [^:]+:(\d+)")).group(1)
            )
            body = slash_command_body(
                "/imagine", "crash after uploading --n 1", channel_id=CHANNEL, fake=slack
            )
            assert await send(f"http://127.0.0.1:{port}/slack/events", body) == 200
            await slack.wait_for(lambda: parents(slack, CHANNEL), timeout=30)
            slack.hold("chat.postMessage")  # from now on: the message after the upload
            fake_openai.gate.set()
            await slack.wait_for(lambda: "chat.postMessage" in slack.held, timeout=30)
        finally:
            process.send_signal(signal.SIGKILL)
            await process.communicate()
        slack.release("chat.postMessage")
        await slack.wait_for(lambda: "chat.postMessage" in slack.dropped, timeout=10)
        [parent] = parents(slack, CHANNEL)
        assert len([m for m in slack.messages(CHANNEL, thread_ts=parent["ts"]) if m.get("files")]) == 1
        assert not named(slack, parent["ts"])

        async with imagebot_process(tmp_path, "slack", "--http", "--port", "0", **env(slack, fake_openai)):
            await slack.wait_for(
                lambda: "✅ Done" in slack.message(CHANNEL, parent["ts"])["text"], timeout=30
            )
        thread = slack.messages(CHANNEL, thread_ts=parent["ts"])
        assert len([m for m in thread if m.get("files")]) == 1
        assert len(named(slack, parent["ts"])) == 1
