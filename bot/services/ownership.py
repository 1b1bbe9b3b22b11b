"""Who writes a gap's article (its owner) and what kind of gap it is: set by people in the gap's thread.

The flagger owns a new gap until a teammate says "I'll write this" (or presses *I'll take it*); the owner is
shown on the gap's thread message, listed in App Home (`threads.GapRow.owner`) and is who the draft reminder
mentions (`reminders.due_reminders`). The kind (missing, unclear, contradictory, stale) is first the
outline's guess; a person's correction is stored on the gap and on its latest outline, so editing the
outline later keeps it. Both changes are in the audit trail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.domain import ACTIVE_GAP_STATES, GapKind
from bot.errors import InvalidInput
from bot.services import Services
from bot.services.authoring import latest_outline
from bot.services.gap_state import audit, check_state, get_gap

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OwnerChange:
    gap_id: int
    owner: str
    previous: str | None
    item_id: int | None = None  # the digest item the gap was flagged on (its status line shows the owner)

    @property
    def changed(self) -> bool:
        return self.owner != self.previous


def take_ownership(services: Services, *, gap_id: int, user: str) -> OwnerChange:
    """`user` becomes the gap's owner (work in progress only: open, drafting, failed)."""
    with services.session() as s:
        gap = get_gap(s, gap_id)
        check_state(gap, ACTIVE_GAP_STATES)
        previous = gap.owner
        if previous != user:
            now = services.clock()
            gap.owner, gap.updated_at = user, now
            audit(s, gap, "owner-changed", actor=user, now=now, old=previous, new=user)
            log.info("gap owner changed gap_id=%r", gap_id)
        return OwnerChange(gap_id, user, previous, gap.digest_item_id)


def set_kind(services: Services, *, gap_id: int, kind: str, user: str) -> bool:
    """Correct the gap's kind; True when it changed. The latest outline says the same from now on."""
    try:
        new = GapKind(kind)
    except ValueError:
        raise InvalidInput(f"“{kind[:30]}” is not a gap kind: " + ", ".join(k.value for k in GapKind)) from None
    with services.session() as s:
        gap = get_gap(s, gap_id)
        check_state(gap, ACTIVE_GAP_STATES)
        if gap.kind == new.value:
            return False
        now = services.clock()
        audit(s, gap, "kind-changed", actor=user, now=now, old=gap.kind, new=new.value)
        gap.kind, gap.updated_at = new.value, now
        outline = latest_outline(s, gap_id)
        if outline is not None:
            outline.content = {**outline.content, "kind": new.value}  # a new dict: JSON columns track assignment
        log.info("gap kind changed gap_id=%r kind=%s", gap_id, new.value)
        return True
