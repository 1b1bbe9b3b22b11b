"""Crash safety of publishing: the article and the gap's state are one transaction; a crash between that
transaction and the verdict leaves `published`, and `flywheel serve`/`run` finish it at boot; two publish
clicks at once publish once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.domain import GapState
from bot.services import Services, authoring, gaps, publishing
from bot.services.conversations import resolve
from storage.models import Article, ArticleVersion, AuditEvent, Gap, RegressionCase, ReplayRun
from tests.support.factories import conversation, load, seed_kb
from tests.support.reliability import at_once, count


class Crash(BaseException):
    """The process dies here (not an Exception: nothing may catch and carry on)."""


@pytest.fixture
def drafted(services: Services, tmp_path) -> int:  # type: ignore[no-untyped-def]
    load(services, tmp_path, [conversation("c1", gap=True)])
    seed_kb(services)
    gap_id = gaps.flag(services, conversation_id=resolve(services, "c1"), user="UANA").gap_id
    authoring.write_draft(services, gap_id=gap_id, user="UANA")
    return gap_id


def state(services: Services, gap_id: int) -> str:
    with services.session() as s:
        return s.scalar(select(Gap.state).where(Gap.id == gap_id))


def test_a_crash_inside_the_publish_transaction_writes_nothing(services, drafted, monkeypatch, tally) -> None:  # type: ignore[no-untyped-def]
    real = publishing.transition

    def crash_on_publish(session, gap, to, **kw):  # type: ignore[no-untyped-def]
        if to == GapState.PUBLISHED:  # the article is already added to the session
            raise Crash
        return real(session, gap, to, **kw)

    articles, versions = count(services, Article), count(services, ArticleVersion)
    monkeypatch.setattr("bot.services.publishing.transition", crash_on_publish)
    with pytest.raises(Crash):
        publishing.publish(services, gap_id=drafted, user="UANA")
    tally.fault("crash inside the publish transaction")
    assert state(services, drafted) == "publishing"  # the claim stays: a resume completes it by its key
    assert tally.expect("articles", expected=articles, got=count(services, Article)) == articles
    assert count(services, ArticleVersion) == versions
    assert count(services, AuditEvent, AuditEvent.action == "published") == 0
    with services.session() as s:
        title = authoring.latest_draft(s, drafted).title
    assert all(hit.title != title for hit in services.kb.search(title, 5))  # not in the live KB either
    assert count(services, ReplayRun) == 0


def test_a_crash_before_the_verdict_is_finished_at_boot(services, drafted, db_url_engine, settings, monkeypatch,
                                                        tally) -> None:  # type: ignore[no-untyped-def]
    articles = count(services, Article)
    with monkeypatch.context() as m:
        m.setattr("bot.services.publishing.verify", lambda *a, **k: (_ for _ in ()).throw(Crash()))
        with pytest.raises(Crash):
            publishing.publish(services, gap_id=drafted, user="UANA")
    tally.fault("crash between publish and verdict")
    assert state(services, drafted) == "published" and count(services, Article) == articles + 1
    assert count(services, ReplayRun) == 0

    # Restart: `flywheel serve` resumes the verification in its boot thread.
    for name, value in {"DATABASE_URL": db_url_engine[0], "SLACK_BOT_TOKEN": "xoxb-test",
                        "SLACK_SIGNING_SECRET": "s3cret", "SLACK_API_URL": settings.slack_api_url,
                        "FLYWHEEL_LLM_PROVIDER": "offline"}.items():
        monkeypatch.setenv(name, value)

    class Stop:
        server_port = 0

        def __init__(self, *args: object) -> None:
            pass

        def serve_forever(self) -> None:
            raise KeyboardInterrupt

        def server_close(self) -> None:
            pass

    monkeypatch.setattr("bot.server.make_server", Stop)
    result = CliRunner().invoke(cli, ["serve", "--port", "0"])
    assert result.exit_code == 0, result.output
    for thread in threading.enumerate():
        if thread.name == "flywheel-catch-up":
            thread.join(30)
    assert state(services, drafted) == "verified"
    assert count(services, RegressionCase) == 1
    assert tally.expect("articles", expected=articles + 1, got=count(services, Article)) == articles + 1


def test_two_publishes_at_once_publish_once(services, drafted, db_url_engine, tally) -> None:  # type: ignore[no-untyped-def]
    from tests.support.reliability import instance

    articles, versions = count(services, Article), count(services, ArticleVersion)
    with instance(db_url_engine[0], services.settings) as other:
        outcomes = []
        for svc in (services, other):
            def run(svc=svc):  # type: ignore[no-untyped-def]
                try:
                    return publishing.publish(svc, gap_id=drafted, user="UANA")
                except Exception as exc:  # noqa: BLE001 - the loser is refused; that is the point
                    return exc
            outcomes.append(run)
        results = at_once(*outcomes)
    tally.fault("double publish click")
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    assert tally.expect("articles", expected=articles + 1, got=count(services, Article)) == articles + 1
    assert count(services, ArticleVersion) == versions + 1
    assert state(services, drafted) == "verified"
