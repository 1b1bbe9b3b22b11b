"""Publishing you can trust, through the services and `flywheel publish`: the draft that was tested or a refusal,
"publish anyway" with a reason, a FAIL verdict rolled back (or kept with a warning), a verification the agent
could not run left pending and finished by itself, and boot verification that goes past a failing gap and
verifies each gap once across instances."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import bot.services.verification as verification
from bot.cli import app
from bot.domain import Verdict
from bot.errors import AgentError, IllegalTransition, InvalidInput
from bot.llm.base import Judgement, JudgeRequest
from bot.publishers import public_text
from bot.services import Services, authoring, gaps, publishing
from bot.services.conversations import resolve
from bot.services.publishing import DraftChanged
from storage.models import Article, ArticleVersion, AuditEvent, Draft, Gap, PublishAttempt, ReplayRun
from tests.support.factories import conversation, load, seed_kb
from tests.support.fake_llm import FakeLLM
from tests.support.reliability import at_once, count, instance

USER = "UANA"


class Judge(FakeLLM):
    verdict: Verdict = Verdict.PASS

    def judge(self, request: JudgeRequest) -> Judgement:
        return Judgement(verdict=self.verdict, reasons=["scripted"], confidence=0.9)


class DownAgent:
    name = "down"

    def reply(self, *a, **k):
        raise AgentError("The agent did not answer (connection refused).")


@pytest.fixture
def svc(services: Services, tmp_path: Path) -> Services:
    load(services, tmp_path, [conversation("c1", gap=True),
                              conversation("c3", gap=True, question="Can I get my refund on a gift card?")])
    seed_kb(services)
    services.settings = services.settings.model_copy(update={"publish_requires_test": True})
    return services


def drafted(services: Services, conv: str = "c1") -> int:
    gap_id = gaps.flag(services, conversation_id=resolve(services, conv), user=USER, on_match="new").gap_id
    assert gap_id is not None
    authoring.write_draft(services, gap_id=gap_id, user=USER)
    return gap_id


def gap_state(services: Services, gap_id: int) -> str:
    with services.session() as s:
        return str(s.scalar(select(Gap.state).where(Gap.id == gap_id)))


def test_the_button_publishes_the_draft_it_names_or_refuses(svc) -> None:
    gap_id = drafted(svc)
    assert authoring.shadow_test(svc, gap_id=gap_id, user=USER).passed
    with svc.session() as s:
        tested = authoring.latest_draft(s, gap_id).id
    articles = count(svc, Article)
    edited = authoring.edit_draft(svc, gap_id=gap_id, title="Refunds", body="Refunds take 90 days.", user="UBOB")
    with pytest.raises(DraftChanged, match="changed since this test .*: test it again"):
        publishing.publish_or_verify(svc, gap_id=gap_id, user=USER, draft_id=tested)
    assert gap_state(svc, gap_id) == "drafting" and count(svc, Article) == articles
    assert count(svc, PublishAttempt) == 0  # refused before anything was claimed
    with pytest.raises(InvalidInput, match=f"shadow test of draft #{edited.id} never ran"):
        publishing.publish_or_verify(svc, gap_id=gap_id, user=USER, draft_id=edited.id)
    authoring.edit_draft(svc, gap_id=gap_id, title="Refunds", body=_body(svc, tested), user=USER)
    assert authoring.shadow_test(svc, gap_id=gap_id, user=USER).passed
    out = publishing.publish_or_verify(svc, gap_id=gap_id, user=USER)
    with svc.session() as s:
        # what was tested went live, without what is internal (the offline label, the conversation ids)
        assert s.get(Article, out.article_id).body == public_text(_body(svc, tested))


def _body(services: Services, draft_id: int) -> str:
    with services.session() as s:
        return s.get(Draft, draft_id).body


def test_publish_anyway_needs_a_reason_kept_in_the_audit_trail(db_url_engine, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url_engine[0])
    monkeypatch.setenv("FLYWHEEL_LLM_PROVIDER", "offline")
    monkeypatch.setenv("FLYWHEEL_PUBLISH_REQUIRES_TEST", "true")
    monkeypatch.setenv("COLUMNS", "200")
    data = tmp_path / "c.jsonl"
    data.write_text(json.dumps(conversation("c1", gap=True)) + "\n")
    runner = CliRunner()
    for args in (["import", str(data)], ["gaps", "flag", "c1", "--user", "U1"], ["draft", "1", "--user", "U1"]):
        assert runner.invoke(app, args).exit_code == 0
    refused = runner.invoke(app, ["publish", "1", "--user", "U1"])
    assert refused.exit_code != 0 and "never ran" in " ".join(str(refused.exception).split())
    done = runner.invoke(app, ["publish", "1", "--user", "U1", "--anyway", "the outage page must go up now"])
    assert done.exit_code == 0, done.output
    assert "Published article #" in done.output and "is now verified" in done.output
    from sqlalchemy import create_engine

    engine = create_engine(db_url_engine[0])
    with engine.connect() as c:
        assert c.scalar(select(PublishAttempt.reason)) == "the outage page must go up now"
        details = [d for d in c.scalars(select(AuditEvent.detail).where(AuditEvent.action == "publishing"))]
        assert details and details[0]["anyway_reason"] == "the outage page must go up now"
        assert details[0]["shadow_test"] is None  # it never ran: on the record
    engine.dispose()


@pytest.mark.parametrize("policy", ["rollback", "keep"])
def test_a_failed_verdict_rolls_the_update_back_or_keeps_it_with_a_warning(svc, policy) -> None:
    svc.settings = svc.settings.model_copy(update={"publish_requires_test": False, "publish_on_fail": policy})
    svc.llm = judge = Judge()
    first = publishing.publish(svc, gap_id=drafted(svc), user=USER)
    assert first.state == "verified" and first.article_version == 1
    second_gap = drafted(svc, "c3")
    with svc.session() as s:  # the second gap's draft updates the first article, with a new fact
        update = authoring.latest_draft(s, second_gap)
        update.target_article_id, update.body = first.article_id, update.body + "\n\nStore credit is instant."
    judge.verdict = Verdict.FAIL
    out = publishing.publish(svc, gap_id=second_gap, user=USER)
    assert out.state == "failed" and out.after_fail
    with svc.session() as s:
        article = s.get(Article, first.article_id)
        versions = list(s.scalars(select(ArticleVersion).where(ArticleVersion.article_id == article.id)
                                  .order_by(ArticleVersion.version)))
        v1_body = versions[0].body
        if policy == "rollback":
            assert "rolled back to version 1" in out.after_fail
            assert article.version == 3 and article.body == v1_body and versions[-1].reverted_from == 1
            assert s.scalar(select(AuditEvent.id).where(AuditEvent.action == "rolled-back")) is not None
        else:
            assert "stays live" in out.after_fail and article.version == 2 and article.body != v1_body


def test_a_new_article_whose_verdict_failed_is_taken_off_the_kb(svc) -> None:
    svc.settings = svc.settings.model_copy(update={"publish_requires_test": False})
    svc.llm = Judge()
    svc.llm.verdict = Verdict.FAIL  # type: ignore[attr-defined]
    out = publishing.publish(svc, gap_id=drafted(svc), user=USER)
    assert out.state == "failed" and out.after_fail and "taken off" in out.after_fail
    assert all(hit.article_id != out.article_id for hit in svc.kb.search(out.article_title, 10))


def test_an_agent_that_is_down_leaves_the_verification_pending_then_it_runs_by_itself(svc) -> None:
    svc.settings = svc.settings.model_copy(update={"publish_requires_test": False, "verify_backoff": 30.0})
    gap_id = drafted(svc)
    real_agent, svc.agent = svc.agent, DownAgent()  # type: ignore[assignment]
    out = publishing.publish_or_verify(svc, gap_id=gap_id, user=USER)
    assert out.outcome is None and out.state == "published" and out.article_id
    assert out.pending and out.pending.startswith("Published, verification pending: the agent failed")
    again = publishing.publish_or_verify(svc, gap_id=gap_id, user=USER)  # not refused: verified instead
    assert again.verified_instead and again.pending and count(svc, Article, Article.id == out.article_id) == 1
    svc.agent = real_agent
    assert publishing.resume_verifications(svc) == []  # not due yet (backoff)
    later = svc.clock() + dt.timedelta(hours=2)
    svc.clock = lambda: later
    assert publishing.resume_verifications(svc) == [gap_id] and gap_state(svc, gap_id) == "verified"


def test_boot_goes_past_a_failing_gap_and_two_instances_verify_each_gap_once(svc, db_url_engine,
                                                                               monkeypatch) -> None:
    svc.settings = svc.settings.model_copy(update={"publish_requires_test": False})
    real_agent, svc.agent = svc.agent, DownAgent()  # type: ignore[assignment]
    first, second = drafted(svc), drafted(svc, "c3")
    for gap_id in (first, second):
        assert publishing.publish(svc, gap_id=gap_id, user=USER).pending
    svc.agent = real_agent
    later = svc.clock() + dt.timedelta(hours=2)
    svc.clock = lambda: later
    real_replay = verification.replay
    with svc.session() as s:
        broken_conv = s.get(Gap, first).conversation_id

    def replay(services, *, conversation_id, **kw):
        if conversation_id == broken_conv:
            raise RuntimeError("a bug in this one gap")
        return real_replay(services, conversation_id=conversation_id, **kw)

    with monkeypatch.context() as m:
        m.setattr(verification, "replay", replay)
        assert publishing.resume_verifications(svc) == [second]  # the first one did not block it
    assert gap_state(svc, first) == "published" and gap_state(svc, second) == "verified"

    runs = count(svc, ReplayRun, ReplayRun.gap_id == first, ReplayRun.kind == "publish")
    with instance(db_url_engine[0], svc.settings) as other:
        other.clock = svc.clock
        results = at_once(lambda: publishing.resume_verifications(svc),
                          lambda: publishing.resume_verifications(other))
    assert sorted(sum(results, [])) == [first]  # one instance took it
    assert count(svc, ReplayRun, ReplayRun.gap_id == first, ReplayRun.kind == "publish") == runs + 1
    assert gap_state(svc, first) == "verified"


def test_a_refused_publish_releases_the_claim(svc) -> None:
    from bot.errors import PublishError

    class Refusing:
        name = "refusing"

        def publish(self, article):
            raise PublishError("The team's KB answered 422: the section is locked.")

    svc.settings = svc.settings.model_copy(update={"publish_requires_test": False})
    gap_id = drafted(svc)
    svc.publisher = Refusing()  # type: ignore[assignment]
    with pytest.raises(PublishError, match="section is locked"):
        publishing.publish(svc, gap_id=gap_id, user=USER)
    assert gap_state(svc, gap_id) == "drafting"  # back where it was: it can be dismissed or published again
    with svc.session() as s:
        assert s.scalar(select(PublishAttempt.state)) == "failed"
    gaps.dismiss(svc, gap_id=gap_id, user=USER, reason="dup")
    with pytest.raises(IllegalTransition):
        publishing.publish(svc, gap_id=gap_id, user=USER)
