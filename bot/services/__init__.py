"""Services: the loop's domain logic. They know nothing of Slack; the CLI and the bot both call them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.agents import Agent
from bot.integrations.agents import build_agent
from bot.integrations.settings import IntegrationSettings, load_integration_settings
from bot.kb import KnowledgeBase
from bot.kb.embeddings import reranker_for
from bot.llm import LLM, build_llm
from bot.publishers import BuiltinPublisher, Publisher
from bot.publishers.registry import build_publisher
from bot.redact import configure_redaction
from bot.services.permissions import TokenBucket
from bot.settings import Settings
from storage.db import make_engine, make_session_factory, migrate, session_scope


class WorkQueue(Protocol):
    """What services and handlers see of `bot/queue`: `enqueue` a named task with a JSON payload of ids."""

    distributed: bool  # jobs may run in other processes (PostgreSQL workers): fan out, gather results

    def enqueue(self, task: str, payload: dict[str, Any], *, key: str | None = None) -> None: ...

    def unfinished(self, task: str, *, batch: str | None = None) -> int: ...  # waiting or running (of one batch)

    def stats(self) -> tuple[int, float]: ...  # (jobs not finished, age in seconds of the oldest)

    def failed(self) -> int: ...  # jobs given up after their last attempt (kept, for a person to look at)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Services:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    kb: KnowledgeBase
    llm: LLM
    agent: Agent
    # The connector settings, read once by `build_services` (never again from the environment).
    integrations: IntegrationSettings
    clock: Callable[[], dt.datetime] = field(default=_utcnow)
    publisher: Publisher = field(default_factory=BuiltinPublisher)
    # Resolves FLYWHEEL_ADMIN_GROUP to member ids (set by the Slack layer; None elsewhere).
    group_resolver: Callable[[str], frozenset[str]] | None = None
    # Per-user model-call budgets (bot/services/permissions.py: `spend`), in this process's memory.
    model_calls: TokenBucket = field(default_factory=TokenBucket)
    # The durable work queue (`bot/queue`), set by serve/run/worker; None: slow work runs in the caller.
    queue: WorkQueue | None = None

    def session(self) -> AbstractContextManager[Session]:
        """One unit of work: `with services.session() as s: ...` commits or rolls back."""
        return session_scope(self.session_factory)


def build_services(
    settings: Settings,
    *,
    llm: LLM | None = None,
    agent: Agent | None = None,
    engine: Engine | None = None,
    run_migrations: bool = True,
    clock: Callable[[], dt.datetime] | None = None,
    publisher: Publisher | None = None,
    integrations: IntegrationSettings | None = None,
) -> Services:
    """Everything the edges need, built once. `integrations` (the connector settings, names included)
    defaults to the environment and `.env`, read here once with the connector names of `settings`."""
    integrations = integrations or load_integration_settings(settings)
    engine = engine or make_engine(settings.database_url)
    if run_migrations:
        migrate(engine)
    configure_redaction(settings)  # the redactor Slack excerpts and LLM prompts use (FLYWHEEL_REDACT_*)
    llm = llm or build_llm(settings)
    services = Services(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        kb=KnowledgeBase(engine),
        llm=llm,
        agent=agent or build_agent(integrations, llm),
        integrations=integrations,
        clock=clock or _utcnow,
        publisher=publisher or build_publisher(integrations),
    )
    from bot.services.costs import record_model_calls  # here: costs imports this module

    record_model_calls(services)  # every remote model call of this process becomes a `model_calls` row
    services.kb.backend.reranker = reranker_for(settings)  # FLYWHEEL_SEARCH_EMBEDDINGS, for the CLI too
    return services
