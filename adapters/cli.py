"""`imagebot run|console|discord|slack|doctor`: the composition root.

Builds the Settings once, then the store, the provider and the adapters, and wires them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsError

from adapters.composition import close_bot, open_bot
from bot.config import Settings
from bot.service import ImageBot
from storage.db import (
    DatabaseCorrupt,
    DataDirLock,
    StorageError,
    data_dir_problem,
    describe_problems,
    lock_holder,
    quick_check,
)

log = logging.getLogger("imagebot")

HOW_TO_CONFIGURE = """\
Nothing is configured, so this is the console on the offline provider (labelled "offline preview").
  • OpenAI images:  set OPENAI_API_KEY (in the environment or a .env file; see .env.example)
  • Discord:        set DISCORD_TOKEN (README: "Set up on Discord")
  • Slack:          set SLACK_BOT_TOKEN and SLACK_APP_TOKEN (README: "Set up on Slack")
  • Check it all:   make doctor (or .venv/bin/imagebot doctor)"""


def load_settings() -> Settings:
    """Settings from the environment and .env, or a clear list of what is wrong and exit 2."""
    settings, problems = read_settings()
    if settings is None:
        print("imagebot: the configuration is invalid:", file=sys.stderr)
        for line in problems:
            print(f"  • {line}", file=sys.stderr)
        print("Run `make doctor` (or `.venv/bin/imagebot doctor`) for the whole picture.", file=sys.stderr)
        raise SystemExit(2)
    return settings


def read_settings() -> tuple[Settings | None, list[str]]:
    """The Settings, or None and one line per invalid setting (never a traceback)."""
    try:
        return Settings(), []
    except ValidationError as error:
        return None, describe_validation_error(error)
    except SettingsError as error:  # a value pydantic-settings could not even decode
        return None, [str(error)]


def describe_validation_error(error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]).upper() or "settings"
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{name}: {message}")
    return lines


async def run_console_mode(settings: Settings, out_dir: Path, *, explain: bool) -> int:
    from adapters.console.repl import run_console

    bot = await open_bot(settings)
    provider = settings.provider_name
    banner = f"imagebot console · provider: {provider}"
    banner += f" ({settings.imagebot_model})" if provider == "openai" else " (offline preview)"
    banner += f" · images are written to {out_dir}/ · type `help`"
    if explain:
        banner = HOW_TO_CONFIGURE + "\n" + banner
    try:
        return await run_console(bot, out_dir=out_dir, banner=banner)
    finally:
        await close_bot(bot)


# Back-off between attempts to reach a platform that cannot be reached (no network, outage).
RETRY_FIRST_DELAY = 1.0
RETRY_MAX_DELAY = 60.0


@dataclass
class Platform:
    """One chat platform as `run_platforms` drives it: start (runs until closed), reset (tidy up
    after a failed attempt, before the next), and what its failures mean."""

    name: str
    adapter: object
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
        _stop_on_sigterm()
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
            await platform.adapter.close()  # type: ignore[attr-defined]
        await close_bot(bot)


@contextlib.contextmanager
def holding_data_dir(settings: Settings, command: str) -> Iterator[None]:
    """The data directory's lock, held until the command ends (and by the kernel until the
    process ends): a second imagebot on it would resume, and pay for, this one's jobs again.
    Raises DataDirError or DataDirInUse (StorageErrors) with what to do."""
    lock = DataDirLock.acquire(settings.imagebot_data_dir, owner=f"imagebot {command}")
    try:
        yield
    finally:
        lock.release()


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    with holding_data_dir(settings, "run"):
        if settings.discord_configured or settings.slack_configured:
            return _run_until_interrupted(
                run_platforms(settings, discord=settings.discord_configured, slack=settings.slack_configured)
            )
        return _run_console(settings, Path(args.out), explain=settings.provider_name == "offline")


def cmd_console(settings: Settings, args: argparse.Namespace) -> int:
    with holding_data_dir(settings, "console"):
        return _run_console(settings, Path(args.out), explain=False)


def _run_console(settings: Settings, out_dir: Path, *, explain: bool) -> int:
    """The console until end of input. Ctrl-C at the prompt ends it at once: exit 0 when typed at
    a terminal (like `quit`, and so `make run` stays quiet), 130 when a script is interrupted."""
    try:
        return asyncio.run(run_console_mode(settings, out_dir, explain=explain))
    except KeyboardInterrupt:
        print(flush=True)  # end the prompt's line
        return 0 if sys.stdin.isatty() else 130


def cmd_discord(settings: Settings) -> int:
    if not settings.discord_configured:
        print('imagebot: DISCORD_TOKEN is not set (README: "Set up on Discord").', file=sys.stderr)
        return 2
    with holding_data_dir(settings, "discord"):
        return _run_until_interrupted(run_platforms(settings, discord=True))


def cmd_slack(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.slack_configured:
        print('imagebot: SLACK_BOT_TOKEN is not set (README: "Set up on Slack").', file=sys.stderr)
        return 2
    with holding_data_dir(settings, "slack"):
        return _run_until_interrupted(
            run_platforms(
                settings, discord=False, slack=True, slack_http=args.http or None, slack_port=args.port
            )
        )


def _stop_on_sigterm() -> None:
    """A service manager's SIGTERM shuts down like Ctrl-C: the running task is cancelled and
    `run_platforms` closes platforms, jobs, clients and the database in order."""
    task = asyncio.current_task()
    if task is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on every platform
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


def _run_until_interrupted(main) -> int:
    try:
        return asyncio.run(main)
    except KeyboardInterrupt:
        return 0


def _mask(secret: SecretStr | None) -> str:
    if secret is None:
        return "not set"
    value = secret.get_secret_value()
    return f"set ({value[:3]}…{value[-4:]})" if len(value) > 12 else "set (****)"


def _database_problems(path: Path) -> list[str]:
    """`PRAGMA quick_check` on the database, read-only (doctor): what is wrong, if anything."""
    if not path.exists():
        print("  database:       not created yet (the first start creates it)")
        return []
    try:
        found = quick_check(path)
    except StorageError as error:
        print("  database:       DAMAGED")
        return [str(error)]
    if found:
        print("  database:       DAMAGED")
        return [str(DatabaseCorrupt(path, describe_problems(found)))]
    print("  database:       OK (quick_check)")
    return []


def cmd_doctor() -> int:
    """Print what is configured (secrets masked) and exactly what is missing or invalid."""
    settings, invalid = read_settings()
    if settings is None:
        print("Configuration: INVALID")
        for line in invalid:
            print(f"  ✗ {line}")
        return 1
    problems: list[str] = []
    notes: list[str] = []
    print("imagebot doctor")
    print(f"  provider:       {settings.provider_name}")
    print(f"  OPENAI_API_KEY: {_mask(settings.openai_api_key)}")
    if settings.openai_base_url:
        print(f"  OPENAI_BASE_URL: {settings.openai_base_url}")
    if settings.provider_name == "offline":
        notes.append("no OPENAI_API_KEY: images come from the offline provider (labelled 'offline preview')")
    print(f"  model:          {settings.imagebot_model} (default n={settings.imagebot_default_n})")
    data_dir = settings.imagebot_data_dir
    print(f"  data dir:       {data_dir.resolve()}")
    problem = data_dir_problem(data_dir)
    if problem:
        problems.append(f"IMAGEBOT_DATA_DIR: {problem}")
    else:
        holder = lock_holder(data_dir)
        if holder:
            notes.append(f"the data directory is in use by a running imagebot ({holder})")
        problems.extend(_database_problems(settings.database_path))
    print(
        f"  limits:         {settings.imagebot_max_concurrency} jobs at once; per user "
        f"{settings.imagebot_user_max_running} running / {settings.imagebot_user_max_queued} queued; "
        f"{settings.imagebot_daily_image_quota or 'unlimited'} images a day; budget "
        + (
            f"${settings.imagebot_monthly_budget_usd:.2f}/month"
            if settings.imagebot_monthly_budget_usd
            else "unlimited"
        )
    )
    print(f"  DISCORD_TOKEN:  {_mask(settings.discord_token)}")
    if settings.discord_configured:
        guilds = ", ".join(map(str, settings.discord_guild_ids)) or "none (commands sync globally)"
        print(f"  DISCORD_GUILD_IDS: {guilds}")
    print(f"  SLACK_BOT_TOKEN: {_mask(settings.slack_bot_token)}")
    if settings.slack_configured:
        print(f"  SLACK_APP_TOKEN: {_mask(settings.slack_app_token)}")
        print(f"  SLACK_SIGNING_SECRET: {_mask(settings.slack_signing_secret)}")
        if settings.slack_app_token is None and settings.slack_signing_secret is None:
            problems.append(
                "SLACK_APP_TOKEN is missing (Socket Mode, the default); or set SLACK_SIGNING_SECRET and run"
                " `imagebot slack --http`"
            )
        token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
        if not token.startswith("xoxb-"):
            problems.append("SLACK_BOT_TOKEN should start with xoxb- (the Bot User OAuth Token)")
        if settings.slack_app_token and not settings.slack_app_token.get_secret_value().startswith("xapp-"):
            problems.append(
                "SLACK_APP_TOKEN should start with xapp- (an app-level token with connections:write)"
            )
    if not settings.discord_configured and not settings.slack_configured:
        notes.append("no DISCORD_TOKEN or SLACK_BOT_TOKEN: `imagebot run` starts the console")
    for note in notes:
        print(f"  • {note}")
    if problems:
        print("Problems:")
        for problem in problems:
            print(f"  ✗ {problem}")
        return 1
    print("Configuration: OK")
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="imagebot", description="A shared image studio for Discord and Slack."
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run every configured platform (the console when none is)")
    run.add_argument("--out", default="imagebot-out", help="console: where images are written")
    console = sub.add_parser("console", help="a terminal chat over one session")
    console.add_argument("--out", default="imagebot-out", help="where images are written")
    sub.add_parser("discord", help="run the Discord bot (DISCORD_TOKEN)")
    slack = sub.add_parser("slack", help="run the Slack app (Socket Mode; --http for the Events API)")
    slack.add_argument("--http", action="store_true")
    slack.add_argument("--port", type=int)
    sub.add_parser("doctor", help="check the configuration and say what is missing")
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["run", *(argv or [])])
    return args


def _retries_in_one_line(record: logging.LogRecord) -> bool:
    """Slack's Socket Mode client retries a failed connection on its own, logging each attempt
    with a traceback; network trouble is expected, so one line per attempt is enough."""
    if (
        record.exc_info
        and record.name.startswith("slack")
        and record.getMessage().startswith("Failed to connect")
    ):
        record.exc_info = None
        record.exc_text = None
    return True


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "doctor":
        return cmd_doctor()
    settings = load_settings()
    console = args.command == "console" or (
        args.command == "run" and not (settings.discord_configured or settings.slack_configured)
    )
    level = settings.imagebot_log_level
    if console and level == "INFO":
        level = "WARNING"  # the console's own output is the conversation; keep logs to problems
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(_retries_in_one_line)
    try:
        if args.command == "run":
            return cmd_run(settings, args)
        if args.command == "console":
            return cmd_console(settings, args)
        if args.command == "discord":
            return cmd_discord(settings)
        return cmd_slack(settings, args)
    except StorageError as error:  # the data directory is unusable or taken, the database damaged
        print(f"imagebot: cannot start: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
