"""View models for the Block Kit builders: frozen dataclasses of primitives (ids, strings, ints,
floats, tuples of those). Handlers/services fill them from the database; builders never see ORM rows.

All text fields are *raw* (not escaped): builders escape, redact and shorten as needed.
User fields (`flagged_by`, `owner`, …) are Slack user ids (`U…`/`W…`).
States use the strings of `bot.domain` (`GapState`, `ReviewStatus`, `Verdict`, `ReplayKind`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# --- digest ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoopLine:
    """What the loop did since the last digest, shown in one line under the digest header (zeros left out)."""

    flagged: int = 0
    drafted: int = 0
    published: int = 0
    verified: int = 0
    failed: int = 0
    since: str = "yesterday"  # how the period is named: "yesterday", or "since Friday" after a weekend


@dataclass(frozen=True)
class WaitingLine:
    """What is waiting for the team now, shown under the digest header (zeros left out)."""

    drafts: int = 0  # drafts to review
    stale_drafts: int = 0  # of those, untouched for a while
    stale_hours: int = 48  # what "a while" is
    failed: int = 0  # failed verdicts (edit and publish again)


@dataclass(frozen=True)
class DigestHeaderView:
    day: str  # "2026-07-20" (shown as is)
    count: int  # conversations in today's digest
    risk_count: int | None = None  # how many were picked by risk (the rest at random)
    flag_emoji: str = "books"
    ok_emoji: str = "white_check_mark"
    yesterday: LoopLine | None = None
    waiting: WaitingLine | None = None


@dataclass(frozen=True)
class DigestItemView:
    item_id: int
    conversation_id: int
    conversation_ref: str  # the source's id, e.g. a ticket number
    excerpt_turns: Sequence[tuple[str, str]]  # (role, text) of the 2-4 turns shown; role ∈ user/agent/human/system
    pick: str  # "risk" | "random"
    reason: str = ""  # the one reason it was picked, readable ("The agent said it didn't know", "Random sample")
    status: str = "pending"  # pending | flagged | looks_good | fixed
    position: int = 1  # its number in today's digest
    total_turns: int | None = None  # turns in the whole conversation
    reviewed_by: str | None = None  # who flagged / said it looks good
    gap_id: int | None = None  # once flagged
    flag_emoji: str = "books"
    ok_emoji: str = "white_check_mark"
    reference: str = ""  # short and readable, e.g. "Zendesk #4821" or "mtrag · 79d0…" (default: conversation_ref)
    url: str | None = None  # where the conversation came from (the reference links there)
    focus: int | None = None  # index in excerpt_turns of the turn that went wrong (marked)


# --- gap thread ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentTurnChoice:
    position: int  # position of the agent message in the conversation
    text: str


@dataclass(frozen=True)
class FlagView:
    """Who flagged what: the first message in the item's thread."""

    gap_id: int
    flagged_by: str
    co_flaggers: Sequence[str] = ()
    agent_turns: Sequence[AgentTurnChoice] = ()  # choices for the "which turn" select
    flagged_position: int | None = None  # the guessed / chosen turn
    state: str = "open"  # GapState
    notes_count: int = 0
    owner: str | None = None  # who writes the article ("I'll write this"); the flagger until someone takes it
    kind: str = "missing"  # GapKind, as stored on the gap (a person may have corrected the outline's guess)


@dataclass(frozen=True)
class OutlineSectionView:
    heading: str
    points: Sequence[str] = ()


@dataclass(frozen=True)
class OutlineView:
    title: str
    summary: str = ""
    kind: str = "missing"  # GapKind
    sections: Sequence[OutlineSectionView] = ()
    required_facts: Sequence[str] = ()
    questions: Sequence[str] = ()  # questions for experts
    provider: str | None = None  # which model wrote it


@dataclass(frozen=True)
class MatchView:
    """A new flag looks like an existing gap: offer to join it or open a new one."""

    gap_id: int
    gap_title: str
    conversation_id: int
    flagged_by: str
    item_id: int | None = None
    owner: str | None = None  # who is drafting it, if anyone
    state: str = "open"  # GapState of the existing gap


@dataclass(frozen=True)
class DraftView:
    gap_id: int
    draft_id: int
    title: str
    body: str  # Markdown
    author: str | None = None  # who asked for / last edited it
    provider: str | None = None
    revision: int = 1
    last_test: str | None = None  # Verdict of the last shadow test, if any
    state: str = "draft"  # draft | published | dismissed
    notes_folded: int | None = None  # the gap's notes written into it (None: not counted)
    notes_now: int = 0  # the gap's notes today: more than folded means some came after the draft


@dataclass(frozen=True)
class CollateralView:
    """Another turn of the replayed conversation that got worse after the change."""

    position: int
    question: str
    before: str
    after: str
    reason: str


@dataclass(frozen=True)
class VerdictView:
    gap_id: int
    verdict: str  # Verdict: pass | fail | unclear | collateral
    before: str | None  # the flagged turn's original answer
    after: str  # the replayed answer
    reasons: Sequence[str] = ()
    confidence: float | None = None  # 0..1
    article_title: str = ""
    article_url: str | None = None
    draft_id: int | None = None  # enables "Edit and retry" / "Publish"
    kind: str = "publish"  # ReplayKind: shadow | publish | regression | manual
    question: str | None = None  # the customer's question
    missing_facts: Sequence[str] = ()
    run_id: int | None = None  # the judged run: enables "Verdict is wrong"
    collateral: Sequence[CollateralView] = ()  # other turns that got worse
    human_verdict: str | None = None  # a person overruled (or confirmed) the judge
    article_id: int | None = None  # the published article and the version the verdict is about:
    article_version: int | None = None  # from v2 on, they enable "Roll back to v{n-1}"


@dataclass(frozen=True)
class OverrideView:
    """The "Verdict is wrong" modal."""

    run_id: int
    judge_verdict: str
    gap_id: int | None = None
    channel: str | None = None
    thread_ts: str | None = None


@dataclass(frozen=True)
class OverrideNoticeView:
    """The thread reply after a person overruled (or confirmed) the judge."""

    run_id: int
    judge_verdict: str
    human_verdict: str
    user: str
    reason: str
    note: str  # what happened to the gap
    agrees: bool


@dataclass(frozen=True)
class ErrorView:
    message: str  # user-safe (FlywheelError.message or a generic sentence)
    error_id: str | None = None  # correlation id that is in the logs
    retry_action: str | None = None  # an ActionId to run again; None = no retry button
    gap_id: int | None = None
    item_id: int | None = None
    draft_id: int | None = None
    conversation_id: int | None = None


# --- stats, home -----------------------------------------------------------------------------------


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


# --- insights --------------------------------------------------------------------------------------


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


# --- modals ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TurnView:
    position: int
    role: str
    text: str


@dataclass(frozen=True)
class ConversationView:
    conversation_id: int
    conversation_ref: str
    turns: Sequence[TurnView]
    flagged_position: int | None = None
    source: str | None = None


@dataclass(frozen=True)
class EditDraftView:
    gap_id: int
    draft_id: int
    title: str
    body: str
    channel: str | None = None  # where the draft message is, to update it after submit
    thread_ts: str | None = None
    message_ts: str | None = None
    then_test: bool = False  # "edit and retry": run the shadow test after saving


@dataclass(frozen=True)
class EditOutlineView:
    gap_id: int
    title: str
    sections: Sequence[OutlineSectionView] = ()
    required_facts: Sequence[str] = ()
    channel: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None


@dataclass(frozen=True)
class EditedDraft:
    """What `parse_edit_draft` reads back from a submitted edit-draft modal."""

    title: str
    body: str | None  # None: the body was too long to edit in Slack and is unchanged


@dataclass(frozen=True)
class EditedOutline:
    title: str
    sections: tuple[OutlineSectionView, ...]
    required_facts: tuple[str, ...]
