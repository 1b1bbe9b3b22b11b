"""The gap state table, enforced by the services: every (from, to) pair of states, driven through the service
call that asks for `to`. A pair in `GAP_TRANSITIONS` must move the gap (and leave an audit row from → to); any
other pair must be refused with IllegalTransition and change nothing."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from sqlalchemy import select

from bot.domain import ACTIVE_GAP_STATES, GAP_TRANSITIONS, PUBLISHABLE_GAP_STATES, GapState, Verdict
from bot.errors import IllegalTransition, LLMError, NotFound
from bot.llm.base import Judgement, JudgeRequest
from bot.services import Services
from bot.services.authoring import edit_draft, publish, publish_or_verify, suggest_outline, verify
from bot.services.conversations import resolve
from bot.services.gaps import dismiss, flag, reopen, require_active, require_state
from bot.services.regression import run_regressions
from storage.models import AuditEvent, Gap
from tests.support.factories import conversation, load, seed_kb
from tests.support.fake_llm import FakeLLM

S = GapState
USER = "U1"


class ScriptedJudge(FakeLLM):
    """Offline for everything but the judge, whose verdict the test sets (None: the model fails)."""

    verdict: Verdict | None = Verdict.PASS

    def judge(self, request: JudgeRequest) -> Judgement:
        if self.verdict is None:
            raise LLMError("The model timed out; nothing was changed.")
        return Judgement(verdict=self.verdict, reasons=["scripted"], confidence=0.9)


@pytest.fixture
def svc(services: Services, tmp_path) -> Services:  # type: ignore[no-untyped-def]
    load(services, tmp_path, [conversation("c1", gap=True)])
    seed_kb(services)
    services.llm = ScriptedJudge()
    return services


def judge(services: Services, verdict: Verdict | None) -> None:
    services.llm.verdict = verdict  # type: ignore[attr-defined]


def gap_in(services: Services, state: GapState) -> int:
    """A gap in `state`, reached through the services only (every one has a draft, so it could be published)."""
    gap_id = flag(services, conversation_id=resolve(services, "c1"), user=USER).gap_id
    assert gap_id is not None
    edit_draft(services, gap_id=gap_id, title="Refunds", body="Refunds to a card take 5 business days.", user=USER)
    if state == S.OPEN:
        reopen(services, gap_id=gap_id, user=USER)  # drafting → open, keeping its draft
    elif state == S.DISMISSED:
        dismiss(services, gap_id=gap_id, user=USER)
    elif state in (S.PUBLISHED, S.VERIFIED, S.FAILED):
        judge(services, {S.PUBLISHED: None, S.VERIFIED: Verdict.PASS, S.FAILED: Verdict.FAIL}[state])
        try:
            publish(services, gap_id=gap_id, user=USER)
        except LLMError:
            assert state == S.PUBLISHED  # published, its verdict lost with the model
    assert current(services, gap_id) == state
    return gap_id


def current(services: Services, gap_id: int) -> GapState:
    with services.session() as s:
        return GapState(s.get(Gap, gap_id).state)


def moves(services: Services, gap_id: int) -> list[tuple[str | None, str | None]]:
    with services.session() as s:
        return [tuple(r) for r in s.execute(select(AuditEvent.from_state, AuditEvent.to_state).where(
            AuditEvent.entity == "gap", AuditEvent.entity_id == gap_id, AuditEvent.from_state.is_not(None),
        ).order_by(AuditEvent.id)).all()]


def _verify(verdict: Verdict) -> Callable[[Services, int], object]:
    def call(services: Services, gap_id: int) -> object:
        judge(services, verdict)
        return verify(services, gap_id=gap_id, user=USER)
    return call


def _regress(services: Services, gap_id: int) -> object:
    judge(services, Verdict.FAIL)  # the fix stopped working: the suite moves its gap verified → failed
    return run_regressions(services)


def _publish(services: Services, gap_id: int) -> object:
    judge(services, Verdict.PASS)
    return publish(services, gap_id=gap_id, user=USER)


# The service calls that ask for each state: every edge (CLI, Slack) goes through these.
WAYS: dict[GapState, list[Callable[[Services, int], object]]] = {
    S.OPEN: [lambda svc, g: reopen(svc, gap_id=g, user=USER)],
    S.DRAFTING: [lambda svc, g: edit_draft(svc, gap_id=g, title="Refunds v2", body="5 business days.", user=USER)],
    S.PUBLISHED: [_publish],
    S.VERIFIED: [_verify(Verdict.PASS)],
    S.FAILED: [_verify(Verdict.FAIL), _regress],
    S.DISMISSED: [lambda svc, g: dismiss(svc, gap_id=g, user=USER)],
}
PAIRS = list(itertools.product(GapState, GapState))


def test_every_pair_is_covered() -> None:
    assert set(WAYS) == set(GapState) and len(PAIRS) == 36
    assert all(frm not in GAP_TRANSITIONS[frm] for frm in GapState)  # staying put is never a transition


@pytest.mark.parametrize(("frm", "to"), PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS])
def test_the_services_follow_the_state_table(svc: Services, frm: GapState, to: GapState) -> None:
    gap_id = gap_in(svc, frm)
    before = moves(svc, gap_id)
    allowed = to in GAP_TRANSITIONS[frm]
    moved = False
    for way in WAYS[to]:
        try:
            way(svc, gap_id)
        except IllegalTransition as exc:
            assert f"Gap #{gap_id} is {frm.value}" in exc.message  # user-safe, says why
            assert current(svc, gap_id) == frm and moves(svc, gap_id) == before  # refused: nothing changed
            continue
        new = moves(svc, gap_id)[len(before):]
        if (frm.value, to.value) in new:
            moved = True
            break
        # Not refused and not moved: only a non-transition is allowed (a new draft of a draft, a regression
        # suite that has no case for this gap); the gap must not have moved anywhere.
        assert new == [] and current(svc, gap_id) == frm, (frm, to, new)
        assert (frm, to) == (S.DRAFTING, S.DRAFTING) or way is _regress
    assert moved == allowed, f"{frm.value} → {to.value} should be {'allowed' if allowed else 'refused'}"
    if allowed and to != S.PUBLISHED:  # publishing goes on to its verdict
        assert current(svc, gap_id) == to


def test_publishable_states_come_from_the_table() -> None:
    assert set(PUBLISHABLE_GAP_STATES) == {s for s in GapState if S.PUBLISHED in GAP_TRANSITIONS[s]}
    assert set(PUBLISHABLE_GAP_STATES) == set(ACTIVE_GAP_STATES) == {S.OPEN, S.DRAFTING, S.FAILED}


@pytest.mark.parametrize("state", list(GapState))
def test_require_active_is_the_one_state_guard(svc: Services, state: GapState) -> None:
    gap_id = gap_in(svc, state)
    if state in ACTIVE_GAP_STATES:
        assert require_active(svc, gap_id) == state
        return
    with pytest.raises(IllegalTransition) as refused:
        require_active(svc, gap_id)
    assert refused.value.message.startswith(f"Gap #{gap_id} is {state.value}: this button is out of date")
    assert ("`flywheel gaps reopen`" in refused.value.message) == (state == S.DISMISSED)
    with pytest.raises(IllegalTransition, match="outlines are for open gaps"):
        suggest_outline(svc, gap_id=gap_id, user=USER)  # the model is not even asked
    with pytest.raises(NotFound):
        require_state(svc, gap_id + 100, GapState)


@pytest.mark.parametrize("state", list(GapState))
def test_publish_or_verify_by_state(svc: Services, state: GapState) -> None:
    gap_id = gap_in(svc, state)
    judge(svc, Verdict.PASS)
    if state in (S.VERIFIED, S.DISMISSED):
        with pytest.raises(IllegalTransition, match=f"is {state.value}; it cannot move to published"):
            publish_or_verify(svc, gap_id=gap_id, user=USER)
        assert current(svc, gap_id) == state
        return
    before = moves(svc, gap_id)
    out = publish_or_verify(svc, gap_id=gap_id, user=USER)
    assert out.state == S.VERIFIED and current(svc, gap_id) == S.VERIFIED
    published = [m for m in moves(svc, gap_id)[len(before):] if m[1] == S.PUBLISHED.value]
    assert out.verified_instead == (state == S.PUBLISHED) and out.article_id
    assert len(published) == (0 if out.verified_instead else 1)  # an already published gap is not published again
    with svc.session() as s:
        assert s.get(Gap, gap_id).article_id == out.article_id and out.article_version >= 1


def test_the_table_closes_what_must_stay_closed() -> None:
    for frm, to in [(S.VERIFIED, S.DISMISSED), (S.VERIFIED, S.DRAFTING), (S.PUBLISHED, S.DISMISSED),
                    (S.PUBLISHED, S.DRAFTING), (S.DISMISSED, S.PUBLISHED), (S.DISMISSED, S.DRAFTING)]:
        assert to not in GAP_TRANSITIONS[frm], f"{frm.value} → {to.value}"
