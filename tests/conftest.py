"""Shared fixtures. Database tests run on SQLite and on PostgreSQL: the PostgreSQL half needs
FLYWHEEL_TEST_POSTGRES_URL (`.ci/run` sets it) and is reported as skipped, with the reason, without it.
Each PostgreSQL test gets its own schema so runs never collide. Shared helpers are in `tests/support/`."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from bot.services import Services, build_services
from bot.settings import Settings
from storage.db import make_engine
from tests.support.fake_llm import FakeLLM

PG_URL = os.environ.get("FLYWHEEL_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgres"]
NO_POSTGRES = "PostgreSQL half: FLYWHEEL_TEST_POSTGRES_URL is not set"


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if NO_POSTGRES in str(r.longrepr)]
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} PostgreSQL tests skipped: set FLYWHEEL_TEST_POSTGRES_URL "
                                    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test) to run them")


@pytest.fixture(autouse=True)
def _no_usage_sinks() -> Iterator[None]:
    """The usage sinks are per process (installed by build_services); a test never inherits another's."""
    from bot.llm import remote

    yield
    for name in list(remote._sinks):
        remote.set_usage_sink(name, None)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's real keys or .env."""
    for name in list(os.environ):
        if name.startswith(("FLYWHEEL_", "SLACK_", "OPENAI_")) and name != "FLYWHEEL_TEST_POSTGRES_URL":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    # Scenarios that publish an untested draft predate "publish anyway"; tests/services/test_publishing*.py
    # and tests/integrations/test_publish_exactly_once.py turn the guard on. No real waiting between replays.
    monkeypatch.setenv("FLYWHEEL_PUBLISH_REQUIRES_TEST", "false")
    monkeypatch.setenv("FLYWHEEL_VERIFY_BACKOFF", "0")
    # slack_sdk and requests pick up HTTP(S)_PROXY from the environment; every mock is on localhost.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


def _pg_url(schema: str) -> str:
    """A URL whose connections see only this test's schema (libpq `options`), usable by subprocesses too."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def _drop_pg_schema(schema: str) -> None:
    """Drop a test's schema; a listener still finishing after its ack can deadlock the DROP once, so retry."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    for attempt in range(5):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            break
        except OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.5)
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url_engine(request: pytest.FixtureRequest, tmp_path):  # type: ignore[no-untyped-def]
    """(database_url, engine) on each backend, migrated by whoever uses it."""
    if request.param == "postgres" and not PG_URL:
        pytest.skip(NO_POSTGRES)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'flywheel.db'}"
        engine = make_engine(url)
        yield url, engine
        engine.dispose()
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        url = _pg_url(schema)
        engine = make_engine(url)
        yield url, engine
        engine.dispose()
        _drop_pg_schema(schema)


@pytest.fixture
def engine(db_url_engine):  # type: ignore[no-untyped-def]
    return db_url_engine[1]


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'flywheel.db'}",  # type: ignore[call-arg]
                    publish_requires_test=False, verify_backoff=0)


@pytest.fixture
def services(engine, settings) -> Iterator[Services]:  # type: ignore[no-untyped-def]
    """The services on each backend. The model is a `FakeLLM` over the offline provider: it answers like
    `OfflineLLM` until a test queues answers (see the `fake_llm` fixture)."""
    yield build_services(settings, engine=engine, llm=FakeLLM())


@pytest.fixture
def fake_llm(services: Services) -> FakeLLM:
    """The scripted model of `services` (its agent answers through it too): `fake_llm.enqueue("draft", …)`."""
    assert isinstance(services.llm, FakeLLM), "a fixture replaced the services' model"
    return services.llm
