"""Fixtures of the fault-injection suite: the real app (`create_app`) on each database backend, the mock
Slack Web API with its failure injection, and the session's tally (printed at the end; see summary.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import create_app
from bot.services import Services
from bot.services.threads import ItemInfo
from bot.settings import Settings
from bot.slack.client import make_web_client
from tests.conftest import PG_URL
from tests.reliability.summary import TALLY, Tally
from tests.support.factories import conversation, load, seed_kb
from tests.support.harness import REVIEW, SECRET, Harness, post_items
from tests.support.mock_slack import MockSlack
from tests.support.reliability import BOT_TOKEN


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if TALLY.checks or TALLY.total_faults:
        terminalreporter.write_line(TALLY.line())
        TALLY.write()


@pytest.fixture(autouse=True)
def _backend(request: pytest.FixtureRequest) -> None:
    callspec = getattr(request.node, "callspec", None)
    backend = callspec.params.get("db_url_engine") if callspec is not None else None
    if backend == "sqlite" or (backend == "postgres" and PG_URL):  # a skipped PostgreSQL half ran nothing
        TALLY.backends.add(backend)


@pytest.fixture
def tally() -> Tally:
    return TALLY


@pytest.fixture
def slack() -> Iterator[MockSlack]:
    with MockSlack() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, slack: MockSlack) -> Settings:  # overrides tests/conftest.py
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{tmp_path / 'flywheel.db'}", slack_signing_secret=SECRET,
        slack_bot_token=BOT_TOKEN, slack_api_url=slack.url, review_channel=REVIEW, digest_size=3,
    )


@pytest.fixture
def make_harness(settings: Settings, slack: MockSlack, services: Services) -> Iterator:  # type: ignore[type-arg]
    """Build one app per call (a second call is a second bot instance); all drained at the end, before the
    database goes (hence `services` among the arguments: it is torn down after this)."""
    made: list[Harness] = []

    def make(services: Services) -> Harness:
        h = Harness(create_app(services.settings, services, client=make_web_client(services.settings)), slack,
                    services)
        made.append(h)
        return h

    yield make
    for h in made:
        h.drain()  # no listener may outlive the test's database


@pytest.fixture
def harness(make_harness, services: Services) -> Harness:  # type: ignore[no-untyped-def]
    return make_harness(services)


@pytest.fixture
def world(services: Services, tmp_path: Path, slack: MockSlack) -> dict[str, ItemInfo]:
    """Two conversations with the same knowledge gap and one fine one, a small KB, and a digest whose items
    are real bot messages in the review channel."""
    load(services, tmp_path, [
        conversation("c1", gap=True),
        conversation("c2"),
        conversation("c3", gap=True, question="How long does a refund to my card take after a return?"),
    ])
    seed_kb(services)
    return post_items(services, slack, ["c1", "c2", "c3"])
