"""Publishing you can trust: the draft that was tested, exactly one article (also in the team's KB).

    1. one transaction: lock the gap, check its state, the draft the click named and its shadow test, insert a
       `PublishAttempt` (claimed) with a fresh idempotency key and move the gap to `publishing` (a second click
       finds the open attempt; a dismiss is refused by the state table);
    2. the publisher, with the key (Zendesk and Intercom look it up before creating; the webhook gets an
       `Idempotency-Key` header);
    3. one transaction: the article version, the external receipt, the attempt finished, the gap `published`;
    4. verification (`bot.services.verification`).
A crash between 2 and 3 leaves the attempt claimed: `resume_verifications` (at boot, and on a schedule) or the
next publish click completes it with the same key, so the external KB answers with the article it made.
The CLI and the Slack buttons both call `publish_or_verify`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.domain import PUBLISHABLE_GAP_STATES, AttemptState, GapState, ReplayKind, Verdict
from bot.errors import IllegalTransition, InvalidInput, PublishError
from bot.kb.sync import readable_slug
from bot.publishers import ArticleToPublish, public_text
from bot.services import Services
from bot.services.authoring import latest_draft, linked_refs
from bot.services.claims import NotClaimed, job_claim
from bot.services.conversation_scan import as_utc
from bot.services.gap_state import audit, check_state, ensure_can, get_gap, lock_gap, transition
from bot.services.help_centre import note_published_revision, rebased
from bot.services.permissions import Action, require
from bot.services.replay import ReplayOutcome
from bot.services.rollback import restore
from bot.services.verification import Verification, is_hidden, verify
from storage.models import Article, ArticleVersion, AuditEvent, Draft, Gap, PublishAttempt, ReplayRun

log = logging.getLogger(__name__)


class DraftChanged(IllegalTransition):
    """The draft the button named is not the latest one any more."""


@dataclass
class PublishOutcome:
    gap_id: int
    article_id: int
    article_version: int
    article_title: str
    outcome: ReplayOutcome | None  # None: no verdict yet (`pending` says why)
    state: str
    regressions: list[Any] = field(default_factory=list)  # list[RegressionResult]
    url: str | None = None  # the article in the team's KB, when a publisher returned one
    verified_instead: bool = False  # it was published already: only the verification ran again
    pending: str | None = None  # "published, verification pending": why, and what happens next
    after_fail: str | None = None  # a FAIL verdict: the article rolled back, or kept live with a warning
    draft_id: int | None = None


def check_publish(services: Services, *, gap_id: int, user: str) -> GapState:
    """What `publish_or_verify` checks first (who may publish, and the gap's state), for an edge that wants
    to refuse before showing any progress. Returns the gap's state."""
    require(services, user, Action.PUBLISH)
    with services.session() as session:
        return check_state(get_gap(session, gap_id),
                           (*PUBLISHABLE_GAP_STATES, GapState.PUBLISHING, GapState.PUBLISHED))


def publish_or_verify(services: Services, *, gap_id: int, user: str, draft_id: int | None = None,
                      anyway: str | None = None, job_token: str | None = None) -> PublishOutcome:
    """Publish the draft (`draft_id`: the one the button showed; None: the latest), the one call every edge
    makes. A gap already published (its verdict was lost or is pending) is verified again instead."""
    require(services, user, Action.PUBLISH)
    with services.session() as session:
        state = GapState(get_gap(session, gap_id).state)
    if state != GapState.PUBLISHED:
        return publish(services, gap_id=gap_id, user=user, draft_id=draft_id, anyway=anyway, job_token=job_token)
    done = verify(services, gap_id=gap_id, user=user)
    log.info("already published, verified instead gap_id=%r state=%r", gap_id, done.state)
    return _outcome(services, gap_id, done, verified_instead=True)


def publish(services: Services, *, gap_id: int, user: str, draft_id: int | None = None,
            anyway: str | None = None, job_token: str | None = None) -> PublishOutcome:
    """Claim, publish externally, record, verify (see the module's docstring). `job_token` names the queued job
    doing it: when that same job runs again (its worker died mid-publish), it resumes its attempt at once."""
    require(services, user, Action.PUBLISH)
    attempt_id = _claim(services, gap_id=gap_id, draft_id=draft_id, user=user, anyway=anyway, job_token=job_token)
    return complete(services, attempt_id=attempt_id, user=user)


def _shadow_verdict(session: Session, draft_id: int) -> str | None:
    """The draft's last shadow test: a person's verdict beats the judge's. None: never tested."""
    run = session.scalar(select(ReplayRun).where(ReplayRun.draft_id == draft_id,
                                                 ReplayRun.kind == ReplayKind.SHADOW.value)
                         .order_by(ReplayRun.id.desc()))
    return None if run is None else (run.human_verdict or run.verdict or Verdict.UNCLEAR.value)


def _claim(services: Services, *, gap_id: int, draft_id: int | None, user: str, anyway: str | None,
           job_token: str | None = None) -> int:
    now = services.clock()
    with services.session() as session:
        lock_gap(session, gap_id)  # a second click waits here, then finds the open attempt
        gap = get_gap(session, gap_id)
        open_ = session.scalar(select(PublishAttempt).where(PublishAttempt.gap_id == gap_id,
                                                            PublishAttempt.state == AttemptState.CLAIMED.value))
        if open_ is not None:
            age = (as_utc(now) - as_utc(open_.created_at)).total_seconds()
            own_retry = job_token is not None and open_.job_token == job_token  # the queue runs it again: resume
            if age < services.settings.publish_claim_timeout and not own_retry:
                raise IllegalTransition(f"Gap #{gap_id} is publishing: {open_.created_by} started it a moment ago; "
                                        "its verdict follows. Nothing was done twice.")
            open_.created_at = now  # cut short by a crash: this call resumes it with the same key
            log.info("resuming an unfinished publish gap_id=%r attempt_id=%r", gap_id, open_.id)
            return open_.id
        ensure_can(gap, GapState.PUBLISHING)
        draft = latest_draft(session, gap_id)
        if draft is None:
            raise InvalidInput(f"Gap #{gap_id} has no draft to publish: write one first.")
        if draft_id is not None and draft.id != draft_id:
            raise DraftChanged(f"The draft of gap #{gap_id} changed since this test (draft #{draft_id} is now "
                               f"#{draft.id}): test it again, then publish.")
        tested = _shadow_verdict(session, draft.id)
        reason = (anyway or "").strip() or None
        if services.settings.publish_requires_test and tested != Verdict.PASS.value and reason is None:
            why = "never ran" if tested is None else f"gave {tested.upper()}"
            raise InvalidInput(f"The shadow test of draft #{draft.id} {why}: test it first (`flywheel replay "
                               f"--gap {gap_id} --shadow`), or publish anyway with a reason "
                               f"(`flywheel publish {gap_id} --anyway \"why\"`).")
        seq = 1 + (session.scalar(select(func.count(PublishAttempt.id)).where(
            PublishAttempt.gap_id == gap_id, PublishAttempt.draft_id == draft.id)) or 0)
        attempt = PublishAttempt(gap_id=gap_id, draft_id=draft.id, idempotency_key=f"g{gap_id}-d{draft.id}-{seq}",
                                 state=AttemptState.CLAIMED.value, publisher=services.publisher.name, reason=reason,
                                 created_by=user, created_at=now, job_token=job_token)
        session.add(attempt)
        session.flush()
        transition(session, gap, GapState.PUBLISHING, actor=user, action="publishing", now=now,
                   attempt_id=attempt.id, draft_id=draft.id, shadow_test=tested, anyway_reason=reason)
        return attempt.id


def _payload(services: Services, session: Session, attempt: PublishAttempt) -> tuple[ArticleToPublish, int | None]:
    gap = get_gap(session, attempt.gap_id)
    draft = session.get(Draft, attempt.draft_id) if attempt.draft_id else None
    if draft is None:
        raise InvalidInput(f"The draft of publish attempt #{attempt.id} is gone: write the draft again.")
    target_id = draft.target_article_id or gap.article_id
    target = session.get(Article, target_id) if target_id else None
    return ArticleToPublish(
        slug=target.slug if target else services.kb.free_slug(session, readable_slug(draft.title)), title=draft.title,
        body=public_text(draft.body), tags=tuple(draft.tags), external_id=target.external_id if target else None,
        locale=target.locale if target else None,
        gap_id=gap.id, author=attempt.created_by, version=(target.version + 1) if target else 1,
        source_conversations=tuple(linked_refs(session, gap)), idempotency_key=attempt.idempotency_key,
    ), target_id


def complete(services: Services, *, attempt_id: int, user: str | None) -> PublishOutcome:
    """Steps 2-4 for a claimed attempt (a new one, or one a crash left open)."""
    with services.session() as session:
        attempt = session.get(PublishAttempt, attempt_id)
        assert attempt is not None
        payload, target_id = _payload(services, session, attempt)
        gap_id, draft_id = attempt.gap_id, attempt.draft_id
    try:
        payload = rebased(services, payload, target_id, draft_id)  # the help centre's edits since: kept
        receipt = services.publisher.publish(payload)
    except PublishError:
        _release(services, attempt_id, user)
        raise
    now = services.clock()
    with services.session() as session:
        lock_gap(session, gap_id)
        gap = get_gap(session, gap_id)
        attempt = session.get(PublishAttempt, attempt_id)
        assert attempt is not None
        if attempt.state != AttemptState.CLAIMED.value:  # another instance resumed and finished it
            raise IllegalTransition(f"Gap #{gap_id} was published meanwhile (article #{attempt.article_id}).")
        article, _ = services.kb.save(session, title=payload.title, body=payload.body, tags=payload.tags,
                                      author=attempt.created_by, gap_id=gap_id, article_id=target_id,
                                      slug=payload.slug, now=now)
        restore(services, session, article)
        row = session.scalar(select(ArticleVersion).where(ArticleVersion.article_id == article.id,
                                                          ArticleVersion.version == article.version))
        if receipt.external_id or receipt.url:
            article.external_id, article.external_url = receipt.external_id, receipt.url
        if row is not None:
            row.external_id, row.external_url, row.publish_attempt_id = receipt.external_id, receipt.url, attempt.id
        attempt.state = (AttemptState.DONE if receipt.visible else AttemptState.HIDDEN).value
        attempt.external_id, attempt.external_url = receipt.external_id, receipt.url
        attempt.article_id, attempt.version, attempt.finished_at = article.id, article.version, now
        gap.article_id, gap.published_at, gap.verify_attempts, gap.verify_after = article.id, now, 0, None
        transition(session, gap, GapState.PUBLISHED, actor=attempt.created_by, action="published", now=now,
                   article_id=article.id, version=article.version, draft_id=draft_id,
                   publisher=services.publisher.name, attempt_id=attempt.id, anyway_reason=attempt.reason)
        article_id = article.id
    note_published_revision(services, article_id)
    done = verify(services, gap_id=gap_id, user=user)
    from bot.services.regression import run_affected

    regressions = run_affected(services, article_id=article_id, exclude_gap=gap_id) if done.outcome else []
    out = _outcome(services, gap_id, done)
    out.regressions, out.draft_id = regressions, draft_id
    return out


def _release(services: Services, attempt_id: int, user: str | None) -> None:
    """The external KB refused: nothing recorded, the gap back where it was (publishing again is safe)."""
    now = services.clock()
    with services.session() as session:
        attempt = session.get(PublishAttempt, attempt_id)
        assert attempt is not None
        lock_gap(session, attempt.gap_id)
        gap = get_gap(session, attempt.gap_id)
        attempt.state, attempt.finished_at = AttemptState.FAILED.value, now
        if gap.state == GapState.PUBLISHING.value:
            before = session.scalar(select(AuditEvent.from_state).where(
                AuditEvent.entity == "gap", AuditEvent.entity_id == gap.id, AuditEvent.to_state == "publishing")
                .order_by(AuditEvent.id.desc()))
            back = GapState(before or GapState.DRAFTING.value)  # a release, not a move of the state table
            audit(session, gap, "publish-refused", actor=user, now=now, from_state=gap.state, to_state=back.value,
                  attempt_id=attempt_id)
            gap.state, gap.updated_at = back.value, now


def _outcome(services: Services, gap_id: int, done: Verification, *, verified_instead: bool = False
             ) -> PublishOutcome:
    with services.session() as session:
        gap = get_gap(session, gap_id)
        article = session.get(Article, gap.article_id) if gap.article_id else None
        article_id, version = (article.id, article.version) if article else (0, 0)
        title = article.title if article else (gap.title or "")
        url = article.external_url if article else None
    return PublishOutcome(gap_id, article_id, version, title, done.outcome, done.state, url=url,
                          verified_instead=verified_instead, pending=done.pending, after_fail=done.after_fail)


def resume_verifications(services: Services) -> list[int]:
    """At boot and on a schedule: publishes a crash left open are completed (looked up by their key), then
    every published gap whose verification is due is verified, each under a claim (two instances starting
    together verify it once). A gap that fails is logged and the next one goes on. Returns the gaps done."""
    now = services.clock()
    stale = now - dt.timedelta(seconds=services.settings.publish_claim_timeout)
    with services.session() as session:
        attempts = list(session.scalars(select(PublishAttempt.id).where(
            PublishAttempt.state == AttemptState.CLAIMED.value, PublishAttempt.created_at <= stale)))
        due = list(session.scalars(select(Gap).where(
            Gap.state == GapState.PUBLISHED.value, or_(Gap.verify_after.is_(None), Gap.verify_after <= now),
            Gap.verify_attempts < services.settings.verify_pending_limit).order_by(Gap.id)))
        gaps = [(g.id, f"{g.id}:{g.verify_attempts}:{as_utc(g.published_at or now):%Y%m%d%H%M%S}") for g in due
                if not is_hidden(session, g.id)]
    done: list[int] = []
    for attempt_id in attempts:
        _guard(lambda a=attempt_id: _resume_attempt(services, a), done, what="publish", ref=attempt_id)
    for gap_id, period in gaps:
        if gap_id not in done:
            _guard(lambda g=gap_id, p=period: _verify_claimed(services, g, p), done, what="verify", ref=gap_id)
    return done


def _guard(run: Any, done: list[int], *, what: str, ref: int) -> None:
    try:
        gap_id = run()
    except NotClaimed:
        return  # another instance has it
    except Exception:  # noqa: BLE001 - one gap that fails never blocks the next ones
        log.exception("resuming failed what=%s ref=%r", what, ref)
        return
    if gap_id is not None:
        done.append(gap_id)


def _resume_attempt(services: Services, attempt_id: int) -> int | None:
    with job_claim(services, job="publish-resume", period=str(attempt_id)):
        with services.session() as session:
            attempt = session.get(PublishAttempt, attempt_id)
            if attempt is None or attempt.state != AttemptState.CLAIMED.value:
                return None
            gap_id = attempt.gap_id
        log.info("resuming a publish cut short gap_id=%r attempt_id=%r", gap_id, attempt_id)
        complete(services, attempt_id=attempt_id, user=None)
        return gap_id


def _verify_claimed(services: Services, gap_id: int, period: str) -> int:
    with job_claim(services, job="verify", period=period[:64]):
        with services.session() as session:
            if get_gap(session, gap_id).state != GapState.PUBLISHED.value:
                return gap_id  # verified meanwhile
        verify(services, gap_id=gap_id, user=None)
        return gap_id
