"""Bounded scans of recent conversations with their opening question, for topics and recurrences.

There is no index on `imported_at`, but ids follow import order: walking the primary key backwards in batches
reads "the last N imported" without a full scan, and stops at the first batch that is entirely older than the
window. Conversations sampled in the window but imported earlier come from the `sampled_on` index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain import Role
from bot.services.risk import LOW_CSAT, normalize_csat
from bot.text import says_dont_know, term_set
from storage.models import Conversation, Message

SCAN_LIMIT = 5_000  # conversations read at most per scan
SCAN_BATCH = 500
OPENING_WINDOW = 6  # the question is looked for among the first few messages only
MIN_QUESTION_TERMS = 2  # "Hi there" is not the question


@dataclass(frozen=True)
class ConversationRow:
    id: int
    external_id: str
    imported_at: dt.datetime
    escalated: bool
    resolved: bool | None
    csat: float | None
    question: str = ""

    @property
    def unresolved(self) -> bool:
        return self.resolved is False

    @property
    def low_csat(self) -> bool:
        csat = normalize_csat(self.csat)
        return csat is not None and csat <= LOW_CSAT

    def reasons(self) -> list[str]:
        """What went wrong, from the conversation's columns (the agent's words are checked separately)."""
        flags = (("escalated", self.escalated), ("unresolved", self.unresolved), ("low CSAT", self.low_csat))
        return [name for name, on in flags if on]


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back naive: they are UTC by convention."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


_COLUMNS = (Conversation.id, Conversation.external_id, Conversation.imported_at, Conversation.escalated,
            Conversation.resolved, Conversation.csat)


def _row(r: Sequence[Any]) -> ConversationRow:
    cid, ext, imported, escalated, resolved, csat = r
    return ConversationRow(int(cid), str(ext), as_utc(imported), bool(escalated), resolved, csat)


def recent_conversations(
    session: Session, *, since: dt.datetime | None = None, until: dt.datetime | None = None,
    sampled_since: dt.date | None = None, limit: int = SCAN_LIMIT, batch: int = SCAN_BATCH,
) -> list[ConversationRow]:
    """Conversations imported in [since, until] (unbounded when None), newest first, plus those sampled from
    `sampled_since` to `until`'s day; at most `limit`, each with its opening question."""
    found: dict[int, ConversationRow] = {}
    last_id: int | None = None
    read = 0  # the id walk reads at most `limit` rows, whatever the window
    while read < limit:
        stmt = select(*_COLUMNS).order_by(Conversation.id.desc()).limit(min(batch, limit - read))
        if last_id is not None:
            stmt = stmt.where(Conversation.id < last_id)
        chunk = [_row(r) for r in session.execute(stmt)]
        if not chunk:
            break
        read, last_id = read + len(chunk), chunk[-1].id
        fresh = [c for c in chunk if since is None or c.imported_at >= as_utc(since)]
        found.update((c.id, c) for c in fresh if until is None or c.imported_at <= as_utc(until))
        if not fresh:
            break  # a whole batch older than the window: ids follow import order, the rest is older still
    if sampled_since is not None and len(found) < limit:
        stmt = select(*_COLUMNS).where(Conversation.sampled_on >= sampled_since)
        if until is not None:
            stmt = stmt.where(Conversation.sampled_on <= as_utc(until).date())
        stmt = stmt.order_by(Conversation.sampled_on.desc(), Conversation.id.desc()).limit(limit)
        for r in session.execute(stmt):
            if len(found) >= limit:
                break
            found.setdefault(int(r[0]), _row(r))
    questions = opening_questions(session, list(found))
    return [replace(c, question=questions.get(c.id, "")) for c in found.values()]


def opening_questions(session: Session, ids: Sequence[int], *, batch: int = SCAN_BATCH) -> dict[int, str]:
    """The first user turn with some content ("Hi there" is skipped), from the first few messages only."""
    turns: dict[int, list[str]] = {}
    for i in range(0, len(ids), batch):
        stmt = (select(Message.conversation_id, Message.text)
                .where(Message.conversation_id.in_(ids[i:i + batch]), Message.role == Role.USER.value,
                       Message.position < OPENING_WINDOW)
                .order_by(Message.conversation_id, Message.position))
        for cid, text in session.execute(stmt):
            turns.setdefault(cid, []).append(text)
    return {cid: _opening(texts) for cid, texts in turns.items()}


def _opening(texts: Iterable[str]) -> str:
    texts = list(texts)
    return next((t for t in texts if len(term_set(t)) >= MIN_QUESTION_TERMS), " ".join(texts))


def agent_said_dont_know(session: Session, ids: Sequence[int], *, batch: int = SCAN_BATCH) -> set[int]:
    """Which of these conversations have an agent message saying it does not know."""
    hits: set[int] = set()
    for i in range(0, len(ids), batch):
        stmt = select(Message.conversation_id, Message.text).where(
            Message.conversation_id.in_(ids[i:i + batch]), Message.role == Role.AGENT.value)
        hits.update(cid for cid, text in session.execute(stmt) if cid not in hits and says_dont_know(text))
    return hits
