"""Drafts left untouched get a gentle reminder, once per quiet period.

A gap in `drafting` is quiet when its latest activity (its latest draft, note or audit event, else when it was
flagged) is older than `settings.draft_reminder_hours`. Sending a reminder is recorded as an audit event
(`reminded`) that does not count as activity: the gap is not reminded again until something happens on it and it
goes quiet once more. Services only: the Slack job posts (`bot.jobs.reminder_job`) the view of
`bot.present.insights.reminder_view`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, func, select

from bot.domain import GapState
from bot.services import Services
from bot.services.conversation_scan import as_utc
from storage.models import AuditEvent, Draft, Gap, GapNote

log = logging.getLogger(__name__)

REMINDED = "reminded"
REMINDER_ACTOR = "scheduler"


@dataclass(frozen=True)
class Reminder:
    gap_id: int
    title: str | None
    owner: str | None  # the gap's owner, else whoever wrote the latest draft, else who flagged it
    thread_channel: str | None  # the gap's Slack thread (None: nowhere to post)
    thread_ts: str | None
    last_activity: dt.datetime
    draft_id: int | None  # the latest draft

    def quiet_hours(self, *, now: dt.datetime) -> int:
        """Whole hours since the gap's latest activity."""
        return int((as_utc(now) - self.last_activity).total_seconds() // 3600)


def _latest(column: Any, *where: ColumnElement[bool]) -> ScalarSelect[Any]:
    return select(func.max(column)).where(*where).correlate(Gap).scalar_subquery()


def due_reminders(services: Services, *, now: dt.datetime) -> list[Reminder]:
    """Drafting gaps quiet for `draft_reminder_hours` and not reminded since their latest activity, oldest first."""
    cutoff = as_utc(now) - dt.timedelta(hours=services.settings.draft_reminder_hours)
    gap_events = (AuditEvent.entity == "gap", AuditEvent.entity_id == Gap.id)
    query = select(
        Gap.id, Gap.title, Gap.owner, Gap.flagged_by, Gap.flagged_at, Gap.thread_channel, Gap.thread_ts,
        _latest(Draft.created_at, Draft.gap_id == Gap.id),
        _latest(GapNote.created_at, GapNote.gap_id == Gap.id),
        _latest(AuditEvent.at, *gap_events, AuditEvent.action != REMINDED),
        _latest(AuditEvent.at, *gap_events, AuditEvent.action == REMINDED),
        _latest(Draft.id, Draft.gap_id == Gap.id),
    ).where(Gap.state == GapState.DRAFTING.value).order_by(Gap.id)
    due = []
    with services.session() as s:
        rows = s.execute(query).all()
        authors = dict(s.execute(select(Draft.id, Draft.created_by).where(
            Draft.id.in_([r[-1] for r in rows if r[-1] is not None]))).all()) if rows else {}
    for gid, title, owner, flagged_by, flagged_at, channel, ts, drafted, noted, acted, reminded, draft_id in rows:
        last = max(as_utc(t) for t in (flagged_at, drafted, noted, acted) if t is not None)
        if last > cutoff or (reminded is not None and as_utc(reminded) >= last):
            continue
        who = owner or authors.get(draft_id) or flagged_by
        due.append(Reminder(gid, title, who, channel, ts, last, draft_id))
    due.sort(key=lambda r: (r.last_activity, r.gap_id))
    return due


def record_reminder(services: Services, reminder: Reminder, *, now: dt.datetime, posted: bool = True) -> None:
    """The reminder of this quiet period is done (posted, or its thread is gone for good)."""
    with services.session() as s:
        s.add(AuditEvent(entity="gap", entity_id=reminder.gap_id, action=REMINDED, actor=REMINDER_ACTOR, at=now,
                         detail={"last_activity": reminder.last_activity.isoformat(), "posted": posted}))
    log.info("draft reminder recorded gap_id=%r posted=%r", reminder.gap_id, posted)
