"""`imagebot run|console|discord|slack|doctor`: the composition root.

Builds the Settings once, then the store, the provider and the adapters, and wires them. The
core and the platforms are imported only by the command that runs them, so `doctor` and a
refused start (a missing token, an invalid setting, a data directory in use) answer at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any

from adapters.doctor import cmd_doctor, read_settings, slack_start_problem
from bot.config import Settings
from storage.db import (
    DataDirLock,
    StorageError,
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


async def run_console_mode(settings: Settings, out_dir: Path, *, explain: bool) -> int:
    from adapters.composition import close_bot, open_bot
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
    if settings.slack_configured and not settings.discord_configured:
        refused = _slack_refused(settings, None)  # with Discord too, Discord runs on while Slack explains
        if refused is not None:
            return refused
    with holding_data_dir(settings, "run"):
        if settings.discord_configured or settings.slack_configured:
            from adapters.platforms import run_platforms

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
        from adapters.platforms import run_platforms

        return _run_until_interrupted(run_platforms(settings, discord=True))


def cmd_slack(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.slack_configured:
        print('imagebot: SLACK_BOT_TOKEN is not set (README: "Set up on Slack").', file=sys.stderr)
        return 2
    refused = _slack_refused(settings, args.http or None)
    if refused is not None:
        return refused
    with holding_data_dir(settings, "slack"):
        from adapters.platforms import run_platforms

        return _run_until_interrupted(
            run_platforms(
                settings, discord=False, slack=True, slack_http=args.http or None, slack_port=args.port
            )
        )


def _slack_refused(settings: Settings, http: bool | None) -> int | None:
    """Exit status 2, said in one line, when the Slack app cannot start in that mode; None if it can."""
    problem = slack_start_problem(settings, http)
    if problem is None:
        return None
    print(f'imagebot: {problem} (README: "Set up on Slack").', file=sys.stderr)
    return 2


def _run_until_interrupted(main: Coroutine[Any, Any, int]) -> int:
    try:
        return asyncio.run(main)
    except KeyboardInterrupt:
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
