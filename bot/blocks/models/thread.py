"""A gap's thread: the flag, the outline, matches, drafts, verdicts, overrides and errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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
    update_article_id: int | None = None  # the article the draft updates ("articles to update instead"); None: new


@dataclass(frozen=True)
class TargetChoice:
    """An article a draft could update, as the target select lists it."""

    article_id: int
    title: str
    section: str | None = None  # its section in the help centre, shown after the title


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


@dataclass(frozen=True)
class ConflictLinesView:
    """One place both the draft and the help centre changed: the lines as they were, theirs now, ours."""

    base: Sequence[str] = ()
    theirs: Sequence[str] = ()
    ours: Sequence[str] = ()


@dataclass(frozen=True)
class ConflictView:
    """A publish refused because the docs team edited the same lines in the help centre (nothing published)."""

    gap_id: int
    article_id: int
    article_title: str
    conflicts: Sequence[ConflictLinesView] = ()
    article_url: str | None = None
