"""The database locked or briefly gone: SQLite waits out another writer's lock (busy_timeout); on PostgreSQL a
pooled connection the server killed is replaced (`pool_pre_ping`). On both backends, while the database is
unreachable /healthz says 503 and an event arriving then is refused with 503 so Slack delivers it again, and
that redelivery is processed once when the database is back."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text

from bot.app import create_app
from bot.server import make_wsgi_app
from bot.services import Services, gaps
from bot.slack.client import make_web_client
from storage.models import Gap, ProcessedEvent
from tests.conftest import PG_URL
from tests.support.faults import database_outage
from tests.support.harness import ANA, Harness
from tests.support.reliability import count, deliveries, instance, reaction


def backend(db_url_engine: Any) -> str:
    return db_url_engine[1].dialect.name


def health(app: Any, services: Services) -> str:
    status: list[str] = []
    make_wsgi_app(app, services)({"PATH_INFO": "/healthz", "REQUEST_METHOD": "GET"}, lambda s, h: status.append(s))
    return status[0]


def test_sqlite_waits_for_another_writers_lock(harness, world, db_url_engine, tally) -> None:  # type: ignore[no-untyped-def]
    if backend(db_url_engine) != "sqlite":
        pytest.skip("SQLite's single-writer lock")
    path = make_url(db_url_engine[0]).database
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock…
    other.execute("UPDATE conversations SET risk_score = risk_score")
    threading.Timer(0.8, lambda: other.execute("COMMIT")).start()  # …for 0.8 s (busy_timeout is 30 s)
    tally.fault("sqlite write lock held")
    started = time.monotonic()
    assert harness.react("books", world["c1"], user=ANA).status == 200  # acked; its record waits, then wins
    waited = time.monotonic() - started
    harness.thread_with(world["c1"], "Suggested article")
    harness.drain()
    other.close()
    assert waited < 0.6  # the ack did not wait for the lock (bot/slack/dedupe.py)
    assert count(harness.services, Gap) == 1 and count(harness.services, ProcessedEvent) == 1


def test_a_connection_killed_by_postgres_is_replaced(services, world, db_url_engine, tally) -> None:  # type: ignore[no-untyped-def]
    if backend(db_url_engine) != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL")
    with services.engine.connect() as conn:  # the pool now holds this connection
        victim = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim}).scalar_one()
    admin.dispose()
    tally.fault("postgres connection terminated")
    result = gaps.flag(services, conversation_id=world["c1"].conversation_id, user=ANA)  # no error: pre-ping
    assert result.created
    with services.engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != victim


def test_the_database_unreachable_then_back(services, world, db_url_engine, slack, tally) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL behind a cut network link; SQLite whose disk went away (see `database_outage`)."""
    with database_outage(db_url_engine[0]) as outage, instance(outage.url, services.settings) as bot:
        app = create_app(bot.settings, bot, client=make_web_client(bot.settings))
        harness = Harness(app, slack, bot)
        try:
            assert health(app, bot).startswith("200")
            first, retry = deliveries(reaction(world["c1"], user=ANA), retries=1)

            outage.cut(bot.engine)
            tally.fault(f"{backend(db_url_engine)} unreachable")
            assert health(app, bot).startswith("503")
            assert harness.dispatch(first).status == 503  # not recorded: Slack will deliver it again

            outage.restore()
            assert count(services, ProcessedEvent) == 0 and count(services, Gap) == 0
            assert health(app, bot).startswith("200")
            assert harness.dispatch(retry).status == 200
            tally.replayed(1)
            harness.thread_with(world["c1"], "Suggested article")
        finally:
            harness.drain()
    assert tally.expect("gaps", expected=1, got=count(services, Gap)) == 1
    assert count(services, ProcessedEvent) == 1
