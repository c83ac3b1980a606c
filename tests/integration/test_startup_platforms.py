"""Platforms that cannot start: a refused token is one clear line; no network is retried with
back-off and never ends the process; and in `imagebot run` one platform failing leaves the other
running. Real processes against the fake Discord and Slack."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import DEFAULT_CHANNEL_ID, FakeSlack, signed_request, slash_command_body
from tests.integration.helpers import imagebot_finishes, imagebot_process, line_matching

SECRET = "test-signing-secret"
WRONG_TOKEN = "MTIz.wrong-token-that-must-not-be-logged"


def free_port() -> int:
    """A port nothing listens on (connections to it are refused) until something binds it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.asynccontextmanager
async def forwarder(port: int, target: int) -> AsyncIterator[None]:
    """Listen on `port` and pass every connection through to `target`: the network coming back."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()


async def lines_matching(stream: asyncio.StreamReader, *patterns: bytes, timeout: float = 30.0) -> dict:
    """Read lines until each pattern has matched one (in any order); their matches by pattern."""
    found: dict[bytes, re.Match[bytes]] = {}
    async with asyncio.timeout(timeout):
        while len(found) < len(patterns):
            line = await stream.readline()
            if not line:
                raise AssertionError(f"the process ended; still waiting for {set(patterns) - set(found)}")
            for pattern in patterns:
                if pattern not in found and (match := re.search(pattern, line)):
                    found[pattern] = match
    return found


async def test_a_refused_discord_token_is_one_line_saying_where_to_reset_it(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        result = await imagebot_finishes(
            tmp_path, "discord", DISCORD_TOKEN=WRONG_TOKEN, DISCORD_API_BASE_URL=fake.api_base
        )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "Discord refused DISCORD_TOKEN" in result.stderr
    assert "Developer Portal → your application → Bot → Reset Token" in result.stderr
    assert "wrong-token" not in result.stderr  # the secret itself is never logged


async def test_discord_without_network_retries_with_back_off_until_it_connects(tmp_path: Path) -> None:
    port = free_port()
    async with FakeDiscord() as fake:
        api_base = fake.api_base.replace(f":{fake.base_url.rsplit(':', 1)[1]}", f":{port}")
        async with imagebot_process(
            tmp_path, "discord", DISCORD_TOKEN=fake.token, DISCORD_API_BASE_URL=api_base
        ) as process:
            assert process.stderr is not None
            first = await line_matching(
                process.stderr, rb"discord: cannot connect .*retrying in (\d+) s \(attempt 1\)"
            )
            second = await line_matching(
                process.stderr, rb"discord: cannot connect .*retrying in (\d+) s \(attempt 2\)"
            )
            assert int(second.group(1)) > int(first.group(1))  # backing off
            assert process.returncode is None  # still running, still trying
            async with forwarder(port, int(fake.base_url.rsplit(":", 1)[1])):
                await fake.wait_for(lambda f: any(s.identified for s in f.gateway_sessions), timeout=30)
                await fake.wait_for(lambda f: {c["name"] for c in f.global_commands()} >= {"imagine"})


async def test_slack_without_network_keeps_trying_without_tracebacks(tmp_path: Path) -> None:
    async with imagebot_process(
        tmp_path,
        "slack",
        SLACK_BOT_TOKEN="xoxb-1-2-3",
        SLACK_APP_TOKEN="xapp-1-2-3",
        SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/",
    ) as process:
        assert process.stderr is not None
        await line_matching(process.stderr, rb"Failed to connect .*Retrying")
        assert process.returncode is None
    # (the helper checks that no traceback was printed and that SIGTERM ended it cleanly)


async def test_run_keeps_slack_going_when_discord_refuses_its_token(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as discord_fake,
        FakeSlack() as slack_fake,
        imagebot_process(
            tmp_path,
            "run",
            DISCORD_TOKEN=WRONG_TOKEN,
            DISCORD_API_BASE_URL=discord_fake.api_base,
            SLACK_BOT_TOKEN=slack_fake.bot_token,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack_fake.api_url,
            SLACK_HTTP_PORT="0",
        ) as process,
    ):
        assert process.stderr is not None
        found = await lines_matching(
            process.stderr, rb"Discord refused DISCORD_TOKEN", rb"serving /slack/events on [^:]+:(\d+)"
        )
        port = int(found[rb"serving /slack/events on [^:]+:(\d+)"].group(1))
        async with aiohttp.ClientSession() as http:
            body = slash_command_body("/imagine", "a paper boat --n 1", fake=slack_fake)
            signed = signed_request(body, secret=SECRET)
            headers = {k: v[0] if isinstance(v, list) else v for k, v in signed.headers.items()}
            async with http.post(
                f"http://127.0.0.1:{port}/slack/events", data=body.encode(), headers=headers
            ) as answer:
                assert answer.status == 200
        await slack_fake.wait_for(
            lambda: any(m.get("files") for m in slack_fake.messages(DEFAULT_CHANNEL_ID)), timeout=20
        )
        assert process.returncode is None


async def test_run_stops_when_no_platform_can_start(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        result = await imagebot_finishes(
            tmp_path,
            "run",
            DISCORD_TOKEN=WRONG_TOKEN,
            DISCORD_API_BASE_URL=fake.api_base,
            SLACK_BOT_TOKEN="xoxb-1-2-3",  # without SLACK_APP_TOKEN or SLACK_SIGNING_SECRET
            SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/",
        )
    assert result.returncode == 1, result.stderr
    assert "Discord refused DISCORD_TOKEN" in result.stderr
    assert "SLACK_APP_TOKEN" in result.stderr
    assert "no platform is running" in result.stderr
    assert "Traceback" not in result.stderr
