"""One typed Settings object, built once at the edge and passed down."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    # Platform variables keep their well-known names (no FLYWHEEL_ prefix).
    return AliasChoices(name)


class Settings(BaseSettings):
    """Every variable is documented in `.env.example`."""

    model_config = SettingsConfigDict(
        env_prefix="FLYWHEEL_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # Slack
    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str = Field(
        "https://slack.com/api/", validation_alias=_env("SLACK_API_URL")
    )

    # LLM
    openai_api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL"))
    openai_model: str = Field("gpt-4o-mini", validation_alias=_env("OPENAI_MODEL"))
    llm_provider: Literal["auto", "openai", "offline"] = "auto"
    llm_timeout: float = Field(30.0, gt=0, description="seconds per LLM call")
    llm_max_retries: int = Field(2, ge=0, le=10)

    # Integrations (connector settings: docs/INTEGRATIONS.md)
    agent: str = Field("builtin", description="builtin, http, openai, python, or a flywheel.agents entry point")
    publisher: str = Field(
        "builtin", description="builtin, markdown, webhook, zendesk, intercom, or a flywheel.publishers entry point"
    )

    # Storage
    database_url: str = Field("sqlite:///flywheel.db", validation_alias=_env("DATABASE_URL"))

    # The loop
    review_channel: str | None = None
    stats_channel: str | None = None
    flag_emoji: str = "books"
    ok_emoji: str = "white_check_mark"
    digest_size: int = Field(8, ge=1, le=45)
    random_share: float = Field(0.25, ge=0.0, le=1.0)
    digest_time: str = Field("09:00", pattern=r"^\d{2}:\d{2}$")
    timezone: str = "UTC"
    judge_runs: int = Field(1, ge=1, le=9)
    replay_concurrency: int = Field(4, ge=1, le=64)
    draft_reminder_hours: int = Field(48, ge=1, description="a draft left untouched this long gets a reminder")

    credit_opt_out: str = Field(
        "", description="comma-separated user ids never named in the weekly credit; their work still counts"
    )
    admins: str = Field(
        "", description="comma-separated Slack user ids (or CLI login names) allowed to publish, dismiss and "
        "change settings; empty = everyone"
    )
    admin_group: str | None = Field(None, description="a Slack user group id whose members are admins too")

    @property
    def admin_ids(self) -> frozenset[str]:
        return frozenset(a.strip() for a in self.admins.split(",") if a.strip())

    @cached_property
    def use_openai(self) -> bool:
        if self.llm_provider == "openai":
            return True
        if self.llm_provider == "offline":
            return False
        return self.openai_api_key is not None


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
