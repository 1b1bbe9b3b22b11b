"""The insight services (topics, credit, recurrences) as the Slack edge needs them, as plain data: the top topics,
the weekly insights (credit, streak, topics) and each fixed gap's recurrence notice. `bot.present.insights` turns
them into view models; no Slack call and no view model here.

Topics are grouped lexically here (no embedder): App Home is rendered on every open and must not send every gap's
text to an embeddings API each time. `flywheel topics` can still use embeddings.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.domain import GapState
from bot.services import Services
from bot.services.conversation_scan import as_utc
from bot.services.credit import Credit, opt_out_ids, weekly_credit
from bot.services.recurrence import Recurrence
from bot.services.topics import Topic, rank_topics
from storage.models import AuditEvent, Gap

log = logging.getLogger(__name__)

TOPIC_DAYS = 28  # conversations of the last four weeks count towards a topic's impact
TOP_TOPICS = 3  # as many as the side panels show (bot.blocks.insights.TOP_TOPICS; a test keeps them equal)
T = TypeVar("T")


@dataclass(frozen=True)
class WeeklyInsights:
    credit: Credit | None  # None: it could not be computed (logged); the post goes out without it
    topics: tuple[Topic, ...]
    topic_days: int = TOPIC_DAYS


@dataclass(frozen=True)
class RecurrenceLine:
    conversation_ref: str
    day: dt.date  # when it was imported, in the team's timezone
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class RecurrenceNotice:
    """What to tell a fixed gap's thread: its new recurrences, oldest first."""

    gap_id: int
    gap_title: str | None
    channel: str
    thread_ts: str
    lines: tuple[RecurrenceLine, ...]
    fixed_by: str | None


# --- topics ----------------------------------------------------------------------------------------
def ranked_topics(services: Services, *, now: dt.datetime, limit: int | None = None,
                  days: int = TOPIC_DAYS) -> list[Topic]:
    """Open topics by impact over the last `days` (the first `limit`)."""
    return rank_topics(services, now=now, days=days)[:limit]


def top_topics(services: Services, *, now: dt.datetime) -> list[Topic]:
    """The top open topics for a side panel (App Home, the head of `/flywheel gaps open`): empty, and logged, if
    ranking fails, so the rest of the view still shows."""
    return _soft("top topics", lambda: ranked_topics(services, now=now, limit=TOP_TOPICS), [])


# --- the weekly post -------------------------------------------------------------------------------
def _soft(what: str, compute: Callable[[], T], default: T) -> T:
    """One insight that fails (logged with its traceback) must not hold back the rest of a post or view."""
    try:
        return compute()
    except Exception:  # noqa: BLE001 - the post goes out without this part
        log.exception("insight failed part=%s", what)
        return default


def weekly_insights(services: Services, *, now: dt.datetime, week_start: dt.date) -> WeeklyInsights:
    """Credit for the week starting `week_start` (a Monday in the team's timezone; opted-out people are not named),
    the streak as of `now` and the top open topics (recurrences are one of the stats' numbers)."""
    tz = ZoneInfo(services.settings.timezone)
    week_end = week_start + dt.timedelta(days=7)
    hidden = opt_out_ids(services.settings.credit_opt_out)
    credit = _soft("credit", lambda: weekly_credit(
        services, week_start=week_start, week_end=week_end, now=now, tz=tz, opt_out=hidden), None)
    return WeeklyInsights(credit=credit, topics=tuple(top_topics(services, now=now)))


# --- recurrences -----------------------------------------------------------------------------------
def fixers(services: Services, gap_ids: Iterable[int]) -> dict[int, str | None]:
    """Who fixed each gap: whoever published last (the version that was verified), else its owner."""
    ids = sorted(set(gap_ids))
    if not ids:
        return {}
    with services.session() as s:
        owners = dict(s.execute(select(Gap.id, Gap.owner).where(Gap.id.in_(ids))).all())
        last = (select(AuditEvent.entity_id, func.max(AuditEvent.id).label("id"))
                .where(AuditEvent.entity == "gap", AuditEvent.entity_id.in_(ids),
                       AuditEvent.to_state == GapState.PUBLISHED.value)
                .group_by(AuditEvent.entity_id).subquery())
        published = dict(s.execute(select(AuditEvent.entity_id, AuditEvent.actor)
                                   .join(last, last.c.id == AuditEvent.id)).all())
    return {g: published.get(g) or owners.get(g) for g in ids}


def recurrence_notices(services: Services, found: Sequence[Recurrence]) -> list[RecurrenceNotice]:
    """One notice per fixed gap that has a thread: its new recurrences, oldest first."""
    tz = ZoneInfo(services.settings.timezone)
    by_gap: dict[int, list[Recurrence]] = {}
    for r in found:
        if r.thread_channel and r.thread_ts:
            by_gap.setdefault(r.gap_id, []).append(r)
    who = fixers(services, by_gap)
    out = []
    for gap_id, rows in by_gap.items():
        rows.sort(key=lambda r: (as_utc(r.imported_at), r.conversation_id))
        lines = tuple(RecurrenceLine(r.conversation_ref, as_utc(r.imported_at).astimezone(tz).date(), tuple(r.reasons))
                      for r in rows)
        out.append(RecurrenceNotice(gap_id, rows[0].gap_title, rows[0].thread_channel or "", rows[0].thread_ts or "",
                                    lines, who.get(gap_id)))
    return out
