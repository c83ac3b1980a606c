"""`imagebot discord` as a real process against the fake Discord: it connects, syncs its
commands, answers /imagine, and shuts down cleanly on SIGTERM."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import DEFAULT_CHANNEL_ID, FakeSlack, signed_request, slash_command_body
from tests.integration.helpers import imagebot_process, line_matching

__all__ = ["imagebot_process", "line_matching"]  # other tests import them from here too


async def test_imagebot_discord_runs_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        fake.make_guild("Studio", channels=["general"])
        async with imagebot_process(
            tmp_path, "discord", DISCORD_TOKEN=fake.token, DISCORD_API_BASE_URL=fake.api_base
        ):
            await fake.wait_for(lambda f: any(s.identified for s in f.gateway_sessions), timeout=30)
            await fake.wait_for(lambda f: {c["name"] for c in f.global_commands()} >= {"imagine", "help"})
            channel = next(c["id"] for c in fake.channels.values() if c.get("name") == "general")
            payload = fake.slash_interaction("imagine", {"prompt": "a paper boat --n 1"}, channel=channel)
            await fake.dispatch("INTERACTION_CREATE", payload)
            result = await fake.wait_for(
                lambda f: (m := f.original_message(payload["id"])) and "Here you go" in m["content"] and m,
                timeout=20,
            )
            assert "offline preview" in result["content"]  # no OPENAI_API_KEY: the offline provider


async def test_imagebot_slack_http_serves_signed_events_and_stops_on_sigterm(tmp_path: Path) -> None:
    secret = "test-signing-secret"
    async with (
        FakeSlack() as fake,
        imagebot_process(
            tmp_path,
            "slack",
            "--http",
            "--port",
            "0",
            SLACK_BOT_TOKEN=fake.bot_token,
            SLACK_SIGNING_SECRET=secret,
            SLACK_API_URL=fake.api_url,
        ) as process,
    ):
        listening = await line_matching(process.stderr, rb"serving /slack/events on [^:]+:(\d+)")
        url = f"http://127.0.0.1:{int(listening.group(1))}/slack/events"
        async with aiohttp.ClientSession() as http:
            body = slash_command_body("/imagine", "a paper boat --n 1", fake=fake)
            signed = signed_request(body, secret=secret)
            headers = {k: v[0] if isinstance(v, list) else v for k, v in signed.headers.items()}
            async with http.post(url, data=body.encode(), headers=headers) as answer:
                assert answer.status == 200
            async with http.post(
                url, data=body.encode(), headers=headers | {"x-slack-signature": "v0=bad"}
            ) as bad:
                assert bad.status == 401
        await fake.wait_for(
            lambda: any(m.get("files") for m in fake.messages(DEFAULT_CHANNEL_ID)), timeout=20
        )
