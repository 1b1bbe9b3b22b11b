"""Services: the loop's domain logic. They know nothing of Slack; the CLI and the bot both call them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.agents import Agent, build_agent
from bot.kb import KnowledgeBase
from bot.llm import LLM, build_llm
from bot.publishers import BuiltinPublisher, Publisher, build_publisher
from bot.settings import Settings
from storage.db import make_engine, make_session_factory, migrate, session_scope


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
    clock: Callable[[], dt.datetime] = field(default=_utcnow)
    publisher: Publisher = field(default_factory=BuiltinPublisher)
    # Resolves FLYWHEEL_ADMIN_GROUP to member ids (set by the Slack layer; None elsewhere).
    group_resolver: Callable[[str], frozenset[str]] | None = None

    def session(self):  # type: ignore[no-untyped-def]
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
) -> Services:
    engine = engine or make_engine(settings.database_url)
    if run_migrations:
        migrate(engine)
    llm = llm or build_llm(settings)
    return Services(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        kb=KnowledgeBase(engine),
        llm=llm,
        agent=agent or build_agent(settings, llm),
        clock=clock or _utcnow,
        publisher=publisher or build_publisher(settings),
    )
