"""Helpers that point a real discord.py client at the fake: patch its base URLs, feed raw gateway
payloads, or run it against the fake gateway."""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl

from .state import FakeDiscord

# ---------------------------------------------------------------------- client helpers


@contextlib.contextmanager
def patched_discord(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base and default gateway at ``fake``; restore both on exit."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


def feed(client: discord.Client, event: str, payload: Mapping[str, Any]) -> None:
    """Hand a raw gateway payload to the client's parser, exactly as its websocket would."""
    client._connection.parsers[event](copy.deepcopy(dict(payload)))


@contextlib.asynccontextmanager
async def connected_client(
    client: discord.Client,
    fake: FakeDiscord,
    *,
    guilds: Sequence[Mapping[str, Any]] | None = None,
    token: str | None = None,
    ready: bool = True,
) -> AsyncIterator[discord.Client]:
    """``login()`` against the fake (no websocket), feed GUILD_CREATE for ``guilds`` (default: every guild
    of the fake), mark the client ready, and close it (and its HTTP session) on exit."""
    with patched_discord(fake):
        try:
            await client.login(token or fake.token)
            if guilds is None:
                guilds = [fake.guild_create(g) for g in fake.guilds]
            for guild in guilds:
                feed(client, "GUILD_CREATE", guild)
            if ready:
                client._ready.set()
                client.dispatch("ready")
            yield client
        finally:
            await client.close()


@contextlib.asynccontextmanager
async def running_client(
    client: discord.Client, fake: FakeDiscord, *, token: str | None = None, timeout: float = 5.0
) -> AsyncIterator[discord.Client]:
    """Run ``client.start()`` against the fake's REST API *and* gateway until ``on_ready``; close on exit.

    Build the client with a small ``guild_ready_timeout`` (e.g. 0.05): discord.py waits that long after
    the last GUILD_CREATE before it fires ``on_ready``.
    """
    with patched_discord(fake):
        task = asyncio.create_task(client.start(token or fake.token), name="fake-discord-client")
        try:

            async def ready() -> None:
                await fake.wait_for(lambda f: any(s.identified for s in f.gateway_sessions), timeout)
                await client.wait_until_ready()

            waiter = asyncio.create_task(ready())
            done, _ = await asyncio.wait({task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if waiter not in done:
                waiter.cancel()
                if task in done:
                    task.result()  # re-raise why start() failed
                raise AssertionError("client never became ready against the fake gateway")
            waiter.result()
            yield client
        finally:
            await client.close()
            with contextlib.suppress(asyncio.CancelledError):
                await task
