"""Gaps: flag, co-flag, join, notes, turn choice, dismiss — with a state machine and an audit trail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain import ACTIVE_GAP_STATES, GAP_TRANSITIONS, GapKind, GapState, ReviewStatus, Role
from bot.errors import IllegalTransition, InvalidInput, NotFound
from bot.services import Services
from bot.services.permissions import Action, require
from bot.text import coverage, jaccard, says_dont_know
from storage.models import (
    AuditEvent,
    Conversation,
    DigestItem,
    Gap,
    GapConversation,
    GapFlagger,
    GapNote,
    Message,
)

MATCH_THRESHOLD = 0.5


@dataclass(frozen=True)
class GapMatch:
    gap_id: int
    state: str
    owner: str | None
    title: str | None
    score: float


@dataclass
class FlagResult:
    gap_id: int | None
    created: bool = False
    joined: bool = False  # the user became a co-flagger, or the conversation joined an existing gap
    matches: list[GapMatch] = field(default_factory=list)


# --- state machine ------------------------------------------------------------------------------
def transition(
    session: Session, gap: Gap, to: GapState, *, actor: str | None, action: str, now: dt.datetime, **detail: object
) -> None:
    current = ensure_can(gap, to)
    gap.state = to.value
    gap.updated_at = now
    audit(session, gap, action, actor=actor, now=now, from_state=current.value, to_state=to.value, **detail)


def ensure_can(gap: Gap, to: GapState) -> GapState:
    """Raise IllegalTransition unless the gap may move to `to`; return its current state."""
    current = GapState(gap.state)
    if to not in GAP_TRANSITIONS[current]:
        hint = " Reopen it first (`flywheel gaps reopen`)." if current == GapState.DISMISSED else ""
        raise IllegalTransition(f"Gap #{gap.id} is {current.value}; it cannot move to {to.value}.{hint}")
    return current


def audit(
    session: Session, gap: Gap, action: str, *, actor: str | None, now: dt.datetime,
    from_state: str | None = None, to_state: str | None = None, **detail: object,
) -> None:
    session.add(
        AuditEvent(entity="gap", entity_id=gap.id, action=action, from_state=from_state, to_state=to_state,
                   actor=actor, detail=dict(detail), at=now)
    )


def get_gap(session: Session, gap_id: int) -> Gap:
    gap = session.get(Gap, gap_id)
    if gap is None:
        raise NotFound(f"No gap #{gap_id}. `flywheel gaps list` shows the open ones.")
    return gap


# --- reading a conversation ---------------------------------------------------------------------
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


def lock_conversation(session: Session, conversation_id: int) -> None:
    """Serialize flags on one conversation until this transaction ends, so the check for an active gap
    and the insert of a new one can't interleave (two reactions at once, on one instance or two).
    PostgreSQL: a row lock (SELECT … FOR UPDATE). SQLite: take the database's write lock now with a no-op
    UPDATE (SELECT FOR UPDATE does not exist there); a second writer waits for it (busy_timeout)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Conversation.id).where(Conversation.id == conversation_id).with_for_update())
    else:
        session.execute(update(Conversation).where(Conversation.id == conversation_id)
                        .values(message_count=Conversation.message_count)
                        .execution_options(synchronize_session=False))


def lock_gap(session: Session, gap_id: int) -> None:
    """Serialize state changes of one gap until this transaction ends (two publish clicks at once): the
    same dialect rule as `lock_conversation`. Call it first, so the state read afterwards is current."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Gap.id).where(Gap.id == gap_id).with_for_update())
    else:
        session.execute(update(Gap).where(Gap.id == gap_id).values(updated_at=Gap.updated_at)
                        .execution_options(synchronize_session=False))


def _conversation(session: Session, conversation_id: int) -> Conversation:
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        raise NotFound(f"No conversation {conversation_id}. `flywheel sample` lists today's.")
    return conv


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


def _mark_item(session: Session, conversation_id: int, status: ReviewStatus, user: str, now: dt.datetime) -> None:
    item = session.scalar(
        select(DigestItem).where(DigestItem.conversation_id == conversation_id).order_by(DigestItem.id.desc())
    )
    if item is not None:
        item.review_status, item.reviewed_by, item.reviewed_at = status.value, user, now


# --- flagging -----------------------------------------------------------------------------------
def flag(
    services: Services,
    *,
    conversation_id: int,
    user: str,
    position: int | None = None,
    kind: GapKind = GapKind.MISSING,
    on_match: Literal["ask", "new"] | int = "ask",
) -> FlagResult:
    """Flag a knowledge gap on a conversation.

    - The conversation already has an active gap: the user joins it as co-flagger.
    - It matches another active gap: with on_match="ask" nothing is created and the matches are
      returned (the UI offers to join); an int joins that gap; "new" opens a new gap anyway.
    """
    now = services.clock()
    with services.session() as session:
        lock_conversation(session, conversation_id)  # first: every read below sees the winner's gap
        conv = _conversation(session, conversation_id)
        existing = session.scalar(
            select(Gap)
            .join(GapConversation, GapConversation.gap_id == Gap.id)
            .where(GapConversation.conversation_id == conversation_id,
                   Gap.state.in_([s.value for s in ACTIVE_GAP_STATES]))
        )
        if existing is not None:
            joined = _add_flagger(session, existing, user, now)
            _mark_item(session, conversation_id, ReviewStatus.FLAGGED, user, now)
            return FlagResult(existing.id, joined=joined)
        if isinstance(on_match, int):
            gap = get_gap(session, on_match)
            if GapState(gap.state) not in ACTIVE_GAP_STATES:
                raise IllegalTransition(f"Gap #{gap.id} is {gap.state}; only open gaps can be joined.")
            session.add(GapConversation(gap_id=gap.id, conversation_id=conversation_id, added_by=user, added_at=now))
            _add_flagger(session, gap, user, now)
            audit(session, gap, "joined", actor=user, now=now, conversation_id=conversation_id)
            _mark_item(session, conversation_id, ReviewStatus.FLAGGED, user, now)
            return FlagResult(gap.id, joined=True)
        if position is None:
            position = guess_flagged_position(conv.messages)
        elif position not in {m.position for m in conv.messages if m.role == Role.AGENT}:
            raise InvalidInput(f"Turn {position} is not an agent answer in conversation {conversation_id}.")
        matches = find_matches(session, question_for(conv.messages, position))
        if matches and on_match == "ask":
            return FlagResult(None, matches=matches)
        gap = Gap(state=GapState.OPEN.value, kind=GapKind(kind).value, conversation_id=conversation_id,
                  flagged_position=position, flagged_by=user, owner=user, flagged_at=now, updated_at=now)
        session.add(gap)
        session.flush()
        session.add(GapConversation(gap_id=gap.id, conversation_id=conversation_id, added_by=user, added_at=now))
        session.add(GapFlagger(gap_id=gap.id, user_id=user, added_at=now))
        audit(session, gap, "flagged", actor=user, now=now, to_state=GapState.OPEN.value,
              conversation_id=conversation_id, position=position)
        _mark_item(session, conversation_id, ReviewStatus.FLAGGED, user, now)
        return FlagResult(gap.id, created=True, matches=matches)


def _add_flagger(session: Session, gap: Gap, user: str, now: dt.datetime) -> bool:
    if session.scalar(select(GapFlagger).where(GapFlagger.gap_id == gap.id, GapFlagger.user_id == user)):
        return False
    session.add(GapFlagger(gap_id=gap.id, user_id=user, added_at=now))
    audit(session, gap, "co-flagged", actor=user, now=now)
    return True


def unflag(services: Services, *, gap_id: int, user: str) -> str:
    """Withdraw a flag (e.g. the reaction was removed). Before drafting, the last flag dismisses the gap.
    Returns the gap's state afterwards."""
    now = services.clock()
    with services.session() as session:
        gap = get_gap(session, gap_id)
        row = session.scalar(select(GapFlagger).where(GapFlagger.gap_id == gap_id, GapFlagger.user_id == user))
        if row is None:
            return gap.state
        if gap.state != GapState.OPEN.value:
            return gap.state  # drafting has started: the work is kept
        session.delete(row)
        session.flush()
        left = session.scalar(select(func.count()).select_from(GapFlagger).where(GapFlagger.gap_id == gap_id))
        audit(session, gap, "unflagged", actor=user, now=now)
        if not left:
            transition(session, gap, GapState.DISMISSED, actor=user, action="unflagged", now=now)
            for link in gap.links:
                _mark_item(session, link.conversation_id, ReviewStatus.PENDING, user, now)
        return gap.state


def mark_looks_good(services: Services, *, conversation_id: int, user: str) -> None:
    with services.session() as session:
        _conversation(session, conversation_id)
        _mark_item(session, conversation_id, ReviewStatus.LOOKS_GOOD, user, services.clock())


def set_flagged_turn(services: Services, *, gap_id: int, position: int, user: str) -> None:
    now = services.clock()
    with services.session() as session:
        gap = get_gap(session, gap_id)
        if position not in {m.position for m in gap.conversation.messages if m.role == Role.AGENT}:
            raise InvalidInput(f"Turn {position} is not an agent answer in this conversation.")
        audit(session, gap, "turn-changed", actor=user, now=now, old=gap.flagged_position, new=position)
        gap.flagged_position, gap.updated_at = position, now


def add_note(services: Services, *, gap_id: int, author: str, text: str, source_ref: str | None = None) -> int:
    """Add a note; returns its id, or 0 when the note with this `source_ref` was already recorded."""
    if not text.strip():
        raise InvalidInput("A note needs some text.")
    try:
        with services.session() as session:
            gap = get_gap(session, gap_id)
            if source_ref and session.scalar(
                select(GapNote.id).where(GapNote.gap_id == gap_id, GapNote.source_ref == source_ref)
            ):
                return 0  # the same thread reply delivered twice
            note = GapNote(gap_id=gap.id, author=author, text=text.strip(), source_ref=source_ref,
                           created_at=services.clock())
            session.add(note)
            session.flush()
            return note.id
    except IntegrityError:
        # Delivered twice at the same moment: the other delivery's insert won (uq gap_id, source_ref).
        with services.session() as session:
            if source_ref and session.scalar(
                select(GapNote.id).where(GapNote.gap_id == gap_id, GapNote.source_ref == source_ref)
            ):
                return 0
        raise


def dismiss(services: Services, *, gap_id: int, user: str, reason: str = "") -> None:
    require(services, user, Action.DISMISS)
    with services.session() as session:
        gap = get_gap(session, gap_id)
        transition(session, gap, GapState.DISMISSED, actor=user, action="dismissed", now=services.clock(),
                   reason=reason)


def reopen(services: Services, *, gap_id: int, user: str) -> None:
    with services.session() as session:
        gap = get_gap(session, gap_id)
        transition(session, gap, GapState.OPEN, actor=user, action="reopened", now=services.clock())


def list_gaps(services: Services, *, states: Sequence[GapState] = ACTIVE_GAP_STATES, owner: str | None = None,
              limit: int = 50) -> list[Gap]:
    with services.session() as session:
        stmt = select(Gap).where(Gap.state.in_([s.value for s in states])).order_by(Gap.id).limit(limit)
        if owner:
            stmt = stmt.where(Gap.owner == owner)
        return list(session.scalars(stmt))
