"""Topics, credit, recurrences and draft reminders as the builders' view models (pure: no DB, no I/O)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from bot.blocks.models import (
    CreditView,
    PersonCredit,
    RecurrenceItem,
    RecurrenceNoticeView,
    ReminderView,
    TopicView,
    WeeklyInsightsView,
)
from bot.services.credit import Counts, Credit
from bot.services.loop_insights import RecurrenceNotice, WeeklyInsights
from bot.services.reminders import Reminder
from bot.services.topics import Topic


def topic_view(topic: Topic) -> TopicView:
    return TopicView(
        topic_id=topic.id, label=topic.label, open_gap_ids=tuple(topic.open_gap_ids), gap_count=len(topic.gap_ids),
        conversations=topic.conversations_touching, went_wrong=topic.went_wrong, escalated=topic.escalated,
        impact=topic.impact,
    )


def topic_views(topics: Iterable[Topic]) -> list[TopicView]:
    return [topic_view(t) for t in topics]


def _person(user: str, counts: Counts) -> PersonCredit:
    return PersonCredit(user, counts.reviewed, counts.flagged, counts.drafted, counts.fixed)


def credit_view(credit: Credit) -> CreditView:
    return CreditView(people=tuple(_person(p.user, p) for p in credit.people), team=_person("team", credit.team),
                      streak_days=credit.streak.days, streak_today_done=credit.streak.today_done)


def weekly_insights_view(insights: WeeklyInsights) -> WeeklyInsightsView:
    credit = credit_view(insights.credit) if insights.credit is not None else None
    return WeeklyInsightsView(credit=credit, topics=tuple(topic_views(insights.topics)),
                              topic_days=insights.topic_days)


def recurrence_notice_view(notice: RecurrenceNotice) -> RecurrenceNoticeView:
    items = tuple(RecurrenceItem(line.conversation_ref, line.day.isoformat(), line.reasons) for line in notice.lines)
    return RecurrenceNoticeView(gap_id=notice.gap_id, gap_title=notice.gap_title, items=items,
                                fixed_by=notice.fixed_by)


def reminder_view(reminder: Reminder, *, now: dt.datetime) -> ReminderView:
    return ReminderView(gap_id=reminder.gap_id, title=reminder.title, owner=reminder.owner,
                        quiet_hours=reminder.quiet_hours(now=now), draft_id=reminder.draft_id)
