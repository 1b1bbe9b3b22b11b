"""The gap state table, enforced by the services: every (from, to) pair of states, driven through the service
call that asks for `to`. A pair in `GAP_TRANSITIONS` must move the gap (and leave an audit row from → to); any
other pair must be refused with IllegalTransition and change nothing. Publishing passes through `publishing`
(the claim held while the team's KB is called): a publish's from → publishing → published counts as from →
published for the pair, and reaching `published` is allowed where `publishing` is."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from sqlalchemy import select

from bot.domain import ACTIVE_GAP_STATES, GAP_TRANSITIONS, PUBLISHABLE_GAP_STATES, GapState, Verdict
from bot.errors import IllegalTransition, LLMError, NotFound
from bot.llm.base import Judgement, JudgeRequest
from bot.services import Services
from bot.services.authoring import edit_draft, suggest_outline
from bot.services.conversations import resolve
from bot.services.gaps import dismiss, flag, reopen, require_active, require_state
from bot.services.publishing import complete, publish, publish_or_verify
from bot.services.regression import run_regressions
from bot.services.verdicts import override_verdict
from bot.services.verification import verify
from storage.models import AuditEvent, Gap, PublishAttempt, ReplayRun
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
    elif state == S.PUBLISHING:
        _start_publishing(services, gap_id)
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


class _Cut(BaseException):
    """The process dies while the team's KB is being called."""


class _CutPublisher:
    name = "cut"

    def publish(self, article: object) -> object:
        raise _Cut


def _start_publishing(services: Services, gap_id: int) -> object:
    """A publish cut short after its claim: the gap stays `publishing`."""
    judge(services, Verdict.PASS)
    real, services.publisher = services.publisher, _CutPublisher()  # type: ignore[assignment]
    try:
        return publish(services, gap_id=gap_id, user=USER)
    except _Cut:
        return None
    finally:
        services.publisher = real


def _resume(services: Services, gap_id: int) -> object:
    """The resume path (boot, schedule, or a later click): completes the open attempt, if there is one."""
    judge(services, Verdict.PASS)
    with services.session() as s:
        attempt = s.scalar(select(PublishAttempt.id).where(PublishAttempt.gap_id == gap_id,
                                                           PublishAttempt.state == "claimed"))
    return complete(services, attempt_id=attempt, user=USER) if attempt else None


def _collapse(new: list[tuple[str | None, str | None]], to: GapState) -> list[tuple[str | None, str | None]]:
    """from → publishing → x is one move from → x (unless `publishing` itself is asked for)."""
    if to == S.PUBLISHING:
        return new
    out: list[tuple[str | None, str | None]] = []
    for frm, dest in new:
        if out and out[-1][1] == S.PUBLISHING.value and frm == S.PUBLISHING.value:
            out[-1] = (out[-1][0], dest)
        else:
            out.append((frm, dest))
    return out


def _allowed(frm: GapState, to: GapState) -> bool:
    return to in GAP_TRANSITIONS[frm] or (to == S.PUBLISHED and S.PUBLISHING in GAP_TRANSITIONS[frm])


def _overrule(verdict: Verdict) -> Callable[[Services, int], object]:
    """A person gives `verdict` on the run that decided the gap (only a published gap has one)."""
    def call(services: Services, gap_id: int) -> object:
        with services.session() as s:
            run_id = s.scalar(select(ReplayRun.id).where(ReplayRun.gap_id == gap_id, ReplayRun.verdict.is_not(None),
                                                         ReplayRun.kind == "publish").order_by(ReplayRun.id.desc()))
        if run_id is None:
            return None
        return override_verdict(services, run_id=run_id, verdict=verdict, reason="the judge is wrong", user=USER)
    return call


_OVERRULE_PASS, _OVERRULE_FAIL = _overrule(Verdict.PASS), _overrule(Verdict.FAIL)


# The service calls that ask for each state: every edge (CLI, Slack) goes through these.
WAYS: dict[GapState, list[Callable[[Services, int], object]]] = {
    S.OPEN: [lambda svc, g: reopen(svc, gap_id=g, user=USER)],
    S.DRAFTING: [lambda svc, g: edit_draft(svc, gap_id=g, title="Refunds v2", body="5 business days.", user=USER)],
    S.PUBLISHING: [_start_publishing],
    S.PUBLISHED: [_publish, _resume],
    S.VERIFIED: [_verify(Verdict.PASS), _OVERRULE_PASS],
    S.FAILED: [_verify(Verdict.FAIL), _regress, _OVERRULE_FAIL],
    S.DISMISSED: [lambda svc, g: dismiss(svc, gap_id=g, user=USER)],
}
PAIRS = list(itertools.product(GapState, GapState))


def test_every_pair_is_covered() -> None:
    assert set(WAYS) == set(GapState) and len(PAIRS) == 49
    assert all(frm not in GAP_TRANSITIONS[frm] for frm in GapState)  # staying put is never a transition


@pytest.mark.parametrize(("frm", "to"), PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS])
def test_the_services_follow_the_state_table(svc: Services, frm: GapState, to: GapState) -> None:
    gap_id = gap_in(svc, frm)
    before = moves(svc, gap_id)
    allowed = _allowed(frm, to)
    moved = False
    for way in WAYS[to]:
        try:
            way(svc, gap_id)
        except IllegalTransition as exc:
            assert f"Gap #{gap_id} is {frm.value}" in exc.message  # user-safe, says why
            assert current(svc, gap_id) == frm and moves(svc, gap_id) == before  # refused: nothing changed
            continue
        new = _collapse(moves(svc, gap_id)[len(before):], to)
        if (frm.value, to.value) in new:
            moved = True
            break
        # Not refused and not moved: only a non-transition is allowed (a new draft of a draft, a regression
        # suite that has no case for this gap); the gap must not have moved anywhere.
        assert new == [] and current(svc, gap_id) == frm, (frm, to, new)
        assert (frm, to) == (S.DRAFTING, S.DRAFTING) or way in (_regress, _resume, _OVERRULE_PASS, _OVERRULE_FAIL)
    assert moved == allowed, f"{frm.value} → {to.value} should be {'allowed' if allowed else 'refused'}"
    if allowed and to not in (S.PUBLISHED, S.PUBLISHING):  # publishing goes on to its verdict
        assert current(svc, gap_id) == to


def test_publishable_states_come_from_the_table() -> None:
    assert set(PUBLISHABLE_GAP_STATES) == {s for s in GapState if S.PUBLISHING in GAP_TRANSITIONS[s]}
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
    if state == S.PUBLISHING:  # a publish in flight: a second one is refused, nothing done twice
        with pytest.raises(IllegalTransition, match="is publishing: .* Nothing was done twice"):
            publish_or_verify(svc, gap_id=gap_id, user=USER)
        assert current(svc, gap_id) == state
        return
    if state in (S.VERIFIED, S.DISMISSED):
        with pytest.raises(IllegalTransition, match=f"is {state.value}; it cannot move to publishing"):
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
