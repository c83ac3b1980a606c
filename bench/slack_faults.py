"""Slack results through lasting faults (issue 8): every result posted once, none recorded as
delivered when it was not.

    .venv/bin/python -m bench.slack_faults            # the issue's durations: 25 s and 15 s
    .venv/bin/python -m bench.slack_faults --scale 0.1

Runs the real Slack adapter (slack-sdk with its default retries: three per call) against the local
fakes (tests/fakes). JOBS /imagine commands, one per channel, are queued with the provider held;
then the fault starts and the images are released:

  A. Slack answers 429 (Retry-After: 1) to chat.postMessage and to the upload steps
     (files.getUploadURLExternal, files.completeUploadExternal) for 25 s;
  B. the upload URL answers 500 for 15 s.

Prints, per scenario: posted once / duplicated / lost / recorded-but-not-posted, and how long the
last result took after the fault began. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.records import PostKind
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack, slash_command_body
from tests.integration.test_slack_adapter import running_slack, slack_settings

JOBS = 5
CHANNELS = [f"C0FAULT{i}" for i in range(JOBS)]
UPLOAD_STEPS = ("files.getUploadURLExternal", "files.completeUploadExternal")
GRACE = 120.0  # after the fault ends, how long a result may still take before it counts as lost


def job_of(slack: FakeSlack, channel: str) -> tuple[str, str] | None:
    for m in slack.messages(channel, top_level=True):
        text = m.get("text") or ""
        if m.get("bot_id") and "ob `" in text:
            return m["ts"], text.split("ob `", 1)[1].split("`", 1)[0]
    return None


async def scenario(name: str, faults: list[tuple[str, float, int]]) -> dict[str, Any]:
    async with FakeSlack() as slack, FakeOpenAI() as openai:
        with tempfile.TemporaryDirectory() as tmp:
            settings = slack_settings(Path(tmp), slack, openai)
            async with running_slack(settings, slack) as h:
                openai.gate = asyncio.Event()
                for i, channel in enumerate(CHANNELS):
                    body = slash_command_body(
                        "/imagine", f"bench {i} --n 1", channel_id=channel, user_id=f"U0B{i}", fake=slack
                    )
                    assert (await h.dispatch(body)).status == 200
                await slack.wait_for(lambda: all(job_of(slack, c) for c in CHANNELS), timeout=30)
                jobs = {c: job_of(slack, c) for c in CHANNELS}
                started = time.monotonic()
                longest = 0.0
                for method, seconds, status in faults:
                    slack.fail_for(method, seconds, status=status, retry_after=1)
                    longest = max(longest, seconds)
                openai.gate.set()

                def named(channel: str) -> list[dict[str, Any]]:
                    ts, job_id = jobs[channel]  # type: ignore[misc]
                    return [
                        m
                        for m in slack.messages(channel, thread_ts=ts)
                        if (m.get("metadata") or {}).get("event_payload", {}).get("job_id") == job_id
                    ]

                with contextlib.suppress(AssertionError):
                    await slack.wait_for(lambda: all(named(c) for c in CHANNELS), timeout=longest + GRACE)
                took = time.monotonic() - started
                counts = {"posted once": 0, "duplicated": 0, "lost": 0, "recorded but not posted": 0}
                for channel in CHANNELS:
                    ts, job_id = jobs[channel]  # type: ignore[misc]
                    posts = named(channel)
                    files = [m for m in slack.messages(channel, thread_ts=ts) if m.get("files")]
                    if not posts:
                        counts["lost"] += 1
                    elif len(posts) > 1 or len(files) > 1:
                        counts["duplicated"] += 1
                    else:
                        counts["posted once"] += 1
                    shown = {m["ts"] for m in posts}
                    for post in await h.bot.store.jobs.posts(job_id):
                        if post.kind is PostKind.RESULT and post.message not in shown:
                            counts["recorded but not posted"] += 1
                faulted = sum(1 for c in slack.calls if c.status in (429, 500))
                notices = len(slack.ephemerals)
    return {
        "scenario": name,
        **counts,
        "fault answers": faulted,
        "notices": notices,
        "seconds": round(took, 1),
    }


async def run(scale: float) -> None:
    a = 25 * scale
    b = 15 * scale
    results = [
        await scenario(
            f"A: 429 on posts and upload steps for {a:g} s",
            [("chat.postMessage", a, 429)] + [(step, a, 429) for step in UPLOAD_STEPS],
        ),
        await scenario(f"B: upload URL 500 for {b:g} s", [("upload", b, 500)]),
    ]
    for r in results:
        print(
            f"{r['scenario']}: {JOBS} jobs; posted once {r['posted once']}, duplicated {r['duplicated']},"
            f" lost {r['lost']}, recorded-but-not-posted {r['recorded but not posted']};"
            f" {r['fault answers']} fault answers, {r['notices']} private notices;"
            f" all posted {r['seconds']} s after the fault began"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the fault durations")
    asyncio.run(run(parser.parse_args().scale))


if __name__ == "__main__":
    main()
