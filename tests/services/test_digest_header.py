"""The digest header says plainly what happened since the last digest and what is waiting, zeros left out, and
shows no check mark when nothing happened; posted through the digest job."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from slack_sdk import WebClient
from sqlalchemy import update

import bot.jobs as jobs
from bot.domain import GapState
from bot.services import Services
from bot.services.authoring import write_draft
from bot.services.conversations import resolve
from bot.services.digest import Waiting, waiting
from bot.services.gaps import flag
from bot.settings import Settings
from bot.slack.client import make_web_client
from storage.models import Gap
from tests.support.clock import Clock
from tests.support.factories import conversation, load
from tests.support.harness import texts
from tests.support.mock_slack import MockSlack

REVIEW = "C0REVIEW"
THURSDAY = dt.datetime(2026, 11, 19, 10, 0, tzinfo=dt.UTC)
FRIDAY = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def slack() -> MockSlack:  # type: ignore[misc]
    with MockSlack() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, slack: MockSlack) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{tmp_path / 'flywheel.db'}", slack_api_url=slack.url,
        slack_bot_token="xoxb-test", review_channel=REVIEW, digest_size=3, draft_reminder_hours=48)


@pytest.fixture
def client(settings: Settings) -> WebClient:
    return make_web_client(settings)


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.slack.digest.PACE_SECONDS", 0.0)


def header(services: Services, client: WebClient, slack: MockSlack, now: dt.datetime) -> str:
    result = jobs.digest_job(services, client, now=now)
    assert result is not None and result.status == "posted"
    first = slack.calls_to("chat.postMessage")[0]
    return texts(first.blocks)


def gap_on(services: Services, cid: str, at: dt.datetime, *, draft: bool = False) -> int:
    services.clock = Clock(at)
    gap_id = flag(services, conversation_id=resolve(services, cid), user="U0ANA", on_match="new").gap_id
    assert gap_id is not None
    if draft:
        write_draft(services, gap_id=gap_id, user="U0ANA")
    return gap_id


def test_nothing_happened_says_so_without_a_check_mark(services: Services, client, slack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    load(services, tmp_path, [conversation(f"c{i}") for i in range(3)])
    text = header(services, client, slack, FRIDAY)
    assert "Nothing was flagged yesterday." in text and "Nothing is waiting for review." in text
    assert "0 " not in text.split("\n", 2)[2]  # no zero counts
    assert ":white_check_mark: if it looks good" in text and text.count(":white_check_mark:") == 1


def test_yesterday_and_what_is_waiting(services: Services, client, slack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    load(services, tmp_path, [conversation(f"g{i}", gap=True) for i in range(4)] + [conversation("ok")])
    gap_on(services, "g0", FRIDAY - dt.timedelta(days=5), draft=True)  # a draft nobody touched for days
    gap_on(services, "g1", THURSDAY, draft=True)  # flagged and drafted yesterday
    failed = gap_on(services, "g2", THURSDAY)
    gap_on(services, "g3", THURSDAY)
    with services.session() as s:
        s.execute(update(Gap).where(Gap.id == failed).values(state=GapState.FAILED.value))

    assert waiting(services, now=FRIDAY) == Waiting(drafts=2, stale_drafts=1, failed=1)
    text = header(services, client, slack, FRIDAY)
    assert "*Yesterday:* 3 flagged · 1 drafted." in text
    assert "*Waiting:* 2 drafts to review (1 untouched for 2 days) · 1 failed verdict to fix." in text
    assert "published" not in text and "verified" not in text  # zeros are left out
