"""Settings: read once at start-up from the environment and an optional .env, then passed down.

Field names are the environment variable names (lower-cased), so `IMAGEBOT_MODEL=...` sets
`imagebot_model`. Nothing else in the code reads os.environ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.model_catalog import MODELS, RETIRED

# Estimated USD per 1M tokens. The SDK carries no prices, so these are configurable
# (IMAGEBOT_PRICES) and every cost we show is labelled an estimate.
DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "default": {"text_input": 5.0, "image_input": 8.0, "image_output": 30.0},
}
# /describe's vision-capable text model (Responses API): the current model the installed SDK names
# in its own model list and docstrings (openai.types.shared.ChatModel; a test keeps it there).
DEFAULT_TEXT_MODEL = "gpt-6.2-astra"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # `NAME=` in a .env file means "not set", as in .env.example.
        env_ignore_empty=True,
    )

    # --- provider -------------------------------------------------------------------------------
    openai_api_key: SecretStr | None = Field(None, description="OpenAI API key; without it: offline")
    openai_base_url: str | None = Field(None, description="Images API base URL (proxies, tests)")
    openai_org_id: str | None = None
    openai_project_id: str | None = None
    imagebot_provider: Literal["openai", "offline"] | None = Field(
        None, description="openai or offline; default: openai when a key is set, else offline"
    )
    imagebot_model: str = "gpt-image-2"
    imagebot_text_model: str = Field(
        DEFAULT_TEXT_MODEL, min_length=1, description="vision-capable text model for /describe"
    )
    imagebot_allowed_models: Annotated[list[str], NoDecode] = Field(default_factory=list)
    imagebot_default_n: int = Field(4, ge=1, le=10)
    imagebot_default_quality: Literal["low", "medium", "high", "xhigh", "max", "auto"] = "auto"
    imagebot_moderation: Literal["auto", "low"] = "auto"
    imagebot_partial_images: int = Field(2, ge=0, le=3)
    imagebot_openai_timeout: float = Field(300.0, gt=0)
    imagebot_openai_max_retries: int = Field(3, ge=0, le=10)

    # --- storage --------------------------------------------------------------------------------
    imagebot_data_dir: Path = Path("./data")

    # --- jobs and team limits -------------------------------------------------------------------
    imagebot_max_concurrency: int = Field(4, ge=1, le=1000)
    imagebot_user_max_running: int = Field(2, ge=1)
    imagebot_user_max_queued: int = Field(10, ge=0)
    imagebot_daily_image_quota: int = Field(200, ge=0, description="per user per day; 0 = unlimited")
    imagebot_monthly_budget_usd: float = Field(0.0, ge=0, description="per workspace; 0 = unlimited")
    imagebot_storage_patience_seconds: float = Field(
        60.0, ge=0, description="how long a failing storage write (full disk, locked database) is retried"
    )
    imagebot_provider_retry_seconds: float = Field(
        2.0, ge=0, description="wait before the one extra attempt after a transient provider error"
    )
    imagebot_person_monthly_budget_usd: float = Field(
        0.0, ge=0, description="per person in a workspace; 0 = unlimited"
    )
    # NoDecode: our validator parses the JSON, so a typo gets a one-line message, not a traceback.
    imagebot_prices: Annotated[dict[str, dict[str, float]], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES)
    )
    imagebot_channels: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="channel ids the bot answers in; empty = every channel"
    )
    imagebot_buttons: Literal["anyone", "requester"] = Field(
        "anyone", description="who may press the buttons under an image: anyone, or its requester and admins"
    )
    # What people who are not admins may use (admins may use everything allowed above).
    imagebot_member_models: Annotated[list[str], NoDecode] = Field(default_factory=list)
    imagebot_member_qualities: Annotated[list[str], NoDecode] = Field(default_factory=list)
    imagebot_member_max_pixels: int = Field(0, ge=0, description="0 = no limit")
    imagebot_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # --- Discord --------------------------------------------------------------------------------
    discord_token: SecretStr | None = None
    discord_guild_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    discord_message_content: bool = True
    discord_api_base_url: str | None = None

    # --- Slack ----------------------------------------------------------------------------------
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_http_port: int = Field(3000, ge=0, le=65535, description="0 = any free port (logged)")
    slack_api_url: str | None = None

    @field_validator(
        "imagebot_allowed_models",
        "imagebot_channels",
        "imagebot_member_models",
        "imagebot_member_qualities",
        "discord_guild_ids",
        mode="before",
    )
    @classmethod
    def _comma_list(cls, value: object) -> object:
        # Accept "a,b" as well as a JSON list, which is what people type into .env files.
        if isinstance(value, str) and not value.strip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("imagebot_prices", mode="before")
    @classmethod
    def _prices_json(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return dict(DEFAULT_PRICES)
            try:
                return json.loads(value)
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"not valid JSON ({error.msg} at character {error.pos}); expected e.g. "
                    '{"default": {"text_input": 5.0, "image_input": 8.0, "image_output": 30.0}}'
                ) from None
        return value

    @field_validator("imagebot_model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        if value in RETIRED:
            raise ValueError(RETIRED[value])
        if value not in MODELS:
            raise ValueError(f"unknown model {value!r}; known: {', '.join(sorted(MODELS))}")
        return value

    @field_validator("imagebot_allowed_models", "imagebot_member_models")
    @classmethod
    def _known_models(cls, values: list[str]) -> list[str]:
        for value in values:
            cls._known_model(value)
        return values

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.imagebot_provider == "openai" and self.openai_api_key is None:
            raise ValueError("IMAGEBOT_PROVIDER=openai needs OPENAI_API_KEY")
        if self.imagebot_allowed_models and self.imagebot_model not in self.imagebot_allowed_models:
            raise ValueError("IMAGEBOT_MODEL must be one of IMAGEBOT_ALLOWED_MODELS")
        return self

    # --- derived --------------------------------------------------------------------------------
    @property
    def provider_name(self) -> Literal["openai", "offline"]:
        if self.imagebot_provider:
            return self.imagebot_provider
        return "openai" if self.openai_api_key else "offline"

    @property
    def discord_configured(self) -> bool:
        return self.discord_token is not None

    @property
    def slack_configured(self) -> bool:
        return self.slack_bot_token is not None

    @property
    def database_path(self) -> Path:
        return self.imagebot_data_dir / "imagebot.sqlite3"

    @property
    def blobs_dir(self) -> Path:
        return self.imagebot_data_dir / "blobs"

    def price_for(self, model: str) -> dict[str, float]:
        return (
            self.imagebot_prices.get(model)
            or self.imagebot_prices.get("default")
            or DEFAULT_PRICES["default"]
        )
