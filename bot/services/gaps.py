"""Gaps: flag, co-flag, join, notes, turn choice, dismiss. The state machine is `gap_state`, reading a
conversation (the turn, the question, similar gaps) is `matching`, the Slack thread is `gap_thread`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.domain import ACTIVE_GAP_STATES, GapKind, GapState, ReviewStatus, Role
from bot.errors import IllegalTransition, InvalidInput, NotFound
from bot.services import Services, gap_thread
from bot.services.gap_state import (  # noqa: F401 - the state machine, re-exported for existing importers
    audit as audit,
)
from bot.services.gap_state import (
    check_state as check_state,
)
from bot.services.gap_state import (
    ensure_can as ensure_can,
)
from bot.services.gap_state import (
    get_gap as get_gap,
)
from bot.services.gap_state import (
    lock_gap as lock_gap,
)
from bot.services.gap_state import (
    require_active as require_active,
)
from bot.services.gap_state import (
    require_state as require_state,
)
from bot.services.gap_state import (
    transition as transition,
)
from bot.services.gap_thread import Announcement, ThreadRef
from bot.services.matching import (  # noqa: F401 - re-exported for existing importers
    MATCH_THRESHOLD as MATCH_THRESHOLD,
)
from bot.services.matching import (
    GapMatch as GapMatch,
)
from bot.services.matching import (
    find_matches as find_matches,
)
from bot.services.matching import (
    guess_flagged_position as guess_flagged_position,
)
from bot.services.matching import (
    question_for as question_for,
)
from bot.services.permissions import Action, require
from storage.models import Conversation, DigestItem, Gap, GapConversation, GapFlagger, GapNote


@dataclass
class FlagResult:
    gap_id: int | None
    created: bool = False
    joined: bool = False  # the user became a co-flagger, or the conversation joined an existing gap
    matches: list[GapMatch] = field(default_factory=list)
    # Set when this caller must post the gap's thread message (a new gap, or a half-finished one to
    # repair): post it, then `gap_thread.finish` it (`gap_thread.release` on failure).
    announcement: Announcement | None = None


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


def _conversation(session: Session, conversation_id: int) -> Conversation:
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        raise NotFound(f"No conversation {conversation_id}. `flywheel sample` lists today's.")
    return conv


def _mark_item(session: Session, conversation_id: int, status: ReviewStatus, user: str, now: dt.datetime) -> None:
    item = session.scalar(
        select(DigestItem).where(DigestItem.conversation_id == conversation_id).order_by(DigestItem.id.desc())
    )
    if item is None:
        return
    if item.review_status == status.value and item.reviewed_at is not None:
        return  # a co-flag (maybe weeks later) keeps the first review: past weeks' reviewed counts never move
    item.review_status, item.reviewed_by, item.reviewed_at = status.value, user, now


def _announce(session: Session, gap: Gap, thread: ThreadRef | None, now: dt.datetime) -> Announcement | None:
    """Claim the gap's thread message if it is still to be posted, and attach the thread (first wins)."""
    if thread is None:
        return None
    announcement = gap_thread.claim(session, gap, now=now)
    if announcement is not None:
        gap_thread.attach(session, gap, thread)
    return announcement


# --- flagging -----------------------------------------------------------------------------------
def flag(
    services: Services,
    *,
    conversation_id: int,
    user: str,
    position: int | None = None,
    kind: GapKind = GapKind.MISSING,
    on_match: Literal["ask", "new"] | int = "ask",
    thread: ThreadRef | None = None,
) -> FlagResult:
    """Flag a knowledge gap on a conversation, in one transaction.

    - The conversation already has an active gap: the user joins it as co-flagger.
    - It matches another active gap: with on_match="ask" nothing is created and the matches are
      returned (the UI offers to join); an int joins that gap; "new" opens a new gap anyway.
    - `thread` (the Slack edge): the gap, its flagger, its thread and the claim on its thread message are
      written together. A gap whose message was never posted (Slack failed half-way) is claimed again
      by the next flag on its conversation, so that flag finishes it: `FlagResult.announcement`.
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
            return FlagResult(existing.id, joined=joined, announcement=_announce(session, existing, thread, now))
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
        return FlagResult(gap.id, created=True, matches=matches, announcement=_announce(session, gap, thread, now))


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
