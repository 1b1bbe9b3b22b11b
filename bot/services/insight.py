"""Read models for showing a gap (CLI `gaps show`, Slack, App Home)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.llm.base import Outline
from bot.services import Services
from bot.services.authoring import latest_draft, latest_outline
from bot.services.gaps import get_gap, question_for
from storage.models import AuditEvent, ReplayRun


@dataclass
class GapDetail:
    id: int
    state: str
    kind: str
    title: str | None
    owner: str | None
    flaggers: list[str]
    conversation_ref: str
    conversation_ids: list[int]
    flagged_position: int | None
    question: str
    turns: list[tuple[int, str, str]]
    notes: list[tuple[str, str]]
    outline: Outline | None
    draft_title: str | None
    draft_body: str | None
    article_id: int | None
    last_verdict: str | None
    last_reasons: list[str]
    history: list[tuple[dt.datetime, str, str | None]] = field(default_factory=list)


def gap_detail(services: Services, gap_id: int) -> GapDetail:
    with services.session() as session:
        gap = get_gap(session, gap_id)
        msgs = gap.conversation.messages
        o = latest_outline(session, gap_id)
        d = latest_draft(session, gap_id)
        run = session.scalar(
            select(ReplayRun).where(ReplayRun.gap_id == gap_id, ReplayRun.verdict.is_not(None))
            .order_by(ReplayRun.id.desc())
        )
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.entity == "gap", AuditEvent.entity_id == gap_id).order_by(AuditEvent.id)
        )
        return GapDetail(
            id=gap.id, state=gap.state, kind=gap.kind, title=gap.title, owner=gap.owner,
            flaggers=[f.user_id for f in gap.flaggers], conversation_ref=gap.conversation.external_id,
            conversation_ids=[lk.conversation_id for lk in gap.links], flagged_position=gap.flagged_position,
            question=question_for(msgs, gap.flagged_position), turns=[(m.position, m.role, m.text) for m in msgs],
            notes=[(n.author, n.text) for n in gap.notes],
            outline=Outline.model_validate(o.content) if o else None,
            draft_title=d.title if d else None, draft_body=d.body if d else None, article_id=gap.article_id,
            last_verdict=run.verdict if run else None, last_reasons=list(run.reasons) if run else [],
            history=[(e.at, e.action, e.actor) for e in events],
        )
