"""Shared fixtures: every test gets its own data directory and explicit settings (no .env)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# The fakes (and with them discord.py, slack-sdk and the OpenAI SDK) are imported by the fixtures
# that start them: the xdist controller loads this file too, and runs no test.
if TYPE_CHECKING:
    from tests.fakes.discord import FakeDiscord
    from tests.fakes.openai import FakeOpenAI
    from tests.fakes.slack import FakeSlack


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    from tests.fakes.openai import FakeOpenAI

    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A fake Discord with one server ("Studio") and its #general channel."""
    from tests.fakes.discord import FakeDiscord

    async with FakeDiscord() as fake:
        fake.make_guild("Studio", channels=["general"])
        yield fake


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """A fake Slack Web API (and Socket Mode) with one workspace."""
    from tests.fakes.slack import FakeSlack

    async with FakeSlack() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings(_env_file=None) still reads the process environment; a developer's real keys
    # must never reach a test (or the internet).
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "DISCORD_TOKEN",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "IMAGEBOT_PROVIDER",
        "IMAGEBOT_MODEL",
        "IMAGEBOT_DATA_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
