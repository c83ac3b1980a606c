"""`imagebot discord` as a real process against the fake Discord: it connects, syncs its
commands, answers /imagine, and shuts down cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.fakes.discord_api import FakeDiscord

ROOT = Path(__file__).resolve().parents[2]


async def test_imagebot_discord_runs_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        fake.make_guild("Studio", channels=["general"])
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("OPENAI_", "IMAGEBOT_", "DISCORD_", "SLACK_"))
        }
        env |= {
            "DISCORD_TOKEN": fake.token,
            "DISCORD_API_BASE_URL": fake.api_base,
            "IMAGEBOT_DATA_DIR": str(tmp_path / "data"),
            "PYTHONPATH": str(ROOT),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "adapters.cli",
            "discord",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
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
        finally:
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(20):
                _, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
        assert b"Traceback" not in stderr
