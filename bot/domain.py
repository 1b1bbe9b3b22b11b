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
    PUBLISHING = "publishing"  # claimed: the external KB is being called (a dismiss is refused meanwhile)
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
    # the flagged turn passes but another turn of the replay got worse: not a clean pass (set by the replay,
    # never by the judge)
    COLLATERAL = "collateral"


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
    GapState.OPEN: frozenset({GapState.DRAFTING, GapState.PUBLISHING, GapState.DISMISSED}),
    GapState.DRAFTING: frozenset({GapState.PUBLISHING, GapState.DISMISSED, GapState.OPEN}),
    # Only the publish itself ends it. When the team's KB refuses, the claim is released and the gap goes back
    # to the state it came from (`bot.services.publishing`, audited "publish-refused"), not a move of this table:
    # no edit, reopen or dismiss can slip in while the external KB is being called.
    GapState.PUBLISHING: frozenset({GapState.PUBLISHED}),
    GapState.PUBLISHED: frozenset({GapState.VERIFIED, GapState.FAILED}),
    # VERIFIED: a person overrules the judge's verdict ("verdict is wrong", `services.verdicts.override_verdict`)
    GapState.FAILED: frozenset({GapState.DRAFTING, GapState.PUBLISHING, GapState.DISMISSED, GapState.VERIFIED}),
    GapState.VERIFIED: frozenset({GapState.FAILED}),  # a regression that breaks reopens it
    GapState.DISMISSED: frozenset({GapState.OPEN}),
}

# Work in progress: a gap here can be outlined, drafted, tested, edited, joined and dismissed.
ACTIVE_GAP_STATES: tuple[GapState, ...] = (GapState.OPEN, GapState.DRAFTING, GapState.FAILED)

# The states a gap may be published from (read off the table, so the two can't disagree).
PUBLISHABLE_GAP_STATES: tuple[GapState, ...] = tuple(
    s for s in GapState if GapState.PUBLISHING in GAP_TRANSITIONS[s]
)


class AttemptState(StrEnum):
    """A `PublishAttempt`: claimed before the external KB is called, then one of the others."""

    CLAIMED = "claimed"  # open: the external KB may or may not have answered (resume looks it up by key)
    DONE = "done"  # the article and the receipt are recorded
    HIDDEN = "hidden"  # recorded, but the external KB keeps it as a draft the agent cannot see: never verified
    FAILED = "failed"  # the external KB refused: nothing recorded


class OnFailedVerdict(StrEnum):
    """What a FAIL verdict after publishing does to the live article (`FLYWHEEL_PUBLISH_ON_FAIL`)."""

    ROLLBACK = "rollback"  # restore the previous version (or unpublish a new article), said in the thread
    KEEP = "keep"  # keep it live, with a warning
