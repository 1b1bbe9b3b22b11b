"""A conversation imported again with new messages or new metadata is updated in place, never duplicated.

A ticket that was reopened and answered again, or rated after it was solved, comes back from its source (or in a
file) under the same (source, id). Rules, so that what people already reviewed stays true:

* messages already stored keep their positions and text (a gap's flagged turn, its replays and the digest item
  still point at what was reviewed); the new ones are appended after them;
* if the stored messages are not the start of the new transcript (a message was edited or redacted at the
  source), the transcript is replaced, unless a gap or a replay refers to the conversation: then the reviewed
  transcript is kept and only the metadata changes (logged, with the ids);
* values the record carries (resolved, escalated, CSAT, channel, metadata keys) replace the stored ones; a value
  it does not carry is kept; the risk score and reasons are recomputed over the whole conversation;
* `sampled_on` is kept: an updated conversation never lands in a second digest; gap links are untouched.

The content hash makes the common case (the same content again) one indexed read per batch.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, delete, select, tuple_, update
from sqlalchemy.orm import Session

from bot.services.risk import MessageView, score_risk
from storage.models import Conversation, Gap, GapConversation, Message, ReplayRun

log = logging.getLogger(__name__)

Incoming = tuple[dict[str, Any], list[dict[str, Any]]]  # (conversation row, message rows) from parse_record
_FLAGS = ("resolved", "escalated", "csat", "channel")


def update_existing(session: Session, incoming: Sequence[Incoming], *, now: dt.datetime) -> tuple[int, int]:
    """Bring the stored conversations of `incoming` (all already stored) up to date, in the caller's
    transaction. Returns (conversations updated, messages added)."""
    if not incoming:
        return 0, 0
    by_key = {(conv["source"], conv["external_id"]): (conv, messages) for conv, messages in incoming}
    key = tuple_(Conversation.source, Conversation.external_id)
    stored = session.execute(select(Conversation.id, Conversation.source, Conversation.external_id,
                                    Conversation.content_hash).where(key.in_(list(by_key)))).all()
    changed = {cid: by_key[(source, ext)] for cid, source, ext, digest in stored
               if digest != by_key[(source, ext)][0]["content_hash"]}
    if not changed:
        return 0, 0
    rows = session.execute(select(Conversation.id, Conversation.meta, Conversation.resolved, Conversation.escalated,
                                  Conversation.csat, Conversation.channel, Conversation.started_at)
                           .where(Conversation.id.in_(list(changed))).with_for_update()).all()
    old_messages: dict[int, list[tuple[str, str, dict[str, Any]]]] = {cid: [] for cid in changed}
    for cid, role, text, meta in session.execute(
            select(Message.conversation_id, Message.role, Message.text, Message.meta)
            .where(Message.conversation_id.in_(list(changed))).order_by(Message.conversation_id, Message.position)):
        old_messages[cid].append((role, text, meta or {}))
    linked: set[int] | None = None
    updated = added = 0
    for row in rows:
        conv, messages = changed[row[0]]
        old = old_messages[row[0]]
        new_pairs = [(m["role"], m["text"]) for m in messages]
        if new_pairs[:len(old)] == [(role, text) for role, text, _ in old]:
            replace, tail = False, messages[len(old):]
        else:
            linked = _linked(session, list(changed)) if linked is None else linked
            replace = row[0] not in linked
            tail = messages if replace else []
            if not replace:
                log.info("import kept the reviewed transcript of conversation_id=%d (changed at the source)", row[0])
        more = _apply(session, row, conv, tail, old, replace=replace, now=now)
        if more is not None:
            updated, added = updated + 1, added + more
    return updated, added


def _linked(session: Session, ids: list[int]) -> set[int]:
    """Conversations a gap or a replay refers to (their message positions must not change)."""
    found: set[int] = set()
    for column in (Gap.conversation_id, GapConversation.conversation_id, ReplayRun.conversation_id):
        found |= set(session.scalars(select(column).where(column.in_(ids)).distinct()))
    return found


def _apply(session: Session, row: Any, conv: dict[str, Any], tail: list[dict[str, Any]],
           old: list[tuple[str, str, dict[str, Any]]], *, replace: bool, now: dt.datetime) -> int | None:
    """Write one conversation's update; None when nothing but the hash changed (not counted as an update)."""
    cid, stored_meta = row[0], dict(row[1] or {})
    values: dict[str, Any] = {"meta": {**stored_meta, **conv["meta"]}}
    for name, current in zip(_FLAGS, row[2:6], strict=True):
        values[name] = conv[name] if conv[name] is not None else current
    if row[6] is None and conv["started_at"] is not None:
        values["started_at"] = conv["started_at"]
    same = values["meta"] == stored_meta and all(values[n] == c for n, c in zip(_FLAGS, row[2:6], strict=True))
    if same and not tail and "started_at" not in values:
        session.execute(update(Conversation).where(Conversation.id == cid).values(
            {Conversation.content_hash: conv["content_hash"]}))
        return None
    start = 0 if replace else len(old)
    if replace:
        session.execute(delete(Message).where(Message.conversation_id == cid))
    if tail:
        session.connection().execute(cast(Table, Message.__table__).insert(), [
            {"conversation_id": cid, "position": start + i, "role": m["role"], "text": m["text"], "ts": m["ts"],
             "metadata": m["meta"]} for i, m in enumerate(tail)])
    kept = [] if replace else [MessageView(role=r, text=t, meta=meta) for r, t, meta in old]
    views = kept + [MessageView(role=m["role"], text=m["text"], meta=m["meta"]) for m in tail]
    risk, reasons = score_risk(resolved=values["resolved"], escalated=values["escalated"], csat=values["csat"],
                               messages=views)
    values |= {"message_count": len(views), "risk_score": risk, "risk_reasons": reasons,
               "content_hash": conv["content_hash"], "updated_at": now}
    session.execute(update(Conversation).where(Conversation.id == cid).values(
        {getattr(Conversation, name): value for name, value in values.items()}))
    log.info("conversation updated conversation_id=%d messages_added=%d replaced=%s", cid, len(tail), replace)
    return len(tail)
