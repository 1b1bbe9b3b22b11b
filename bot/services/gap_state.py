"""The gap state machine, in one place: loading a gap, the transition table's guard, the audit trail, and
the state checks every edge (CLI, Slack buttons, modals) makes through the same calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.domain import ACTIVE_GAP_STATES, GAP_TRANSITIONS, GapState
from bot.errors import IllegalTransition, NotFound
from bot.services import Services
from storage.models import AuditEvent, Gap


def get_gap(session: Session, gap_id: int) -> Gap:
    gap = session.get(Gap, gap_id)
    if gap is None:
        raise NotFound(f"No gap #{gap_id}. `flywheel gaps list` shows the open ones.")
    return gap


def ensure_can(gap: Gap, to: GapState) -> GapState:
    """Raise IllegalTransition unless the gap may move to `to`; return its current state."""
    current = GapState(gap.state)
    if to not in GAP_TRANSITIONS[current]:
        hint = " Reopen it first (`flywheel gaps reopen`)." if current == GapState.DISMISSED else ""
        raise IllegalTransition(f"Gap #{gap.id} is {current.value}; it cannot move to {to.value}.{hint}")
    return current


def transition(
    session: Session, gap: Gap, to: GapState, *, actor: str | None, action: str, now: dt.datetime, **detail: object
) -> None:
    current = ensure_can(gap, to)
    gap.state = to.value
    gap.updated_at = now
    audit(session, gap, action, actor=actor, now=now, from_state=current.value, to_state=to.value, **detail)


def audit(
    session: Session, gap: Gap, action: str, *, actor: str | None, now: dt.datetime,
    from_state: str | None = None, to_state: str | None = None, **detail: object,
) -> None:
    session.add(
        AuditEvent(entity="gap", entity_id=gap.id, action=action, from_state=from_state, to_state=to_state,
                   actor=actor, detail=dict(detail), at=now)
    )


def lock_gap(session: Session, gap_id: int) -> None:
    """Serialize state changes of one gap until this transaction ends (two publish clicks at once).
    PostgreSQL: a row lock (SELECT … FOR UPDATE). SQLite: take the database's write lock now with a no-op
    UPDATE. Call it first, so the state read afterwards is current."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Gap.id).where(Gap.id == gap_id).with_for_update())
    else:
        session.execute(update(Gap).where(Gap.id == gap_id).values(updated_at=Gap.updated_at)
                        .execution_options(synchronize_session=False))


def check_state(gap: Gap, allowed: Iterable[GapState]) -> GapState:
    """Raise IllegalTransition unless the gap is in one of `allowed` (a stale button, a closed gap)."""
    state = GapState(gap.state)
    if state not in set(allowed):
        hint = " Reopen it with `flywheel gaps reopen` first." if state == GapState.DISMISSED else ""
        raise IllegalTransition(f"Gap #{gap.id} is {state.value}: this button is out of date, so nothing was "
                                f"done.{hint}")
    return state


def require_state(services: Services, gap_id: int, allowed: Iterable[GapState]) -> GapState:
    """The gap's state, if it is one of `allowed`; else IllegalTransition (NotFound for no such gap).
    Edges call it before posting anything, so a stale button changes nothing."""
    with services.session() as session:
        return check_state(get_gap(session, gap_id), allowed)


def require_active(services: Services, gap_id: int) -> GapState:
    """Work in progress only (open, drafting, failed): outlining, drafting, testing, editing."""
    return require_state(services, gap_id, ACTIVE_GAP_STATES)


def gap_state(services: Services, gap_id: int) -> GapState:
    with services.session() as session:
        return GapState(get_gap(session, gap_id).state)
