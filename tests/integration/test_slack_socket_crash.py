"""`imagebot slack` in Socket Mode (the default with SLACK_APP_TOKEN set), killed with SIGKILL right
after acking a burst of /imagine envelopes over the fake's WebSocket, then started again on the same
data directory: every request ends with exactly one parent message and one posted result (0 lost,
0 duplicated), every parent message ends "✅ Done", and the same envelopes delivered again after
the restart (same envelope and trigger ids) run nothing twice.

The kill lands after every ack and before any parent message is posted: FakeSlack holds
chat.postMessage, and the held calls are dropped once the process is gone.
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack, slash_command_body
from tests.integration.helpers import imagebot_process, start_imagebot

N = 5
CHANNELS = [f"C0SOCK{i}" for i in range(N)]  # one each: status updates are paced per channel


def env(slack: FakeSlack, openai: FakeOpenAI) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_APP_TOKEN": slack.app_token,  # Socket Mode, without --http
        "SLACK_API_URL": slack.api_url,
        "IMAGEBOT_PROVIDER": "openai",
        "IMAGEBOT_PARTIAL_IMAGES": "0",
        **openai.env,
    }


def parents(slack: FakeSlack, channel: str) -> list[dict]:
    return [m for m in slack.messages(channel, top_level=True) if m.get("bot_id")]


def results(slack: FakeSlack, channel: str, thread: str) -> list[dict]:
    return [m for m in slack.messages(channel, thread_ts=thread) if m.get("files")]


async def test_a_kill_after_the_socket_mode_acks_loses_nothing_and_repeats_nothing(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    async with FakeSlack() as slack:
        slack.hold("chat.postMessage")
        bodies = [
            slash_command_body("/imagine", f"socket crash {i} --n 1", channel_id=CHANNELS[i], fake=slack)
            for i in range(N)
        ]
        process = await start_imagebot(tmp_path, "slack", **env(slack, fake_openai))
        try:
            await slack.wait_for(lambda: slack.sockets, timeout=20)
            envelopes = [await slack.send_envelope("slash_commands", body) for body in bodies]
            await slack.wait_for(lambda: all(slack.acked(e) for e in envelopes), timeout=10)
            await slack.wait_for(lambda: slack.held.count("chat.postMessage") >= N, timeout=10)
        finally:
            process.send_signal(signal.SIGKILL)
            await process.communicate()
        assert process.returncode == -signal.SIGKILL
        await slack.wait_for(lambda: not slack.sockets, timeout=10)  # Slack saw the socket drop
        slack.release("chat.postMessage")
        await slack.wait_for(lambda: slack.dropped.count("chat.postMessage") >= N, timeout=10)
        assert not any(parents(slack, channel) for channel in CHANNELS)
        assert not fake_openai.requests

        async with imagebot_process(tmp_path, "slack", **env(slack, fake_openai)):
            # The stored requests are handled again on their own: nothing is sent again first.
            for i, channel in enumerate(CHANNELS):
                [parent] = await slack.wait_for(lambda c=channel: parents(slack, c), timeout=20)
                assert f"socket crash {i}" in parent["text"]
            # Then Slack delivers every envelope again (same envelope and trigger ids) while the
            # restarted process is still at work: each is acked and runs nothing.
            await slack.wait_for(lambda: slack.sockets, timeout=20)
            for envelope, body in zip(envelopes, bodies, strict=True):
                await slack.send_envelope("slash_commands", body, envelope_id=envelope)
            await slack.wait_for(lambda: all(len(slack.acked(e)) == 2 for e in envelopes), timeout=10)
            for channel in CHANNELS:
                [parent] = parents(slack, channel)
                await slack.wait_for(lambda c=channel, p=parent: results(slack, c, p["ts"]), timeout=20)
                await slack.wait_for(
                    lambda c=channel, p=parent: "✅ Done" in slack.message(c, p["ts"])["text"], timeout=20
                )
        # After a clean stop (SIGTERM drains the work): exactly one parent, one result, one image
        # request for each command.
        for i, channel in enumerate(CHANNELS):
            [parent] = parents(slack, channel)
            assert f"socket crash {i}" in parent["text"]
            assert len(results(slack, channel, parent["ts"])) == 1
            assert "✅ Done" in slack.message(channel, parent["ts"])["text"]
        assert len(fake_openai.generations) == N
        assert len(fake_openai.requests) == N
