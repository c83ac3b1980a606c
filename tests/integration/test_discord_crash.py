"""`imagebot discord` killed with SIGKILL right after it deferred a burst of /imagine, and
started again on the same data directory (issue 8, item 4): every request ends with exactly one
result, none lost, none twice."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

from tests.fakes.discord import FakeDiscord
from tests.fakes.openai import FakeOpenAI
from tests.integration.helpers import imagebot_process, start_imagebot
from tests.integration.test_discord_intake import results_for

N = 8


async def test_a_killed_process_loses_and_repeats_nothing_after_its_restart(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    env = {
        **fake_openai.env,
        "IMAGEBOT_PARTIAL_IMAGES": "0",
        "IMAGEBOT_OPENAI_MAX_RETRIES": "0",
    }
    async with FakeDiscord() as fake:
        fake.make_guild("Studio", channels=["general"])
        env |= {"DISCORD_TOKEN": fake.token, "DISCORD_API_BASE_URL": fake.api_base}
        general = next(c["id"] for c in fake.channels.values() if c.get("name") == "general")
        fake_openai.gate = asyncio.Event()  # no image is finished before the kill

        first = await start_imagebot(tmp_path, "discord", **env)
        try:
            await fake.wait_for(lambda f: any(s.identified for s in f.gateway_sessions), timeout=30)
            await fake.wait_for(lambda f: {c["name"] for c in f.global_commands()} >= {"imagine"}, timeout=30)
            payloads = [
                fake.slash_interaction(
                    "imagine",
                    {"prompt": f"crash test {i} --n 1"},
                    channel=general,
                    user=fake.make_user(f"user{i}"),
                )
                for i in range(N)
            ]
            for payload in payloads:
                await fake.dispatch("INTERACTION_CREATE", payload)
            await fake.wait_for(
                lambda f: all(f.interactions[p["id"]].response is not None for p in payloads), timeout=10
            )
        finally:
            first.send_signal(signal.SIGKILL)  # right after the last defer
            await first.communicate()
        assert first.returncode == -signal.SIGKILL
        await fake.wait_for(lambda f: not f.gateway_sessions, timeout=10)
        assert all(not results_for(fake, p) for p in payloads)

        fake_openai.gate.set()
        async with imagebot_process(tmp_path, "discord", **env):
            await fake.wait_for(lambda f: all(results_for(f, p) for p in payloads), timeout=60)
            # every one continued on its own response, in one thread each
            for payload in payloads:
                (result,) = results_for(fake, payload)
                assert result["id"] == fake.original_message(payload["id"])["id"]
        assert [len(results_for(fake, p)) for p in payloads] == [1] * N  # none lost, none twice
        threads = [c for c in fake.channels.values() if c["type"] == 11]
        assert sorted(t["id"] for t in threads) == sorted(
            fake.original_message(p["id"])["id"] for p in payloads
        )
        with sqlite3.connect(tmp_path / "data" / "imagebot.sqlite3") as conn:
            assert conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == N
            assert conn.execute("SELECT COUNT(*) FROM jobs WHERE status='done'").fetchone()[0] == N
            unfinished = conn.execute("SELECT COUNT(*) FROM intake WHERE finished_at IS NULL").fetchone()[0]
            assert unfinished == 0
