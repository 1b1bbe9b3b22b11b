"""Stats, App Home, topics and credit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class StatsNumbers:
    reviewed: int = 0
    flagged: int = 0
    looks_good: int = 0
    gaps_opened: int = 0
    drafts: int = 0
    published: int = 0
    verified: int = 0
    failed: int = 0
    open_backlog: int = 0
    recurrences: int = 0  # conversations that came back wrong after their gap was fixed
    dismissed: int = 0


@dataclass(frozen=True)
class CostView:
    """The period's remote model calls, tokens and estimated cost (FLYWHEEL_MODEL_PRICES), and the period before."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0  # priced models only
    unpriced_models: Sequence[str] = ()
    previous_calls: int | None = None
    previous_cost_usd: float | None = None


@dataclass(frozen=True)
class StatsView:
    period_label: str  # "Week 29 (14–20 Jul)"
    current: StatsNumbers
    previous: StatsNumbers | None = None  # for the trend arrows
    period: str = "week"  # week | month
    judge: str | None = None  # "Judge agrees with people on 4/5 reviewed verdicts (80%); self-agreement 93%…"
    headline: str | None = None  # the estimated gap rate against the period before, in words (plain text)
    cost: CostView | None = None


@dataclass(frozen=True)
class GapSummary:
    gap_id: int
    title: str
    state: str  # GapState
    kind: str = "missing"
    conversation_ref: str = ""
    flagged_by: str | None = None
    owner: str | None = None
    age_days: int = 0
    permalink: str | None = None  # the gap's thread
    flaggers: int = 1


@dataclass(frozen=True)
class DigestSummary:
    day: str
    count: int
    reviewed: int = 0
    flagged: int = 0
    permalink: str | None = None


@dataclass(frozen=True)
class HomeView:
    user_id: str
    my_gaps: Sequence[GapSummary] = ()  # open gaps I flagged or own
    my_drafts: Sequence[GapSummary] = ()  # gaps in drafting that I own
    backlog: Sequence[GapSummary] = ()  # the team's open gaps, oldest first
    backlog_total: int = 0
    week: StatsNumbers | None = None
    week_before: StatsNumbers | None = None  # last week, for the arrows
    last_digest: DigestSummary | None = None
    review_channel: str | None = None  # channel id
    topics: Sequence[TopicView] = ()  # "where to spend the next 30 minutes": the top open topics
    topic_days: int = 28  # the window the topics' conversations were counted over


@dataclass(frozen=True)
class TopicView:
    """An open topic (gaps about the same thing), ranked by impact."""

    topic_id: int
    label: str  # its most shared terms, e.g. "refund, credit card, return"
    open_gap_ids: Sequence[int] = ()  # open, drafting or failed
    gap_count: int = 0  # all its gaps, fixed ones included
    conversations: int = 0  # recent conversations about it
    went_wrong: int = 0  # of those: escalated, unresolved or low CSAT
    escalated: int = 0
    impact: int = 0
    gap_links: Sequence[tuple[int, str]] = ()  # (open gap id, permalink of its thread) where one is known


@dataclass(frozen=True)
class PersonCredit:
    user: str  # Slack user id (a CLI login name is shown, never pinged)
    reviewed: int = 0
    flagged: int = 0
    drafted: int = 0
    fixed: int = 0


@dataclass(frozen=True)
class CreditView:
    people: Sequence[PersonCredit] = ()  # most credit first; opted-out people are not here
    team: PersonCredit = PersonCredit("team")  # everyone's work, opted-out people included
    streak_days: int = 0  # consecutive days with a verified fix, ending today or yesterday
    streak_today_done: bool = False


@dataclass(frozen=True)
class WeeklyInsightsView:
    credit: CreditView | None = None
    topics: Sequence[TopicView] = ()
    topic_days: int = 28
