"""The core loop on a real database: flag → outline → draft → shadow test → publish → verdict → regression."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.domain import GapState, Verdict
from bot.errors import IllegalTransition, InvalidInput, NotFound
from bot.services.authoring import shadow_test, suggest_outline, write_draft
from bot.services.conversations import resolve
from bot.services.gaps import add_note, dismiss, flag, reopen, unflag
from bot.services.publishing import publish, resume_verifications
from bot.services.regression import run_regressions
from storage.models import Article, AuditEvent, Gap, GapFlagger, RegressionCase, ReplayRun
from tests.support.factories import REFUND_FACT, conversation, load, seed_kb


@pytest.fixture
def loop(services, tmp_path):  # type: ignore[no-untyped-def]
    late = "How long does a refund to my card take after a return?"
    load(services, tmp_path, [conversation("c1", gap=True), conversation("c2"),
                              conversation("c3", gap=True, question=late)])
    seed_kb(services)
    return services


def test_full_loop_passes_after_publishing(loop) -> None:
    cid = resolve(loop, "c1")
    result = flag(loop, conversation_id=cid, user="U1")
    assert result.created and result.gap_id
    gap_id = result.gap_id
    outline = suggest_outline(loop, gap_id=gap_id, user="U1")
    assert REFUND_FACT in outline.required_facts  # the human handover answer is the evidence
    add_note(loop, gap_id=gap_id, author="U2", text="Store credit refunds are instant.")
    draft = write_draft(loop, gap_id=gap_id, user="U1")
    assert REFUND_FACT in draft.body and "Store credit refunds are instant." in draft.body

    shadow = shadow_test(loop, gap_id=gap_id, user="U1")
    assert shadow.verdict == Verdict.PASS
    with loop.session() as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 2  # nothing published by the shadow test
        assert s.get(Gap, gap_id).state == GapState.DRAFTING

    out = publish(loop, gap_id=gap_id, user="U1")
    assert out.outcome.verdict == Verdict.PASS and out.state == GapState.VERIFIED
    assert "don't have information" in (out.outcome.before or "")
    assert "5 business days" in (out.outcome.after or "")
    with loop.session() as s:
        gap = s.get(Gap, gap_id)
        assert gap.article_id == out.article_id and gap.verified_at is not None
        assert s.scalar(select(RegressionCase).where(RegressionCase.gap_id == gap_id)) is not None
        actions = list(s.scalars(select(AuditEvent.action)
                                 .where(AuditEvent.entity_id == gap_id).order_by(AuditEvent.id)))
        assert actions[:1] == ["flagged"] and "published" in actions and actions[-1] == "verified"
        assert s.scalar(select(func.count()).select_from(ReplayRun).where(ReplayRun.gap_id == gap_id)) == 2

    results = run_regressions(loop)
    assert [r.verdict for r in results] == ["pass"] and not any(r.broke for r in results)


def test_before_publishing_the_replay_fails(loop) -> None:
    from bot.services.replay import replay

    gap_id = flag(loop, conversation_id=resolve(loop, "c1"), user="U1").gap_id
    suggest_outline(loop, gap_id=gap_id, user="U1")
    with loop.session() as s:
        facts = s.scalars(select(Gap).where(Gap.id == gap_id)).one()
    out = replay(loop, conversation_id=resolve(loop, "c1"), flagged_position=3, required_facts=[REFUND_FACT])
    assert out.verdict == Verdict.FAIL and facts.state == GapState.OPEN


def test_co_flag_and_matching_gap_offer(loop) -> None:
    first = flag(loop, conversation_id=resolve(loop, "c1"), user="U1")
    again = flag(loop, conversation_id=resolve(loop, "c1"), user="U2")
    assert again.gap_id == first.gap_id and again.joined and not again.created
    same_user = flag(loop, conversation_id=resolve(loop, "c1"), user="U2")
    assert same_user.gap_id == first.gap_id and not same_user.joined
    suggest_outline(loop, gap_id=first.gap_id, user="U1")
    offer = flag(loop, conversation_id=resolve(loop, "c3"), user="U3")  # the same question, worded differently
    assert offer.gap_id is None and [m.gap_id for m in offer.matches] == [first.gap_id]
    joined = flag(loop, conversation_id=resolve(loop, "c3"), user="U3", on_match=first.gap_id)
    assert joined.gap_id == first.gap_id and joined.joined
    with loop.session() as s:
        assert s.scalar(select(func.count()).select_from(Gap)) == 1
        assert len(s.get(Gap, first.gap_id).links) == 2
        assert s.scalar(select(func.count()).select_from(GapFlagger)) == 3


def test_unflag_before_drafting_dismisses_but_not_after(loop) -> None:
    gap_id = flag(loop, conversation_id=resolve(loop, "c1"), user="U1").gap_id
    assert unflag(loop, gap_id=gap_id, user="U1") == GapState.DISMISSED
    reopen(loop, gap_id=gap_id, user="U1")
    write_draft(loop, gap_id=gap_id, user="U1")
    assert unflag(loop, gap_id=gap_id, user="U1") == GapState.DRAFTING


def test_illegal_transitions_are_refused_with_a_clear_message(loop) -> None:
    gap_id = flag(loop, conversation_id=resolve(loop, "c1"), user="U1").gap_id
    write_draft(loop, gap_id=gap_id, user="U1")
    dismiss(loop, gap_id=gap_id, user="U1", reason="duplicate")
    with pytest.raises(IllegalTransition, match="dismissed; it cannot move to publishing"):
        publish(loop, gap_id=gap_id, user="U1")
    with loop.session() as s:
        assert s.scalar(select(func.count()).select_from(Article)) == 2  # nothing written
    with pytest.raises(IllegalTransition):
        dismiss(loop, gap_id=gap_id, user="U1")


def test_unknown_ids_and_missing_draft(loop) -> None:
    with pytest.raises(NotFound, match="No gap #999"):
        publish(loop, gap_id=999, user="U1")
    with pytest.raises(NotFound):
        resolve(loop, "nope")
    gap_id = flag(loop, conversation_id=resolve(loop, "c1"), user="U1").gap_id
    with pytest.raises(InvalidInput, match="no draft"):
        publish(loop, gap_id=gap_id, user="U1")
    with pytest.raises(InvalidInput, match="not an agent answer"):
        flag(loop, conversation_id=resolve(loop, "c2"), user="U1", position=0)


def test_failed_verdict_then_edit_and_retry(loop) -> None:
    from bot.services.authoring import edit_draft

    gap_id = flag(loop, conversation_id=resolve(loop, "c1"), user="U1").gap_id
    suggest_outline(loop, gap_id=gap_id, user="U1")
    edit_draft(loop, gap_id=gap_id, title="Returns", body="Returns are accepted within 30 days.", user="U1")
    out = publish(loop, gap_id=gap_id, user="U1")
    assert out.outcome.verdict == Verdict.FAIL and out.state == GapState.FAILED
    edit_draft(loop, gap_id=gap_id, title="Refunds to credit cards", body=REFUND_FACT, user="U1")
    again = publish(loop, gap_id=gap_id, user="U1")
    assert again.state == GapState.VERIFIED and again.article_version == 2  # same article, new version


def test_regression_that_breaks_reopens_the_gap(loop) -> None:
    gap_id = flag(loop, conversation_id=resolve(loop, "c1"), user="U1").gap_id
    write_draft(loop, gap_id=gap_id, user="U1")
    out = publish(loop, gap_id=gap_id, user="U1")
    with loop.session() as s:  # someone rewrites the article and drops the fact
        loop.kb.save(s, article_id=out.article_id, title="Refunds", body="Contact us about refunds.", author="U9")
    results = run_regressions(loop)
    assert results[0].broke and results[0].fixed_by == "U1"
    with loop.session() as s:
        assert s.get(Gap, gap_id).state == GapState.FAILED


def test_crash_between_publish_and_verdict_is_resumed(loop, monkeypatch) -> None:
    import bot.services.verification as verification

    gap_id = flag(loop, conversation_id=resolve(loop, "c1"), user="U1").gap_id
    write_draft(loop, gap_id=gap_id, user="U1")

    def crash(*_a, **_k):  # type: ignore[no-untyped-def]
        raise RuntimeError("process died")

    monkeypatch.setattr(verification, "replay", crash)
    with pytest.raises(RuntimeError):
        publish(loop, gap_id=gap_id, user="U1")
    with loop.session() as s:
        assert s.get(Gap, gap_id).state == GapState.PUBLISHED  # article and state were committed together
    monkeypatch.undo()
    assert resume_verifications(loop) == [gap_id]
    with loop.session() as s:
        assert s.get(Gap, gap_id).state == GapState.VERIFIED


def test_only_admins_may_publish_or_dismiss_when_configured(loop) -> None:
    from bot.errors import NotAllowed

    loop.settings.admins = "UADMIN"
    gap_id = flag(loop, conversation_id=resolve(loop, "c1"), user="U1").gap_id  # anyone can flag
    write_draft(loop, gap_id=gap_id, user="U1")  # and draft
    with pytest.raises(NotAllowed, match="Only Flywheel admins may publish"):
        publish(loop, gap_id=gap_id, user="U1")
    with pytest.raises(NotAllowed):
        dismiss(loop, gap_id=gap_id, user="U1")
    with loop.session() as s:
        assert s.get(Gap, gap_id).state == GapState.DRAFTING
        assert s.scalar(select(func.count()).select_from(Article)) == 2
    loop.group_resolver = lambda group: frozenset({"U1"})
    loop.settings.admin_group = "S1"
    assert publish(loop, gap_id=gap_id, user="U1").state == GapState.VERIFIED  # a member of the admin group


def test_a_later_co_flag_keeps_the_items_first_review(loop) -> None:
    """A co-flag weeks later joins the gap but never moves the digest item's review: the week it was reviewed in
    (and the gap rate of that week's random share) stays as it was."""
    import datetime as dt

    from storage.models import Digest, DigestItem

    first_at = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)
    with loop.session() as s:
        digest = Digest(day=first_at.date(), channel="C0REVIEW")
        s.add(digest)
        s.flush()
        s.add(DigestItem(digest_id=digest.id, conversation_id=resolve(loop, "c1"), position=0, pick="random"))
    loop.clock = lambda: first_at
    first = flag(loop, conversation_id=resolve(loop, "c1"), user="U1")
    loop.clock = lambda: first_at + dt.timedelta(days=9)
    again = flag(loop, conversation_id=resolve(loop, "c1"), user="U2")
    assert again.gap_id == first.gap_id and again.joined
    with loop.session() as s:
        item = s.scalar(select(DigestItem))
        assert item is not None and (item.review_status, item.reviewed_by) == ("flagged", "U1")
        reviewed = item.reviewed_at if item.reviewed_at.tzinfo else item.reviewed_at.replace(tzinfo=dt.UTC)
        assert reviewed == first_at
