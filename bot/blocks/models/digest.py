"""The digest: its header (what happened, what is waiting) and one item per conversation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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
    owner: str | None = None  # once it has a gap: who writes the article (the gap's owner)
