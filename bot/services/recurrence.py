"""After a gap is verified, keep watching: a later conversation on the same topic that still went wrong is a
recurrence. It is linked to the fixed gap (`GapConversation.added_by="recurrence"`) and audited (`recurred`),
once: a second scan adds nothing. The Slack layer posts each new one in the gap's original thread.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.domain import GapState
from bot.services import Services
from bot.services.conversation_scan import (
    SCAN_LIMIT,
    ConversationRow,
    agent_said_dont_know,
    as_utc,
    recent_conversations,
)
from bot.services.topics import Embedder, GapDoc, TopicIndex, build_index, terms
from storage.models import AuditEvent, GapConversation

RECURRENCE_ACTOR = "recurrence"
RECURRED = "recurred"
DONT_KNOW_REASON = "agent said it did not know"


@dataclass(frozen=True)
class Recurrence:
    gap_id: int
    gap_title: str | None
    topic_id: int
    topic_label: str
    conversation_id: int
    conversation_ref: str  # the external id people know it by
    imported_at: dt.datetime
    verified_at: dt.datetime
    reasons: tuple[str, ...]  # escalated, unresolved, low CSAT, agent said it did not know
    score: float  # how closely the question matches the topic (0..1)
    thread_channel: str | None  # the gap's original Slack thread, if it has one
    thread_ts: str | None


def scan_recurrences(
    services: Services, *, since: dt.datetime, embedder: Embedder | None = None, limit: int = SCAN_LIMIT,
) -> list[Recurrence]:
    """Conversations imported at or after `since` (at most `limit`, newest first) that came after a verified gap
    of their topic and still went wrong. Links each to that gap and returns the ones linked by this call."""
    index = build_index(services, embedder=embedder)
    watched = {d.id: d for d in index.docs.values() if d.state == GapState.VERIFIED.value and d.verified_at}
    if not watched:
        return []
    start = max(as_utc(since), min(d.verified_at for d in watched.values() if d.verified_at))
    with services.session() as session:
        convs = recent_conversations(session, since=start, limit=limit)
        found = [(c, hit) for c in convs if (hit := _fixed_gap(index, watched, c)) is not None]
        dont_know = agent_said_dont_know(session, [c.id for c, _ in found]) if found else set()
    candidates = []
    for conv, (doc, topic_id, score) in found:
        reasons = conv.reasons() + ([DONT_KNOW_REASON] if conv.id in dont_know else [])
        if reasons:
            candidates.append(_Candidate(conv, doc, topic_id, score, tuple(reasons)))
    return _link(services, index, sorted(candidates, key=lambda c: (c.conv.imported_at, c.conv.id)))


class _Candidate(NamedTuple):
    conv: ConversationRow
    gap: GapDoc
    topic_id: int
    score: float
    reasons: tuple[str, ...]


def _fixed_gap(
    index: TopicIndex, watched: dict[int, GapDoc], conv: ConversationRow
) -> tuple[GapDoc, int, float] | None:
    """The verified gap of the conversation's topic, verified before it was imported (the closest one if several)."""
    hit = index.match(conv.question)
    if hit is None:
        return None
    topic_id, score = hit
    fixed = [d for g in index.by_id[topic_id].verified_gap_ids if (d := watched.get(g)) and d.verified_at
             and d.verified_at < conv.imported_at]
    if not fixed:
        return None
    q = terms(conv.question)
    best = max(fixed, key=lambda d: (index.score(q, dict.fromkeys(d.terms, 1.0)), d.verified_at, d.id))
    return best, topic_id, score


def _link(services: Services, index: TopicIndex, candidates: list[_Candidate]) -> list[Recurrence]:
    if not candidates:
        return []
    now = services.clock()
    upsert = (postgresql.insert if services.engine.dialect.name == "postgresql" else sqlite.insert)(GapConversation)
    linked = []
    with services.session() as session:
        for conv, doc, topic_id, score, reasons in candidates:
            row = {"gap_id": doc.id, "conversation_id": conv.id, "added_by": RECURRENCE_ACTOR, "added_at": now}
            # Already linked (an earlier scan, or a concurrent one that got there first): nothing to do.
            stmt = upsert.values(row).on_conflict_do_nothing(index_elements=["gap_id", "conversation_id"])
            if session.execute(stmt.returning(GapConversation.id)).first() is None:
                continue
            session.add(AuditEvent(entity="gap", entity_id=doc.id, action=RECURRED, actor=RECURRENCE_ACTOR,
                                   detail={"conversation_id": conv.id}, at=now))
            linked.append(Recurrence(
                gap_id=doc.id, gap_title=doc.title, topic_id=topic_id, topic_label=index.by_id[topic_id].label,
                conversation_id=conv.id, conversation_ref=conv.external_id, imported_at=conv.imported_at,
                verified_at=doc.verified_at or now, reasons=reasons, score=round(score, 2),
                thread_channel=doc.thread_channel, thread_ts=doc.thread_ts,
            ))
    return linked


def recurrence_counts(services: Services, *, start: dt.datetime, end: dt.datetime) -> int:
    """Recurrences recorded in [start, end)."""
    with services.session() as session:
        return session.scalar(
            select(func.count()).select_from(AuditEvent).where(
                AuditEvent.entity == "gap", AuditEvent.action == RECURRED, AuditEvent.at >= as_utc(start),
                AuditEvent.at < as_utc(end))
        ) or 0
