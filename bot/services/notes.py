"""Thread replies as a gap's notes, by one explicit convention, and kept in step with Slack.

The convention (documented in README "The Slack bot" and said in the gap's thread message):

- a reply that starts with `note:` (any case; the prefix is dropped) is a note: it is written into the draft;
- a reply that says "I'll write this" / "I'll take this" (`OWN_PHRASE`) makes its author the gap's owner;
- any other reply ("thanks", "+1", a question to a colleague) is conversation and never reaches the article.

An edited reply updates its note (or adds it, once it starts with `note:`; or drops it, once it no longer
does); a deleted reply drops its note. Slack-facing bookkeeping only: ids, timestamps and text in, plain
results out; the Slack edge (`handlers/messages.py`) acknowledges with a reaction.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services import Services, gaps
from bot.services.gap_state import audit, get_gap
from storage.models import Gap, GapNote

log = logging.getLogger(__name__)

NOTE_PREFIX = re.compile(r"^\s*note\s*:\s*", re.IGNORECASE)
# "I'll write this", "I will take it", "I’ll write it" (curly apostrophe), optionally ending with "!" or "."
OWN_PHRASE = re.compile(r"^\s*i(?:'|’|\s+wi)ll\s+(?:write|take)\s+(?:this|it)(?:\s+one)?\s*[.!]*\s*$", re.IGNORECASE)


class ReplyKind(StrEnum):
    NOTE = "note"
    OWN = "own"  # "I'll write this"
    CHATTER = "chatter"


def classify(text: str) -> tuple[ReplyKind, str]:
    """What a thread reply is under the convention, and the note's text (the prefix dropped)."""
    if OWN_PHRASE.match(text):
        return ReplyKind.OWN, ""
    m = NOTE_PREFIX.match(text)
    if m and text[m.end():].strip():
        return ReplyKind.NOTE, text[m.end():].strip()
    return ReplyKind.CHATTER, ""


class Change(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    DROPPED = "dropped"
    UNCHANGED = "unchanged"  # the same reply delivered twice, an edit of chatter, a deletion of no note


@dataclass(frozen=True)
class NoteChange:
    gap_id: int
    change: Change
    note_id: int | None = None


def add_reply(services: Services, *, gap_id: int, author: str, ts: str, text: str) -> NoteChange:
    """A new reply whose text is a note (`classify`): the gap's note, once per Slack message."""
    note_id = gaps.add_note(services, gap_id=gap_id, author=author, text=text, source_ref=ts)
    return NoteChange(gap_id, Change.ADDED if note_id else Change.UNCHANGED, note_id or None)


def _note(session: Session, *, channel: str, ts: str) -> GapNote | None:
    """The note written from the reply (channel, ts), if any (a ts is unique within its channel)."""
    return session.scalar(
        select(GapNote).join(Gap, Gap.id == GapNote.gap_id)
        .where(Gap.thread_channel == channel, GapNote.source_ref == ts).order_by(GapNote.id.desc())
    )


def edit_reply(services: Services, *, gap_id: int, channel: str, ts: str, author: str, text: str | None
               ) -> NoteChange:
    """The reply (channel, ts) now reads `text` (None: it is no longer a note). Its note follows."""
    now = services.clock()
    with services.session() as s:
        note = _note(s, channel=channel, ts=ts)
        if note is None and text is None:
            return NoteChange(gap_id, Change.UNCHANGED)
        if note is not None and text is None:
            s.delete(note)
            audit(s, get_gap(s, note.gap_id), "note-dropped", actor=author, now=now, note_id=note.id, edited=True)
            return NoteChange(note.gap_id, Change.DROPPED, note.id)
        if note is not None and text is not None:
            if note.text == text.strip():
                return NoteChange(note.gap_id, Change.UNCHANGED, note.id)
            note.text, note.edited_at = text.strip(), now
            audit(s, get_gap(s, note.gap_id), "note-edited", actor=author, now=now, note_id=note.id)
            return NoteChange(note.gap_id, Change.UPDATED, note.id)
    assert text is not None
    return add_reply(services, gap_id=gap_id, author=author, ts=ts, text=text)


def drop_reply(services: Services, *, channel: str, ts: str) -> NoteChange | None:
    """The reply (channel, ts) was deleted: its note goes too. None when it was no note."""
    with services.session() as s:
        note = _note(s, channel=channel, ts=ts)
        if note is None:
            return None
        s.delete(note)
        audit(s, get_gap(s, note.gap_id), "note-dropped", actor=None, now=services.clock(), note_id=note.id)
        return NoteChange(note.gap_id, Change.DROPPED, note.id)
