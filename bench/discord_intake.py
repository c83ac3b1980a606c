"""Discord acknowledgement latency with durable intake (issue 8): every interaction is stored
before it is deferred. Drives the real adapter against the fake Discord (gateway + REST) with
the provider held, fires a burst of /imagine interactions, and reports how long each took to be
answered: normally (a defer) and with the database write-locked by another writer (an ephemeral
"busy", which must still come well inside Discord's 3 s).

    .venv/bin/python -m bench.discord_intake
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

import discord

from adapters.discord.app import DiscordAdapter
from bench.acks import every_job_recorded, settings_for
from bot.intake import BUSY_TEXT
from storage.store import Store
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.helpers import build_bot

BURST = 200  # commands in flight at once (the figure #10 asks about)
LOCKED_LIMIT = 2.5  # seconds


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def burst(locked: bool) -> tuple[list[float], dict[int, int]]:
    """Latencies (s) from dispatch to the initial response, and the count per response type."""
    old = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscord() as fake, FakeOpenAI() as openai:
        openai.gate = asyncio.Event()
        fake.make_guild("Bench", channels=["general"])
        channel = next(c["id"] for c in fake.channels.values() if c.get("name") == "general")
        with tempfile.TemporaryDirectory() as tmp:
            settings = settings_for(
                Path(tmp), openai, queued=BURST, discord_token=fake.token, discord_api_base_url=fake.api_base
            )
            store = await Store.open(settings.database_path, settings.blobs_dir)
            bot = build_bot(settings, store)
            adapter = DiscordAdapter(bot, settings, client_options={"guild_ready_timeout": 0.05})
            await bot.start()
            runner = asyncio.create_task(adapter.start())
            await asyncio.wait_for(adapter.ready.wait(), 10)
            holder = sqlite3.connect(settings.database_path, timeout=0, isolation_level=None)
            if locked:
                holder.execute("BEGIN IMMEDIATE")
            payloads = [
                fake.slash_interaction("imagine", {"prompt": f"bench {i} --n 1"}, channel=channel)
                for i in range(BURST)
            ]
            sent: dict[str, float] = {}
            acked: dict[str, float] = {}

            def all_acked(f: FakeDiscord) -> bool:
                now = time.perf_counter()
                for iid in sent:
                    if iid not in acked and f.interactions[iid].response is not None:
                        acked[iid] = now
                return len(acked) == BURST

            for payload in payloads:
                sent[payload["id"]] = time.perf_counter()
                await fake.dispatch("INTERACTION_CREATE", payload)
            await fake.wait_for(all_acked, timeout=30)
            kinds: dict[int, int] = {}
            for payload in payloads:
                response = fake.interaction_responses[payload["id"]]
                kinds[response["type"]] = kinds.get(response["type"], 0) + 1
                if response["type"] == 4:
                    assert response["data"]["content"] == BUSY_TEXT
            if locked:
                holder.execute("COMMIT")
            holder.close()
            deferred = kinds.get(5, 0)
            await every_job_recorded(store, deferred)  # the work after each defer is done too
            openai.gate.set()
            await every_job_recorded(store, deferred, status="done")  # and posted: then close
            await adapter.close()
            await asyncio.gather(runner, return_exceptions=True)
            await bot.stop()
            await bot.provider.close()
            await store.close()
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old
    return [acked[i] - sent[i] for i in sent], kinds


def report(name: str, latencies: list[float], kinds: dict[int, int]) -> str:
    ms = [x * 1000 for x in latencies]
    named = {5: "deferred", 4: "busy"}
    answers = ", ".join(f"{n} {named.get(k, k)}" for k, n in sorted(kinds.items()))
    return (
        f"{name}: {len(ms)} /imagine: p50 {percentile(ms, 50):.0f} ms, p99 {percentile(ms, 99):.0f} ms,"
        f" max {max(ms):.0f} ms ({answers})"
    )


def main() -> None:
    latencies, kinds = asyncio.run(burst(locked=False))
    print(report("discord intake, database free", latencies, kinds))
    latencies, kinds = asyncio.run(burst(locked=True))
    print(report("discord intake, database write-locked", latencies, kinds))
    verdict = "OK" if max(latencies) < LOCKED_LIMIT and set(kinds) == {4} else "TOO SLOW OR NOT BUSY"
    print(f"locked: every answer under {LOCKED_LIMIT} s and busy: {verdict}")


if __name__ == "__main__":
    main()
