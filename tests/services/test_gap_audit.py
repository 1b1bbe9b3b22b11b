"""Every gap transition leaves a complete audit row: who, when, from and to which state, and why.

Mutation testing showed the state-table tests checked that a row exists, not what it says: a transition that
dropped its actor, its time or its reason kept the suite green. The audit trail is what a team reads when a
published article is questioned, so each field is pinned here.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select

from bot.services import Services
from bot.services.conversations import resolve
from bot.services.gaps import dismiss, flag, reopen
from storage.models import AuditEvent
from tests.support.factories import conversation, load

T0 = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)


def test_a_transition_records_actor_time_states_and_reason(services: Services, tmp_path: Path) -> None:
    load(services, tmp_path, [conversation("c1", gap=True)])
    services.clock = lambda: T0
    gap_id = flag(services, conversation_id=resolve(services, "c1"), user="U_ANN").gap_id
    assert gap_id is not None
    later = T0 + dt.timedelta(hours=2)
    services.clock = lambda: later
    dismiss(services, gap_id=gap_id, user="U_BEN", reason="duplicate of the refunds article")
    reopen(services, gap_id=gap_id, user="U_CAT")
    with services.session() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.entity == "gap", AuditEvent.entity_id == gap_id)
                         .order_by(AuditEvent.id)).all()
        moves = [(r.action, r.from_state, r.to_state, r.actor, r.at.replace(tzinfo=dt.UTC), dict(r.detail or {}))
                 for r in rows if r.to_state is not None and r.from_state is not None]
    dismissed = [m for m in moves if m[2] == "dismissed"]
    assert len(dismissed) == 1
    action, from_state, _, actor, at, detail = dismissed[0]
    assert (action, from_state, actor, at) == ("dismissed", "open", "U_BEN", later)
    assert detail.get("reason") == "duplicate of the refunds article"
    reopened = [m for m in moves if m[1] == "dismissed" and m[2] == "open"]
    assert len(reopened) == 1 and reopened[0][3] == "U_CAT" and reopened[0][4] == later
