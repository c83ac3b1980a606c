"""`imagebot discord` as a real process against the fake Discord: it connects, syncs its
commands, answers /imagine, and shuts down cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import DEFAULT_CHANNEL_ID, FakeSlack, signed_request, slash_command_body

ROOT = Path(__file__).resolve().parents[2]


async def line_matching(stream: asyncio.StreamReader, pattern: bytes, timeout: float = 30.0):
    """Read a child's output until a line matches (its own word that it is ready)."""
    async with asyncio.timeout(timeout):
        while line := await stream.readline():
            if match := re.search(pattern, line):
                return match
    raise AssertionError(f"the process ended without printing {pattern!r}")


@asynccontextmanager
async def imagebot_process(
    tmp_path: Path, *args: str, **env: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`imagebot ARGS` as a child process with only the given settings; on leaving, SIGTERM and
    a check that it shut down cleanly (exit 0, no traceback)."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "IMAGEBOT_", "DISCORD_", "SLACK_"))
    }
    clean |= {"IMAGEBOT_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT), **env}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "adapters.cli",
        *args,
        cwd=tmp_path,
        env=clean,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr


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
    async with FakeSlack() as fake:
        async with imagebot_process(
            tmp_path,
            "slack",
            "--http",
            "--port",
            "0",
            SLACK_BOT_TOKEN=fake.bot_token,
            SLACK_SIGNING_SECRET=secret,
            SLACK_API_URL=fake.api_url,
        ) as process:
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
