"""Domain vocabulary shared by services, storage and the UI layers."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    USER = "user"  # the customer
    AGENT = "agent"  # the AI agent under review
    HUMAN = "human"  # a human teammate who took over (handover)
    SYSTEM = "system"


class GapState(StrEnum):
    OPEN = "open"
    DRAFTING = "drafting"
    PUBLISHED = "published"
    VERIFIED = "verified"
    FAILED = "failed"
    DISMISSED = "dismissed"


class GapKind(StrEnum):
    MISSING = "missing"
    UNCLEAR = "unclear"
    CONTRADICTORY = "contradictory"
    STALE = "stale"


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNCLEAR = "unclear"


class ReplayKind(StrEnum):
    MANUAL = "manual"
    SHADOW = "shadow"  # draft in a shadow KB, nothing published
    PUBLISH = "publish"  # after publishing
    REGRESSION = "regression"


class ReviewStatus(StrEnum):
    PENDING = "pending"
    FLAGGED = "flagged"
    LOOKS_GOOD = "looks_good"


# Which states a gap may move to from each state. Anything else is refused.
GAP_TRANSITIONS: dict[GapState, frozenset[GapState]] = {
    GapState.OPEN: frozenset({GapState.DRAFTING, GapState.PUBLISHED, GapState.DISMISSED}),
    GapState.DRAFTING: frozenset({GapState.PUBLISHED, GapState.DISMISSED, GapState.OPEN}),
    GapState.PUBLISHED: frozenset({GapState.VERIFIED, GapState.FAILED}),
    GapState.FAILED: frozenset({GapState.DRAFTING, GapState.PUBLISHED, GapState.DISMISSED}),
    GapState.VERIFIED: frozenset({GapState.FAILED}),  # a regression that breaks reopens it
    GapState.DISMISSED: frozenset({GapState.OPEN}),
}

# Work in progress: a gap here can be outlined, drafted, tested, edited, joined and dismissed.
ACTIVE_GAP_STATES: tuple[GapState, ...] = (GapState.OPEN, GapState.DRAFTING, GapState.FAILED)

# The states a gap may be published from (read off the table, so the two can't disagree).
PUBLISHABLE_GAP_STATES: tuple[GapState, ...] = tuple(
    s for s in GapState if GapState.PUBLISHED in GAP_TRANSITIONS[s]
)
