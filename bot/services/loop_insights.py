"""The insight services (topics, credit, recurrences) as the Slack edge shows them: plain view models of
`bot.blocks.models`, like `bot.services.threads` does for gap lists. Services in, view models out; no Slack call.

Topics are grouped lexically here (no embedder): App Home is rendered on every open and must not send every gap's
text to an embeddings API each time. `flywheel topics` can still use embeddings.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.blocks.insights import TOP_TOPICS
from bot.blocks.models import (
    CreditView,
    PersonCredit,
    RecurrenceItem,
    RecurrenceNoticeView,
    TopicView,
    WeeklyInsightsView,
)
from bot.domain import GapState
from bot.services import Services
from bot.services.conversation_scan import as_utc
from bot.services.credit import Credit, Counts, opt_out_ids, weekly_credit
from bot.services.recurrence import Recurrence
from bot.services.topics import Topic, rank_topics
from storage.models import AuditEvent, Gap

log = logging.getLogger(__name__)

TOPIC_DAYS = 28  # conversations of the last four weeks count towards a topic's impact
TOP = TOP_TOPICS
T = TypeVar("T")


# --- topics ----------------------------------------------------------------------------------------
def topic_view(topic: Topic) -> TopicView:
    return TopicView(
        topic_id=topic.id, label=topic.label, open_gap_ids=tuple(topic.open_gap_ids), gap_count=len(topic.gap_ids),
        conversations=topic.conversations_touching, went_wrong=topic.went_wrong, escalated=topic.escalated,
        impact=topic.impact,
    )


def ranked_topics(services: Services, *, now: dt.datetime, limit: int | None = None,
                  days: int = TOPIC_DAYS) -> list[TopicView]:
    """Open topics by impact over the last `days` (the first `limit`)."""
    ranked = rank_topics(services, now=now, days=days)
    return [topic_view(t) for t in ranked[:limit]]


def top_topics(services: Services, *, now: dt.datetime) -> list[TopicView]:
    """The top open topics for a side panel (App Home, the head of `/flywheel gaps open`): empty, and logged, if
    ranking fails, so the rest of the view still shows."""
    return _soft("top topics", lambda: ranked_topics(services, now=now, limit=TOP), [])


# --- the weekly post -------------------------------------------------------------------------------
def _person(user: str, counts: Counts) -> PersonCredit:
    return PersonCredit(user, counts.reviewed, counts.flagged, counts.drafted, counts.fixed)


def credit_view(credit: Credit) -> CreditView:
    return CreditView(people=tuple(_person(p.user, p) for p in credit.people), team=_person("team", credit.team),
                      streak_days=credit.streak.days, streak_today_done=credit.streak.today_done)


def _soft(what: str, compute: Callable[[], T], default: T) -> T:
    """One insight that fails (logged with its traceback) must not hold back the rest of a post or view."""
    try:
        return compute()
    except Exception:  # noqa: BLE001 - the post goes out without this part
        log.exception("insight failed part=%s", what)
        return default


def weekly_insights(services: Services, *, now: dt.datetime, week_start: dt.date) -> WeeklyInsightsView:
    """Credit for the week starting `week_start` (a Monday in the team's timezone; opted-out people are not named),
    the streak as of `now` and the top open topics (recurrences are one of the stats' numbers)."""
    tz = ZoneInfo(services.settings.timezone)
    week_end = week_start + dt.timedelta(days=7)
    hidden = opt_out_ids(services.settings.credit_opt_out)
    credit = _soft("credit", lambda: credit_view(weekly_credit(
        services, week_start=week_start, week_end=week_end, now=now, tz=tz, opt_out=hidden)), None)
    return WeeklyInsightsView(credit=credit, topics=tuple(top_topics(services, now=now)), topic_days=TOPIC_DAYS)


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


def recurrence_notices(
    services: Services, found: Sequence[Recurrence],
) -> list[tuple[str, str, RecurrenceNoticeView]]:
    """(channel, thread_ts, notice) per fixed gap that has a thread: its new recurrences, oldest first."""
    tz = ZoneInfo(services.settings.timezone)
    by_gap: dict[int, list[Recurrence]] = {}
    for r in found:
        if r.thread_channel and r.thread_ts:
            by_gap.setdefault(r.gap_id, []).append(r)
    who = fixers(services, by_gap)
    out = []
    for gap_id, rows in by_gap.items():
        rows.sort(key=lambda r: (as_utc(r.imported_at), r.conversation_id))
        items = tuple(RecurrenceItem(r.conversation_ref, as_utc(r.imported_at).astimezone(tz).date().isoformat(),
                                     tuple(r.reasons)) for r in rows)
        view = RecurrenceNoticeView(gap_id=gap_id, gap_title=rows[0].gap_title, items=items, fixed_by=who.get(gap_id))
        out.append((rows[0].thread_channel or "", rows[0].thread_ts or "", view))
    return out
