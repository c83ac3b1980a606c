"""`imagebot doctor`: what is configured (secrets masked) and exactly what is missing or invalid."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsError

from bot.config import Settings
from storage.db import (
    DatabaseCorrupt,
    StorageError,
    data_dir_problem,
    describe_problems,
    lock_holder,
    quick_check,
)

SOCKET_MODE_NEEDS = (
    "SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-…) with"
    " connections:write; or set SLACK_SIGNING_SECRET and run `imagebot slack --http`"
)
HTTP_MODE_NEEDS = "SLACK_SIGNING_SECRET is not set: HTTP mode verifies every request with it"


def slack_uses_http(settings: Settings, http: bool | None) -> bool:
    """The mode the Slack app runs in: as asked, or (None) Socket Mode when SLACK_APP_TOKEN is
    set, else HTTP when SLACK_SIGNING_SECRET is."""
    if http is None:
        return settings.slack_app_token is None and settings.slack_signing_secret is not None
    return http


def slack_start_problem(settings: Settings, http: bool | None) -> str | None:
    """What keeps the Slack app from starting in that mode (a missing token or secret), or None;
    asked before anything is set up, so a command that cannot run creates nothing."""
    if slack_uses_http(settings, http):
        return HTTP_MODE_NEEDS if settings.slack_signing_secret is None else None
    return SOCKET_MODE_NEEDS if settings.slack_app_token is None else None


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
    print(f"  text model:     {settings.imagebot_text_model} (/describe)")
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
        missing = slack_start_problem(settings, None)
        if missing is not None:
            problems.append(missing)
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
