"""Acknowledgement latency on Discord and Slack while the provider is busy (`make bench`).

Both platforms drop an interaction that is not acknowledged within 3 s. This drives the real
adapters against the local fakes (tests/fakes) with the provider held, fires a burst of
/imagine commands, and reports how long each took to be acknowledged.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import discord

from adapters.discord.app import DiscordAdapter
from adapters.slack import SlackAdapter, SlackUser
from bot.config import Settings
from storage.store import Store
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.fakes.slack import FakeSlack, signed_request, slash_command_body
from tests.helpers import build_bot

BURST = 20
SECRET = "bench-secret"


def summary(name: str, latencies: list[float]) -> str:
    ms = sorted(x * 1000 for x in latencies)
    return (
        f"{name}: {len(ms)} /imagine acks while the provider is busy: median {statistics.median(ms):.0f} ms,"
        f" max {ms[-1]:.0f} ms (limit 3000 ms)"
    )


def settings_for(data_dir: Path, openai: FakeOpenAI, *, queued: int = BURST, **extra: Any) -> Settings:
    """Settings for a benchmark bot on the fake OpenAI (no partial previews, room for `queued`)."""
    return Settings(
        _env_file=None,
        imagebot_data_dir=data_dir,
        imagebot_provider="openai",
        openai_api_key="sk-test",
        openai_base_url=openai.base_url,
        imagebot_partial_images=0,
        imagebot_user_max_queued=queued,
        **extra,
    )


async def discord_acks() -> list[float]:
    old = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscord() as fake, FakeOpenAI() as openai:
        openai.gate = asyncio.Event()
        fake.make_guild("Bench", channels=["general"])
        channel = next(c["id"] for c in fake.channels.values() if c.get("name") == "general")
        with tempfile.TemporaryDirectory() as tmp:
            settings = settings_for(
                Path(tmp), openai, discord_token=fake.token, discord_api_base_url=fake.api_base
            )
            store = await Store.open(settings.database_path, settings.blobs_dir)
            bot = build_bot(settings, store)
            adapter = DiscordAdapter(bot, settings, client_options={"guild_ready_timeout": 0.05})
            await bot.start()
            runner = asyncio.create_task(adapter.start())
            await asyncio.wait_for(adapter.ready.wait(), 10)
            sent: dict[str, float] = {}
            for i in range(BURST):
                payload = fake.slash_interaction("imagine", {"prompt": f"bench {i} --n 1"}, channel=channel)
                sent[payload["id"]] = time.perf_counter()
                await fake.dispatch("INTERACTION_CREATE", payload)
            acked: dict[str, float] = {}

            def all_acked(f: FakeDiscord) -> bool:
                for iid in sent:
                    if iid not in acked and f.interactions[iid].response is not None:
                        acked[iid] = time.perf_counter()
                return len(acked) == len(sent)

            await fake.wait_for(all_acked, timeout=30)
            await every_job_recorded(store, BURST)  # the handlers after the acks are done too
            openai.gate.set()
            await every_job_recorded(store, BURST, status="done")
            await adapter.close()
            await asyncio.gather(runner, return_exceptions=True)
            await bot.stop()
            await bot.provider.close()
            await store.close()
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old
    return [acked[i] - sent[i] for i in sent]


async def slack_acks() -> list[float]:
    async with FakeSlack() as fake, FakeOpenAI() as openai:
        openai.gate = asyncio.Event()
        with tempfile.TemporaryDirectory() as tmp:
            settings = settings_for(
                Path(tmp),
                openai,
                slack_bot_token=fake.bot_token,
                slack_signing_secret=SECRET,
                slack_api_url=fake.api_url,
            )
            store = await Store.open(settings.database_path, settings.blobs_dir)
            bot = build_bot(settings, store)

            async def lookup(team_id: str, user_id: str) -> SlackUser:
                return SlackUser(user_id, is_admin=False)

            adapter = SlackAdapter(bot, settings, user_lookup=lookup)
            await bot.start()

            async def one(i: int) -> float:
                body = slash_command_body("/imagine", f"bench {i} --n 1", fake=fake)
                started = time.perf_counter()
                response = await adapter.app.async_dispatch(signed_request(body, secret=SECRET))
                assert response.status == 200
                return time.perf_counter() - started

            latencies = await asyncio.gather(*(one(i) for i in range(BURST)))
            await every_job_recorded(store, BURST)
            openai.gate.set()
            await every_job_recorded(store, BURST, status="done")
            await adapter.stop()
            await bot.stop()
            await bot.provider.close()
            await store.close()
    return list(latencies)


async def every_job_recorded(
    store: Store, count: int, status: str | None = None, timeout: float = 60.0
) -> None:
    """Wait until `count` jobs are recorded (with `status`, if given), so shutting down does not
    cut handlers or deliveries off mid-way (a benchmark may poll; tests may not)."""
    where, args = (" WHERE status=?", (status,)) if status else ("", ())
    async with asyncio.timeout(timeout):
        while True:
            row = await store.db.fetchone(f"SELECT COUNT(*) AS n FROM jobs{where}", args)
            if row is not None and row["n"] >= count:
                return
            await asyncio.sleep(0.05)


def main() -> None:
    print(summary("discord", asyncio.run(discord_acks())))
    print(summary("slack", asyncio.run(slack_acks())))


if __name__ == "__main__":
    main()
