"""Discord outcome posts through faults (issue 8, an outbox for every post). Drives the real
adapter against the fake Discord with the interaction tokens expired (so every result goes into
its thread with the bot token), makes the thread-post route answer 429 (with `Via` and
`retry_after`) for 25 s, then 500 for 15 s, lets the jobs finish during the fault, and counts
per job: posted once / duplicated / lost / recorded-but-not-posted. Default presenter back-off.

    .venv/bin/python -m bench.discord_faults
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import tempfile
import time
from pathlib import Path

import discord

from adapters.discord.app import DiscordAdapter
from bench.acks import settings_for
from bot.records import PostRef
from storage.store import Store
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.helpers import build_bot

JOBS = 12
POSTS = r"/channels/\d+/messages"


async def run(status: int, seconds: float, retry_after: float) -> tuple[dict[str, int], float, int]:
    old = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscord() as fake, FakeOpenAI() as openai:
        openai.gate = asyncio.Event()
        fake.make_guild("Bench", channels=["general"])
        channel = next(c["id"] for c in fake.channels.values() if c.get("name") == "general")
        with tempfile.TemporaryDirectory() as tmp:
            settings = settings_for(
                Path(tmp), openai, queued=JOBS, discord_token=fake.token, discord_api_base_url=fake.api_base
            )
            store = await Store.open(settings.database_path, settings.blobs_dir)
            bot = build_bot(settings, store)
            adapter = DiscordAdapter(bot, settings, client_options={"guild_ready_timeout": 0.05})
            recorded = asyncio.Event()
            record = adapter.presenter.record_post
            assert record is not None

            async def record_and_count(job_id: str, platform: str, ref: PostRef) -> None:
                await record(job_id, platform, ref)
                recorded.set()
                await fake.notify()

            adapter.presenter.record_post = record_and_count
            await bot.start()
            runner = asyncio.create_task(adapter.start())
            await asyncio.wait_for(adapter.ready.wait(), 10)
            payloads = [
                fake.slash_interaction("imagine", {"prompt": f"fault bench {i} --n 1"}, channel=channel)
                for i in range(JOBS)
            ]
            for payload in payloads:
                await fake.dispatch("INTERACTION_CREATE", payload)
            await fake.wait_for(
                lambda f: all((m := f.original_message(p["id"])) and m["content"] for p in payloads), 30
            )
            for payload in payloads:
                fake.expire_interaction(payload["id"])
            started = time.monotonic()
            fake.fail_for(seconds, POSTS, method="POST", status=status, retry_after=retry_after)
            openai.gate.set()

            def refs() -> dict[str, str]:
                with sqlite3.connect(settings.database_path) as conn:
                    rows = conn.execute(
                        "SELECT job_id, message_ref FROM posts WHERE message_ref LIKE 'result:%'"
                    )
                    return dict(rows.fetchall())

            with contextlib.suppress(AssertionError):  # counted below as lost
                await fake.wait_for(lambda f: len(refs()) >= JOBS, timeout=seconds + 120)
            took = time.monotonic() - started
            faulted = sum(1 for c in fake.calls_to("POST", POSTS) if c.status == status)
            counts = {"posted once": 0, "duplicated": 0, "lost": 0, "recorded but not posted": 0}
            recorded_refs = refs()
            for payload in payloads:
                original = fake.original_message(payload["id"])
                if original is None:  # never answered at all
                    counts["lost"] += 1
                    continue
                n = len([m for m in fake.messages_in(original["id"]) if "Here you go" in m["content"]])
                counts["posted once" if n == 1 else "lost" if n == 0 else "duplicated"] += 1
            for ref in recorded_refs.values():
                _, channel_id, message_id = ref.split(":")
                message = fake.messages.get(message_id)
                if message is None or message["channel_id"] != channel_id:
                    counts["recorded but not posted"] += 1
            counts["recorded"] = len(recorded_refs)
            await adapter.close()
            await asyncio.gather(runner, return_exceptions=True)
            await bot.stop()
            await bot.provider.close()
            await store.close()
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old
    return counts, took, faulted


def main() -> None:
    for name, status, seconds, retry_after in (("429s", 429, 25.0, 1.0), ("5xx (500)", 500, 15.0, 0.0)):
        counts, took, faulted = asyncio.run(run(status, seconds, retry_after))
        print(
            f"discord thread posts, {name} for {seconds:.0f} s, {JOBS} results: "
            + ", ".join(f"{v} {k}" for k, v in counts.items())
            + f"; {faulted} faulted requests; all delivered {took:.1f} s after the fault began"
        )


if __name__ == "__main__":
    main()
