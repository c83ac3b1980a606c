"""Running the chat platforms side by side: each starts, retries and fails on its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from adapters.composition import close_bot, open_bot
from bot.config import Settings
from bot.service import ImageBot
from storage.db import StorageError

log = logging.getLogger("imagebot")

RETRY_FIRST_DELAY = 1.0
RETRY_MAX_DELAY = 60.0


class Closable(Protocol):
    """What `run_platforms` needs of an adapter at shutdown."""

    async def close(self) -> None: ...


@dataclass
class Platform:
    """One chat platform as `run_platforms` drives it: start (runs until closed), reset (tidy up
    after a failed attempt, before the next), and what its failures mean."""

    name: str
    adapter: Closable
    start: Callable[[], Awaitable[None]]
    reset: Callable[[], Awaitable[None]]
    explain: Callable[[BaseException], Failure | None]


@dataclass(frozen=True)
class Failure:
    """Why a platform cannot run: `retry` for network trouble (try again later), otherwise it
    stays down; `config` when a setting is missing (exit 2 when nothing else runs)."""

    message: str
    retry: bool = False
    config: bool = False


async def supervise(platform: Platform) -> Failure | None:
    """Start a platform and keep it started: network failures are retried with back-off (one log
    line per attempt) for as long as it takes; a refusal (bad token, missing setting) is logged
    in one line and ends only this platform. Returns None when the platform was closed."""
    delay = RETRY_FIRST_DELAY
    attempt = 1
    while True:
        try:
            await platform.start()
            return None
        except (asyncio.CancelledError, StorageError):
            raise
        except Exception as error:
            failure = platform.explain(error) or _common_failure(error)
            if failure is None:
                log.error("%s: could not start", platform.name, exc_info=error)  # a bug: keep the trace
                return Failure(f"{type(error).__name__}: {error}")
            if not failure.retry:
                log.error("%s: %s", platform.name, failure.message)
                return failure
            log.warning(
                "%s: %s; retrying in %.0f s (attempt %d)", platform.name, failure.message, delay, attempt
            )
        await platform.reset()
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_MAX_DELAY)
        attempt += 1


def _common_failure(error: BaseException) -> Failure | None:
    if isinstance(error, ValueError):  # an adapter named a missing setting
        return Failure(str(error), config=True)
    import aiohttp  # here, not at the top: the console and doctor start without it (~0.1 s)

    if isinstance(error, aiohttp.ClientConnectionError | ConnectionError | socket.gaierror | TimeoutError):
        return Failure(f"cannot connect ({error or type(error).__name__})", retry=True)
    return None


def _discord_platform(bot: ImageBot, settings: Settings) -> Platform:
    import discord

    from adapters.discord.app import DiscordAdapter

    adapter = DiscordAdapter(bot, settings)

    async def reset() -> None:
        # A discord.py client cannot log in twice; start again from a fresh one, as the adapter
        # itself does when the gateway refuses the Message Content intent.
        await adapter.client.close()
        adapter.client = adapter._new_client()
        adapter.presenter.client = adapter.client

    def explain(error: BaseException) -> Failure | None:
        refused = (
            "Discord refused DISCORD_TOKEN (401 Unauthorized): it is wrong or was reset. Get a new one in"
            " the Discord Developer Portal → your application → Bot → Reset Token, and put it in"
            " DISCORD_TOKEN."
        )
        if isinstance(error, discord.LoginFailure):
            return Failure(refused)
        if isinstance(error, discord.ConnectionClosed):
            return Failure(refused if error.code == 4004 else f"the gateway closed the connection ({error})")
        if isinstance(error, discord.GatewayNotFound | discord.DiscordServerError):
            return Failure(f"Discord is unavailable ({error})", retry=True)
        if isinstance(error, discord.HTTPException):
            return Failure(f"Discord answered {error.status}: {error.text or error}")
        return None

    return Platform("discord", adapter, adapter.start, reset, explain)


def _slack_platform(bot: ImageBot, settings: Settings, http: bool | None, port: int | None) -> Platform:
    from slack_sdk.errors import SlackApiError

    from adapters.slack import SlackAdapter

    adapter = SlackAdapter(bot, settings)

    async def reset() -> None:
        # A Socket Mode handler whose connection failed still holds its HTTP session.
        handler = getattr(adapter, "_socket", None)
        if handler is not None:
            with contextlib.suppress(Exception):
                await handler.close_async()
            adapter._socket = None

    def explain(error: BaseException) -> Failure | None:
        if not isinstance(error, SlackApiError):
            return None
        code = str(error.response.get("error", "")) if error.response is not None else ""
        if code in ("invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"):
            return Failure(
                f"Slack refused the token ({code}). At api.slack.com/apps → your app: copy the Bot User"
                " OAuth Token (OAuth & Permissions) into SLACK_BOT_TOKEN and an app-level token with"
                " connections:write (Basic Information → App-Level Tokens) into SLACK_APP_TOKEN."
            )
        if code in ("ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"):
            return Failure(f"Slack is unavailable ({code})", retry=True)
        return Failure(f"Slack answered {code or error}")

    return Platform("slack", adapter, lambda: adapter.start(http=http, port=port), reset, explain)


async def run_platforms(
    settings: Settings,
    *,
    discord: bool,
    slack: bool = False,
    slack_http: bool | None = None,
    slack_port: int | None = None,
) -> int:
    """Run the chat platforms until interrupted; stop in order (platforms, jobs, clients, db).

    Each platform starts, retries and fails on its own: one that cannot start does not stop the
    others. Exits non-zero only when none is running (2 when only settings were missing)."""
    bot = await open_bot(settings)
    if settings.provider_name == "offline":
        log.warning("no OPENAI_API_KEY: images come from the offline provider (labelled 'offline preview')")
    else:
        log.info("images from OpenAI, model %s", settings.imagebot_model)
    platforms: list[Platform] = []
    tasks: list[asyncio.Task[Failure | None]] = []
    try:
        if discord:
            platforms.append(_discord_platform(bot, settings))
        if slack:
            platforms.append(_slack_platform(bot, settings, slack_http, slack_port))
        # Adapters register their presenters first, so resumed jobs can report to them.
        await bot.start()
        stop_on_sigterm()
        tasks = [asyncio.create_task(supervise(p), name=f"imagebot-{p.name}") for p in platforms]
        failures = [f for f in await asyncio.gather(*tasks) if f is not None]
        if not failures:
            return 0
        print("imagebot: no platform is running (see above); stopping.", file=sys.stderr)
        return 2 if all(f.config for f in failures) else 1
    except asyncio.CancelledError:  # SIGTERM (or Ctrl-C): fall through to the orderly shutdown
        log.info("shutting down")
        return 0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for platform in platforms:
            await platform.adapter.close()
        await close_bot(bot)


def stop_on_sigterm() -> None:
    """A service manager's SIGTERM shuts down like Ctrl-C: the running task is cancelled and
    `run_platforms` closes platforms, jobs, clients and the database in order."""
    task = asyncio.current_task()
    if task is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on every platform
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
