"""The digest as data: what to post, and where each post went.

No Slack here: `bot.slack.digest` posts, under a `bot.services.claims.job_claim` (exactly once per job and
period). This module makes the day's sample, lists the items not posted yet, stores `Digest.header_ts` and
`DigestItem.slack_ts` each in its own short transaction right after its post (renewing the claim's lease), and
counts yesterday's loop and what is waiting. Plain dataclasses out; `bot.present` turns them into views.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, ScalarSelect, func, select, update
from sqlalchemy.orm import Session, selectinload

from bot.domain import GapState
from bot.services import Services
from bot.services.claims import ClaimRun
from bot.services.conversation_scan import as_utc
from bot.services.digest_focus import focus_turn, source_url
from bot.services.reminders import REMINDED
from bot.services.sampling import create_sample, strongest_reason
from bot.settings import digest_weekdays
from storage.models import AuditEvent, Conversation, Digest, DigestItem, Draft, Gap, GapNote


@dataclass(frozen=True)
class LoopDay:
    """What the loop did since the previous digest day (yesterday, or e.g. Friday on a Monday)."""

    flagged: int = 0
    drafted: int = 0
    published: int = 0
    verified: int = 0
    failed: int = 0
    since: dt.date | None = None  # the first day counted (None: the day before)


@dataclass(frozen=True)
class Waiting:
    """What is waiting for the team now."""

    drafts: int = 0  # gaps with a draft to review (drafting)
    stale_drafts: int = 0  # of those, untouched for `draft_reminder_hours`
    failed: int = 0  # gaps whose replay verdict failed (edit and publish again)


@dataclass(frozen=True)
class DigestPlan:
    """The day's digest as stored: its sample, and the header's ts once the header was posted."""

    digest_id: int
    day: dt.date
    count: int  # conversations in the digest
    risk_count: int  # of those, picked by risk (the rest at random)
    header_ts: str | None


@dataclass(frozen=True)
class DigestItemData:
    """One conversation of a digest, with its review and, once flagged, its gap."""

    item_id: int
    conversation_id: int
    conversation_ref: str
    turns: tuple[tuple[str, str], ...]  # (role, text) of the whole conversation
    pick: str  # "risk" | "random"
    reasons: tuple[str, ...]
    review_status: str  # ReviewStatus
    position: int  # 1-based, in the digest
    reviewed_by: str | None
    gap_id: int | None = None  # its newest gap that was not dismissed
    gap_state: str | None = None
    source: str = ""  # where the conversation was imported from (zendesk, intercom, …)
    url: str | None = None  # its link in that source, from its metadata
    focus: int | None = None  # index in `turns` of the turn that most likely went wrong
    reason: str | None = None  # the strongest of `reasons` ("random share" for the random share)
    csat: float | None = None
    owner: str | None = None  # the gap's owner (Slack user id), once someone took it


def local_now(services: Services, now: dt.datetime) -> dt.datetime:
    aware = now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)
    return aware.astimezone(ZoneInfo(services.settings.timezone))


# --- the daily digest ---------------------------------------------------------------------------
def prepare_digest(services: Services, *, day: dt.date, channel: str) -> DigestPlan:
    """The digest of (day, channel): sampled once (a rerun gets the same rows), with its header's ts if posted."""
    digest_id, sample = create_sample(services, day=day, channel=channel)
    with services.session() as s:
        header_ts = s.scalar(select(Digest.header_ts).where(Digest.id == digest_id))
    return DigestPlan(digest_id, day, len(sample), sum(1 for i in sample if i.pick == "risk"), header_ts)


def item_data(item: DigestItem, gap: Gap | None = None) -> DigestItemData:
    """A digest item row (its conversation's messages loaded) as plain data."""
    conv, reasons = item.conversation, tuple(str(r) for r in item.reasons)
    messages = conv.messages
    return DigestItemData(
        item_id=item.id, conversation_id=item.conversation_id, conversation_ref=conv.external_id,
        turns=tuple((m.role, m.text) for m in messages), pick=item.pick, reasons=reasons,
        review_status=item.review_status, position=item.position + 1, reviewed_by=item.reviewed_by,
        gap_id=gap.id if gap is not None else None, gap_state=gap.state if gap is not None else None,
        source=conv.source, url=source_url(conv.meta or {}),
        focus=focus_turn([(m.role, m.text, m.meta or {}) for m in messages]),
        reason=strongest_reason(reasons, item.pick), csat=conv.csat,
        owner=gap.owner if gap is not None else None,
    )


def pending_items(services: Services, digest_id: int) -> list[DigestItemData]:
    """The digest's items not posted yet, in order, read in one short transaction."""
    with services.session() as s:
        rows = s.scalars(
            select(DigestItem)
            .where(DigestItem.digest_id == digest_id, DigestItem.slack_ts.is_(None))
            .options(selectinload(DigestItem.conversation).selectinload(Conversation.messages))
            .order_by(DigestItem.position)
        ).all()
        return [item_data(i) for i in rows]


def record_header(services: Services, run: ClaimRun, *, digest_id: int, ts: str) -> None:
    """The header was posted as `ts` (stored at once: a resumed run does not post it again)."""
    with services.session() as s:
        s.execute(update(Digest).where(Digest.id == digest_id).values(header_ts=ts))
        run.heartbeat(s)


def record_item(services: Services, run: ClaimRun, *, item_id: int, ts: str) -> None:
    """The item was posted as `ts` (its (channel, ts) now maps reactions to the conversation)."""
    with services.session() as s:
        s.execute(update(DigestItem).where(DigestItem.id == item_id).values(slack_ts=ts))
        run.heartbeat(s)


def mark_posted(services: Services, digest_id: int) -> Callable[[Session], None]:
    """For `run.on_finish`: the digest is complete (set with the claim's end, in its transaction)."""
    def action(session: Session) -> None:
        session.execute(update(Digest).where(Digest.id == digest_id).values(posted_at=services.clock()))
    return action


def is_digest_day(services: Services, day: dt.date) -> bool:
    """Whether the scheduler posts a digest on `day` (`FLYWHEEL_DIGEST_DAYS`)."""
    return day.weekday() in digest_weekdays(services.settings.digest_days)


def previous_digest_day(services: Services, day: dt.date) -> dt.date:
    """The latest digest day before `day` (the day before when every day is one, or none is)."""
    days = digest_weekdays(services.settings.digest_days)
    return next((day - dt.timedelta(days=n) for n in range(1, 8) if (day - dt.timedelta(days=n)).weekday() in days),
                day - dt.timedelta(days=1))


def loop_day(services: Services, *, day: dt.date) -> LoopDay:
    """What the loop did since the previous digest day, up to `day` (midnight to midnight in the configured
    timezone): yesterday, or Friday to Sunday in Monday's digest when the digest skips weekends."""
    tz = ZoneInfo(services.settings.timezone)
    since = previous_digest_day(services, day)
    start = dt.datetime.combine(since, dt.time(), tzinfo=tz).astimezone(dt.UTC)
    stop = dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)
    counted = (GapState.PUBLISHED.value, GapState.VERIFIED.value, GapState.FAILED.value)
    with services.session() as s:
        flagged = s.scalar(select(func.count()).select_from(Gap).where(Gap.flagged_at >= start, Gap.flagged_at < stop))
        drafted = s.scalar(select(func.count(func.distinct(Draft.gap_id)))
                           .where(Draft.created_at >= start, Draft.created_at < stop))
        moves = dict(s.execute(
            select(AuditEvent.to_state, func.count())
            .where(AuditEvent.entity == "gap", AuditEvent.to_state.in_(counted),
                   AuditEvent.at >= start, AuditEvent.at < stop)
            .group_by(AuditEvent.to_state)
        ).all())
    return LoopDay(flagged=flagged or 0, drafted=drafted or 0, published=moves.get("published", 0),
                   verified=moves.get("verified", 0), failed=moves.get("failed", 0), since=since)


def _latest(column: Any, *where: ColumnElement[bool]) -> ScalarSelect[Any]:
    return select(func.max(column)).where(*where).correlate(Gap).scalar_subquery()


def waiting(services: Services, *, now: dt.datetime) -> Waiting:
    """Drafts to review (and how many nobody touched for `draft_reminder_hours`) and failed verdicts, now."""
    cutoff = as_utc(now) - dt.timedelta(hours=services.settings.draft_reminder_hours)
    activity = (
        Gap.flagged_at,
        _latest(Draft.created_at, Draft.gap_id == Gap.id),
        _latest(GapNote.created_at, GapNote.gap_id == Gap.id),
        _latest(AuditEvent.at, AuditEvent.entity == "gap", AuditEvent.entity_id == Gap.id,
                AuditEvent.action != REMINDED),
    )
    with services.session() as s:
        drafting = s.execute(select(*activity).where(Gap.state == GapState.DRAFTING.value)).all()
        failed = s.scalar(select(func.count()).select_from(Gap).where(Gap.state == GapState.FAILED.value))
    stale = sum(1 for times in drafting if max(as_utc(t) for t in times if t is not None) <= cutoff)
    return Waiting(drafts=len(drafting), stale_drafts=stale, failed=failed or 0)
