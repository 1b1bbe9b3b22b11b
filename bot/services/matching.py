"""Reading a flagged conversation: which agent turn fell short, the question before it, and the active
gaps whose question is close enough to offer joining instead of opening a new one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain import ACTIVE_GAP_STATES, Role
from bot.text import coverage, jaccard, says_dont_know
from storage.models import Gap, Message

MATCH_THRESHOLD = 0.5


@dataclass(frozen=True)
class GapMatch:
    gap_id: int
    state: str
    owner: str | None
    title: str | None
    score: float


def guess_flagged_position(messages: Sequence[Message]) -> int | None:
    """The agent turn most likely to have fallen short: a 'don't know', the answer before a handover,
    or the last agent answer."""
    agent = [m for m in messages if m.role == Role.AGENT]
    if not agent:
        return None
    for m in agent:
        if says_dont_know(m.text):
            return m.position
    for m in messages:
        if m.role == Role.HUMAN:
            before = [a for a in agent if a.position < m.position]
            if before:
                return before[-1].position
    return agent[-1].position


def question_for(messages: Sequence[Message], position: int | None) -> str:
    users = [m for m in messages if m.role == Role.USER and (position is None or m.position < position)]
    return users[-1].text if users else ""


def find_matches(session: Session, question: str, *, exclude: int | None = None) -> list[GapMatch]:
    """Active gaps whose question is lexically close to this one (the few open gaps, in Python)."""
    if not question.strip():
        return []
    found = []
    for gap in session.scalars(select(Gap).where(Gap.state.in_([s.value for s in ACTIVE_GAP_STATES]))):
        if gap.id == exclude:
            continue
        other = question_for(gap.conversation.messages, gap.flagged_position) + " " + (gap.title or "")
        score = max(jaccard(question, other), coverage(question, other) * 0.9)
        if score >= MATCH_THRESHOLD:
            found.append(GapMatch(gap.id, gap.state, gap.owner, gap.title, round(score, 2)))
    return sorted(found, key=lambda m: -m.score)
