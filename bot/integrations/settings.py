"""Settings of the connectors (agent, publishers, sources, HTTP ingest); every one is in docs/INTEGRATIONS.md.

Read from the environment or `.env` like `bot.settings.Settings` (prefix `FLYWHEEL_`), once, by
`build_services`, and carried on `Services.integrations`; secrets are `SecretStr`, so they never show up
in a repr, a log line or an error message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from bot.settings import Settings


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


def split_ids(value: str) -> frozenset[str]:
    """ "123, 456" -> {"123", "456"} (ids are compared as strings, whatever the vendor's JSON type)."""
    return frozenset(part.strip() for part in value.split(",") if part.strip())


class IntegrationSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FLYWHEEL_", env_file=".env", extra="ignore", populate_by_name=True
    )

    agent: str = Field("builtin", description="builtin, http, openai, python, or a flywheel.agents entry point")
    publisher: str = Field("builtin", description="builtin, markdown, webhook, zendesk, intercom, or an entry point")

    # Every HTTP connector: bounded retries for 429 (Retry-After), 5xx and timeouts.
    http_max_retries: int = Field(3, ge=0, le=10)
    http_max_wait: float = Field(30.0, gt=0, le=600, description="longest single wait (Retry-After or backoff), s")
    http_backoff: float = Field(0.5, ge=0, le=60, description="first backoff in seconds, doubled each retry")

    # HTTP agent
    agent_url: str | None = None
    agent_token: SecretStr | None = None
    agent_auth_header: str = "Authorization"  # "Authorization" sends "Bearer <token>"; any other sends the token
    agent_timeout: float = Field(30.0, gt=0)
    agent_concurrency: int = Field(4, ge=1, le=64)

    # OpenAI-compatible agent (falls back to the platform's OPENAI_* variables)
    agent_base_url: str = Field("https://api.openai.com/v1",
                                validation_alias=_alias("FLYWHEEL_AGENT_BASE_URL", "OPENAI_BASE_URL"))
    agent_api_key: SecretStr | None = Field(
        None, validation_alias=_alias("FLYWHEEL_AGENT_API_KEY", "OPENAI_API_KEY"))
    agent_model: str = Field("gpt-4o-mini",
                             validation_alias=_alias("FLYWHEEL_AGENT_MODEL", "OPENAI_MODEL"))
    agent_system_prompt: str | None = None
    agent_system_prompt_file: Path | None = None
    agent_top_k: int = Field(3, ge=1, le=20)

    # In-process Python agent
    agent_callable: str | None = Field(None, description="module:function, or a flywheel.agents entry point name")

    # Markdown folder publisher
    markdown_dir: Path | None = None
    markdown_base_url: str | None = None
    markdown_git_commit: bool = True

    # Signed webhook publisher
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_timeout: float = Field(15.0, gt=0)

    # Zendesk (Help Center publisher and ticket source)
    zendesk_subdomain: str | None = None
    zendesk_url: str | None = None  # overrides https://<subdomain>.zendesk.com (proxies, tests)
    zendesk_email: str | None = None
    zendesk_token: SecretStr | None = None
    zendesk_timeout: float = Field(30.0, gt=0)
    zendesk_locale: str = "en-us"
    zendesk_section_id: int | None = None
    zendesk_permission_group_id: int | None = None
    zendesk_user_segment_id: int | None = None  # None: visible to everyone
    zendesk_bot_author_ids: str = ""  # comma-separated user ids whose comments are the AI agent's
    zendesk_bot_via: str = ""  # comma-separated comment `via.channel` values that are the AI agent's
    zendesk_statuses: str = "solved,closed"  # tickets pulled only once they reach one of these

    # Intercom (articles publisher and conversation source)
    intercom_token: SecretStr | None = None
    intercom_url: str = "https://api.intercom.io"  # https://api.eu.intercom.io, https://api.au.intercom.io
    intercom_version: str = "2.11"
    intercom_timeout: float = Field(30.0, gt=0)
    intercom_author_id: int | None = None  # the admin shown as the author of published articles
    intercom_parent_id: int | None = None  # the collection articles go to
    intercom_article_state: Literal["published", "draft"] = "published"
    intercom_bot_author_ids: str = ""  # admin ids whose replies are the AI agent's (bots always are)
    intercom_states: str = "closed"  # conversations pulled only once they reach one of these

    # Conversation sources
    source_backfill_days: int = Field(30, ge=0, le=3650, description="how far back the first pull starts")
    source_page_size: int = Field(100, ge=1, le=1000)
    pull_schedule: str = Field("", description="cron expression of the scheduled pulls (5 fields); empty: off")
    pull_sources: str = ""  # comma-separated sources the schedule pulls; empty: every one with credentials
    pull_tags: str = ""  # keep only conversations with at least one of these tags (comma-separated)
    pull_brand: str = ""  # Zendesk: keep only tickets of these brand ids (comma-separated)
    pull_ai_only: bool = False  # keep only conversations the AI agent took part in (an `agent` message)

    # Authenticated HTTP ingest
    ingest_token: SecretStr | None = None
    ingest_max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    ingest_source: str = "ingest"

    @field_validator("pull_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if value.strip():
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(value.strip())
            except ValueError:
                raise ValueError("FLYWHEEL_PULL_SCHEDULE must be a cron expression of 5 fields (minute hour "
                                 "day month weekday), e.g. '0 * * * *' for every hour") from None
        return value.strip()

    def require(self, *names: str, connector: str) -> None:
        """A clear ConfigError naming every missing variable, before any request is sent."""
        missing = [n for n in names if getattr(self, n) in (None, "")]
        if missing:
            env = ", ".join(f"FLYWHEEL_{n.upper()}" for n in missing)
            raise ConfigError(f"The {connector} connector needs {env}. See docs/INTEGRATIONS.md.")

    def zendesk_base(self) -> str:
        if self.zendesk_url:
            return self.zendesk_url.rstrip("/")
        self.require("zendesk_subdomain", connector="Zendesk")
        return f"https://{self.zendesk_subdomain}.zendesk.com"


def load_integration_settings(settings: Settings) -> IntegrationSettings:
    """Read the connector settings from the environment and `.env`, once, at the edge (`build_services`),
    with the connector names of the main settings (`FLYWHEEL_AGENT`, `FLYWHEEL_PUBLISHER`) so the two
    can't disagree. Everything else takes them from `Services.integrations`; tests build an
    `IntegrationSettings(...)` and pass it to `build_services(integrations=...)`."""
    return IntegrationSettings(agent=settings.agent, publisher=settings.publisher)  # type: ignore[call-arg]  # rest from env
