"""Notices posted in a gap's thread by scheduled jobs: recurrences, regressions, reminders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RecurrenceItem:
    conversation_ref: str
    day: str  # "2026-11-18", when it was imported
    reasons: Sequence[str] = ()  # escalated, unresolved, low CSAT, agent said it did not know


@dataclass(frozen=True)
class RecurrenceNoticeView:
    """Posted in a fixed gap's thread: conversations on its topic still went wrong."""

    gap_id: int
    gap_title: str | None
    items: Sequence[RecurrenceItem]
    fixed_by: str | None = None  # who published the fix
    question: str | None = None  # the newest recurrence's broken turn: the customer's message,
    before: str | None = None  # the agent's answer when the fix was verified (its last passing replay),
    after: str | None = None  # and the agent's answer in the conversation that came back
    article_url: str | None = None  # the gap's article: "Open the article"
    draft_id: int | None = None  # the gap's latest draft: "Edit and retry"


@dataclass(frozen=True)
class RegressionNoticeView:
    """Posted in a verified gap's thread when the nightly regression replay no longer passes."""

    gap_id: int
    verdict: str | None  # the new verdict (fail | unclear | collateral), None when the judge gave none
    question: str | None = None  # the customer's message of the broken turn
    before: str | None = None  # the agent's answer when the case last passed
    after: str | None = None  # its answer now
    fixed_by: str | None = None  # who owns the fix (mentioned)
    changes: Sequence[str] = ()  # what changed since it last passed (KB revision, agent, model)
    article_title: str | None = None
    article_url: str | None = None  # "Open the article" (an http(s) link in the team's KB)
    draft_id: int | None = None  # the gap's latest draft: "Edit and retry"
    rollback_article_id: int | None = None  # the article changed since the last pass: "Roll back"
    rollback_from: int | None = None  # its current version
    rollback_title: str | None = None


@dataclass(frozen=True)
class ReminderView:
    """A gentle nudge in the thread of a draft nobody touched for a while."""

    gap_id: int
    title: str | None
    owner: str | None
    quiet_hours: int
    draft_id: int | None = None  # the latest draft: Test and Publish act on it
