"""Slack over HTTP (`imagebot slack --http`): the signature is checked on the raw bytes before the
body is read, so strangers get a quiet 401, Slack's malformed bodies a 400, and nothing a 500.

Requests go over real HTTP to the aiohttp application `SlackAdapter.start_http` serves (the one the
`imagebot slack --http` process runs), with logging captured per request; one test also runs the
real process.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import signal
import sys
import time
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import DEFAULT_CHANNEL_ID, FORM, JSON, FakeSlack, slash_command_body
from tests.integration.test_slack_adapter import SECRET, Harness, running_slack, slack_settings

ROOT = Path(__file__).resolve().parents[2]
CHANNEL = DEFAULT_CHANNEL_ID


def sign(body: bytes, *, secret: str = SECRET, timestamp: str | None = None) -> dict[str, str]:
    """Slack's v0 signature headers for `body` (any bytes, not only text)."""
    ts = str(int(time.time())) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {"x-slack-request-timestamp": ts, "x-slack-signature": f"v0={digest}"}


@pytest.fixture
async def served(
    data_dir: Path, slack: FakeSlack, fake_openai: FakeOpenAI
) -> AsyncIterator[tuple[Harness, str]]:
    settings = slack_settings(data_dir, slack, fake_openai)
    async with running_slack(settings, slack) as h:
        port = await h.adapter.start_http(0, host="127.0.0.1")
        yield h, f"http://127.0.0.1:{port}/slack/events"


async def post(
    url: str, body: bytes, content_type: str, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> tuple[int, list[logging.LogRecord]]:
    """POST and return the status with the log records written while the request was handled
    (the server logs before it answers, so nothing is still on its way)."""
    caplog.clear()
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers={"content-type": content_type, **headers}) as response,
    ):
        await response.read()
        return response.status, list(caplog.records)


BINARY = bytes(range(256)) * 4
MALFORMED_JSON = b'{"type": "event_callback", "event": {'


async def test_unsigned_or_badly_signed_requests_get_401_and_one_log_line(
    served: tuple[Harness, str], slack: FakeSlack, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    h, url = served
    caplog.set_level(logging.INFO)  # what `imagebot` logs
    command = slash_command_body("/imagine", "a red kite --n 1", fake=slack).encode()
    stale = str(int(time.time()) - 301)
    cases = {
        "unsigned malformed JSON": (MALFORMED_JSON, JSON, {}),
        "unsigned binary body": (BINARY, "application/octet-stream", {}),
        "binary body, made-up signature": (BINARY, FORM, {**sign(b"other"), "x-slack-signature": "v0=ab"}),
        "non-numeric timestamp": (
            MALFORMED_JSON,
            JSON,
            {**sign(MALFORMED_JSON), "x-slack-request-timestamp": "soon"},
        ),
        "timestamp with a sign": (command, FORM, sign(command, timestamp="+" + str(int(time.time())))),
        "non-ASCII signature": (command, FORM, {**sign(command), "x-slack-signature": "v0=é"}),
        "stale timestamp": (command, FORM, sign(command, timestamp=stale)),
        "signed with another secret": (command, FORM, sign(command, secret="not-the-secret")),
        "body changed after signing": (command + b"&x=1", FORM, sign(command)),
    }
    for name, (body, content_type, headers) in cases.items():
        status, records = await post(url, body, content_type, headers, caplog)
        assert status == 401, name
        assert len(records) <= 1, (name, [r.getMessage() for r in records])
        assert all(r.levelno < logging.ERROR and r.exc_info is None for r in records), name
        assert all(len(r.getMessage()) < 200 for r in records), name
        assert not any("kite" in r.getMessage() for r in records), name  # no body in the log
    await h.adapter.wait_idle(10)
    assert slack.messages(CHANNEL) == []
    assert slack.ephemerals == []
    assert fake_openai.requests == []


async def test_signed_but_malformed_bodies_get_400(
    served: tuple[Harness, str], slack: FakeSlack, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    h, url = served
    caplog.set_level(logging.INFO)  # what `imagebot` logs
    bad_payload = urllib.parse.urlencode({"payload": "{not json"}).encode()
    cases = {
        "malformed JSON": (MALFORMED_JSON, JSON),
        "binary body": (BINARY, JSON),
        "JSON that is not an object": (b"[1, 2, 3]", JSON),
        "empty JSON body": (b"", JSON),
        "interactivity payload that is not JSON": (bad_payload, FORM),
        "unexpected content type": (b"hello", "text/plain"),
    }
    for name, (body, content_type) in cases.items():
        status, records = await post(url, body, content_type, sign(body), caplog)
        assert status == 400, name
        assert len(records) <= 1, name
        assert all(r.exc_info is None for r in records), name
    await h.adapter.wait_idle(10)
    assert slack.messages(CHANNEL) == []
    assert fake_openai.requests == []


async def test_signed_requests_still_work_over_http(
    served: tuple[Harness, str], slack: FakeSlack, fake_openai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    h, url = served
    challenge = json.dumps({"token": "t", "challenge": "c-123", "type": "url_verification"}).encode()
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=challenge, headers={"content-type": JSON, **sign(challenge)}) as r,
    ):
        assert r.status == 200
        assert (await r.json())["challenge"] == "c-123"
    # A prompt with the word "payload" in it: Bolt's own form parser reads such a body as empty.
    command = slash_command_body("/imagine", "a payload bay, open --n 1", fake=slack).encode()
    status, _ = await post(url, command, FORM, sign(command), caplog)
    assert status == 200
    [parent] = await slack.wait_for(lambda: h.parents())
    assert "a payload bay, open" in parent["text"]
    await h.wait_for_files(parent["ts"])
    assert len(fake_openai.requests) == 1


# --- the real process -----------------------------------------------------------------------------


async def test_the_slack_process_starts_without_bolt_warnings_and_refuses_quietly(tmp_path: Path) -> None:
    """`imagebot slack --http` with SLACK_BOT_TOKEN in its environment (as deployed): Bolt must not
    warn that a token was given next to the client, and junk gets one log line, no traceback."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "IMAGEBOT_", "DISCORD_", "SLACK_"))
    }
    async with FakeSlack() as fake:
        env |= {
            "IMAGEBOT_DATA_DIR": str(tmp_path / "data"),
            "PYTHONPATH": str(ROOT),
            "SLACK_BOT_TOKEN": fake.bot_token,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url,
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "adapters.cli", "slack", "--http", "--port", "0"),
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stderr is not None
        startup: list[str] = []
        try:
            async with asyncio.timeout(30):
                while line := (await process.stderr.readline()).decode():
                    startup.append(line)
                    if "serving /slack/events on" in line:
                        break
            assert startup, "".join(startup)
            assert "serving /slack/events on" in startup[-1], "".join(startup)
            url = f"http://127.0.0.1:{int(startup[-1].rsplit(':', 1)[1])}/slack/events"
            async with (
                aiohttp.ClientSession() as http,
                http.post(url, data=BINARY, headers={"content-type": JSON}) as response,
            ):
                assert response.status == 401
        finally:
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(20):
                _, rest = await process.communicate()
    stderr = "".join(startup) + rest.decode()
    assert process.returncode == 0, stderr
    assert "will be unused" not in stderr, stderr
    assert "WARNING slack_bolt" not in stderr, stderr
    assert "Traceback" not in stderr, stderr
    assert "ERROR" not in stderr, stderr
    assert stderr.count("refused a request") == 1, stderr
    assert fake.bot_token not in stderr
    assert SECRET not in stderr
