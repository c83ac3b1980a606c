"""Small builders every kind of test uses: settings, images, and the core wired as the command line
wires it. Driving the core with a recording presenter, and running `imagebot` as a process, are in
tests/integration/helpers.py."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import openai
from PIL import Image

from adapters.composition import assemble, build_provider
from bot.config import Settings
from bot.providers.base import Provider
from bot.providers.openai import tls_settings
from bot.service import ImageBot
from storage.db import Database
from storage.store import Store


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings from explicit values only, so the developer's environment cannot leak in."""
    values: dict[str, object] = {"imagebot_data_dir": data_dir, "imagebot_provider": "offline"}
    values.update(overrides)
    return Settings(_env_file=None, **values)


def build_bot(
    settings: Settings,
    store: Store,
    provider: Provider | None = None,
    clock: Callable[[], float] | None = None,
) -> ImageBot:
    """The core as the composition root builds it (the provider from the settings unless given).
    Every test and benchmark builds its ImageBot here, so a change to how the core is put
    together is made once."""
    if provider is None:
        provider = build_provider(settings)
    if clock is None:
        return assemble(settings, store, provider)
    return assemble(settings, store, provider, clock)


def encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def png(
    width: int = 64,
    height: int = 64,
    *,
    color: tuple[int, ...] | int = (200, 30, 30),
    mode: str = "RGB",
) -> bytes:
    """A plain one-colour PNG."""
    return encode_png(Image.new(mode, (width, height), color))


async def count_commits(db: Database) -> list[str]:
    """Every COMMIT the database's write connection runs from now on (SQLite's statement trace):
    a list that grows as they happen."""
    commits: list[str] = []
    await db._conn.set_trace_callback(  # the write connection, which only storage otherwise touches
        lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None
    )
    return commits


def sdk_client(
    base_url: str, api_key: str, *, max_retries: int = 0, timeout: float = 600.0
) -> openai.AsyncOpenAI:
    """The bare SDK client on the process's one TLS context, as the provider builds its own: a
    context of its own per client reads every trusted certificate again (about 30 ms of CPU)."""
    return openai.AsyncOpenAI(
        base_url=base_url,
        api_key=api_key,
        max_retries=max_retries,
        timeout=timeout,
        http_client=openai.DefaultAsyncHttpxClient(verify=tls_settings()),
    )
