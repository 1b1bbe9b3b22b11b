"""The insights in Slack, on the known world of `tests/support/world.py` (topics, fixes, recurrences, credit), its
people renamed to Slack user ids so credit and notices really mention them, and every gap given a thread in the
review channel of a running mock Slack Web API.

    world.gap["r1"]          # gap ids, as in tests/support/world.py
    threads[world.gap["p1"]] # (channel, thread_ts) of the gap's thread in the mock
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient
from sqlalchemy import update

from bot.app import create_app
from bot.services import Services
from bot.services.threads import attach_thread
from bot.settings import Settings
from bot.slack.client import make_web_client
from storage.models import AuditEvent, DigestItem, Draft, Gap, GapFlagger, GapNote
from tests.support.harness import SECRET, Harness
from tests.support.mock_slack import MockSlack
from tests.support.world import World, build_world

REVIEW, STATS = "C0REVIEW", "C0STATS"
ANN, BOB, CAT, DAN = "U0ANN", "U0BOB", "U0CAT", "U0DAN"
SLACK_IDS = {"ann": ANN, "bob": BOB, "cat": CAT, "dan": DAN}
OPTED_OUT = CAT  # FLYWHEEL_CREDIT_OPT_OUT: never named, still counted
USER_COLUMNS = (Gap.flagged_by, Gap.owner, GapFlagger.user_id, DigestItem.reviewed_by, Draft.created_by,
                AuditEvent.actor, GapNote.author)


@pytest.fixture
def slack() -> Iterator[MockSlack]:
    with MockSlack() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, slack: MockSlack) -> Settings:
    """Overrides the root `settings`: the `services` fixture is built from it (on each backend)."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{tmp_path / 'flywheel.db'}", slack_api_url=slack.url,
        slack_bot_token="xoxb-test", slack_signing_secret=SECRET, review_channel=REVIEW, stats_channel=STATS,
        credit_opt_out=f" {OPTED_OUT} ,", draft_reminder_hours=48,
    )


@pytest.fixture
def client(settings: Settings) -> WebClient:
    return make_web_client(settings)


@pytest.fixture
def world(services: Services, tmp_path: Path) -> World:
    w = build_world(services, tmp_path)
    with services.session() as s:
        for column in USER_COLUMNS:
            for name, slack_id in SLACK_IDS.items():
                s.execute(update(column.class_).where(column == name).values({column.key: slack_id}))
    return w


@pytest.fixture
def threads(world: World, slack: MockSlack) -> dict[int, tuple[str, str]]:
    """Every gap gets a thread: a digest-item-like parent message in the review channel."""
    out = {}
    for key, gap_id in world.gap.items():
        ts = slack.add_message(REVIEW, f"conversation {key}", user="U0BOTLIKE")
        attach_thread(world.services, gap_id=gap_id, channel=REVIEW, ts=ts)
        out[gap_id] = (REVIEW, ts)
    return out


@pytest.fixture
def harness(settings: Settings, services: Services, slack: MockSlack) -> Iterator[Harness]:
    h = Harness(create_app(settings, services, client=WebClient(base_url=slack.url, token="xoxb-test")), slack,
                services)
    yield h
    h.drain()  # no listener may outlive the test's database
