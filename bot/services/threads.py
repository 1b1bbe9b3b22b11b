"""Where the loop meets Slack messages: a digest item by its (channel, ts), a gap's thread, and the small
read models the Slack edge shows (the item's data, gap lists, the current draft, the last digest).

Like `bot.services.digest` this is Slack-facing bookkeeping: ids and timestamps in, plain data out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import selectinload

from bot.domain import ACTIVE_GAP_STATES, GapState, ReplayKind, ReviewStatus
from bot.errors import NotFound
from bot.services import Services
from bot.services.authoring import latest_draft
from bot.services.digest import DigestItemData, item_data
from bot.services.gap_state import get_gap
from bot.services.gap_thread import ThreadRef
from bot.services.gap_thread import attach as attach_in
from storage.models import (
    Conversation,
    Digest,
    DigestItem,
    Draft,
    Gap,
    GapConversation,
    GapFlagger,
    GapNote,
    ReplayRun,
)


@dataclass(frozen=True)
class ItemInfo:
    item_id: int | None  # None: a conversation outside any digest (e.g. a match offer without an item)
    conversation_id: int
    channel: str | None
    ts: str | None


@dataclass(frozen=True)
class GapRow:
    gap_id: int
    title: str | None
    state: str
    kind: str
    conversation_ref: str
    flagged_by: str
    owner: str | None
    flagged_at: dt.datetime
    flaggers: int
    thread_channel: str | None
    thread_ts: str | None


@dataclass(frozen=True)
class DraftInfo:
    gap_id: int
    draft_id: int
    title: str
    body: str
    revision: int
    provider: str
    created_by: str | None
    last_test: str | None  # verdict of the last shadow test of this draft
    notes_folded: int | None = None  # the gap's notes it was written from (None: drafted before counting)
    notes_now: int = 0  # the gap's notes today (more than folded: write the draft again to fold them)


@dataclass(frozen=True)
class DigestInfo:
    day: dt.date
    channel: str
    header_ts: str | None
    count: int
    reviewed: int
    flagged: int


def _info(item: DigestItem) -> ItemInfo:
    return ItemInfo(item.id, item.conversation_id, item.channel, item.slack_ts)


# --- digest items ---------------------------------------------------------------------------------
def find_item(services: Services, *, channel: str, ts: str) -> ItemInfo | None:
    """The digest item posted as message (channel, ts), if that message is one."""
    with services.session() as s:
        item = s.scalar(select(DigestItem).where(DigestItem.channel == channel, DigestItem.slack_ts == ts))
        return _info(item) if item is not None else None


def get_item(services: Services, item_id: int) -> ItemInfo:
    with services.session() as s:
        item = s.get(DigestItem, item_id)
        if item is None:
            raise NotFound(f"Digest item {item_id} no longer exists. Use the latest digest.")
        return _info(item)


def digest_item(services: Services, item_id: int) -> DigestItemData:
    """The digest item as it is now: its review and its newest gap that was not dismissed
    (`bot.present.digest_item_view` renders it: fixed once verified)."""
    with services.session() as s:
        item = s.scalar(
            select(DigestItem).where(DigestItem.id == item_id)
            .options(selectinload(DigestItem.conversation).selectinload(Conversation.messages))
        )
        if item is None:
            raise NotFound(f"Digest item {item_id} no longer exists.")
        gap = s.scalar(
            select(Gap).join(GapConversation, GapConversation.gap_id == Gap.id)
            .where(GapConversation.conversation_id == item.conversation_id, Gap.state != GapState.DISMISSED.value)
            .order_by(Gap.id.desc())
        )
        return item_data(item, gap)


# --- gap threads ----------------------------------------------------------------------------------
def attach_thread(services: Services, *, gap_id: int, channel: str, ts: str, item_id: int | None = None) -> bool:
    """Remember the gap's Slack thread (the digest item it was flagged on). The first thread wins;
    returns True when it was set by this call. (Flagging from Slack attaches it in the flag's own
    transaction: `gaps.flag(thread=...)`.)"""
    with services.session() as s:
        return attach_in(s, get_gap(s, gap_id), ThreadRef(channel, ts, item_id))


def gap_for_thread(services: Services, *, channel: str, thread_ts: str) -> int | None:
    """The gap whose thread this is (the newest, if a thread ever held several)."""
    with services.session() as s:
        return s.scalar(
            select(Gap.id).where(Gap.thread_channel == channel, Gap.thread_ts == thread_ts).order_by(Gap.id.desc())
        )


def gap_thread(services: Services, gap_id: int) -> tuple[str, str] | None:
    with services.session() as s:
        gap = get_gap(s, gap_id)
        return (gap.thread_channel, gap.thread_ts) if gap.thread_channel and gap.thread_ts else None


def gap_item(services: Services, gap_id: int) -> ItemInfo | None:
    """The digest item the gap was flagged on, if any."""
    with services.session() as s:
        gap = get_gap(s, gap_id)
        item = s.get(DigestItem, gap.digest_item_id) if gap.digest_item_id else None
        return _info(item) if item is not None else None


def active_gap_for(services: Services, conversation_id: int) -> int | None:
    """The active gap this conversation belongs to, if any."""
    with services.session() as s:
        return s.scalar(
            select(Gap.id).join(GapConversation, GapConversation.gap_id == Gap.id)
            .where(GapConversation.conversation_id == conversation_id,
                   Gap.state.in_([st.value for st in ACTIVE_GAP_STATES]))
            .order_by(Gap.id.desc())
        )


# --- read models ----------------------------------------------------------------------------------
def gap_rows(
    services: Services, *, states: Sequence[GapState] = ACTIVE_GAP_STATES, user: str | None = None, limit: int = 50
) -> tuple[list[GapRow], int]:
    """Gaps in `states`, oldest first, with their conversation ref and number of flaggers; `user` keeps the
    gaps they own or flagged. Returns (rows, total before the limit)."""
    flaggers = (
        select(GapFlagger.gap_id, func.count().label("n")).group_by(GapFlagger.gap_id).subquery()
    )
    where: list[ColumnElement[bool]] = [Gap.state.in_([st.value for st in states])]
    if user:
        mine = select(GapFlagger.gap_id).where(GapFlagger.user_id == user)
        where.append(or_(Gap.owner == user, Gap.id.in_(mine)))
    with services.session() as s:
        total = s.scalar(select(func.count()).select_from(Gap).where(*where)) or 0
        rows = s.execute(
            select(Gap, Conversation.external_id, func.coalesce(flaggers.c.n, 0))
            .join(Conversation, Conversation.id == Gap.conversation_id)
            .outerjoin(flaggers, flaggers.c.gap_id == Gap.id)
            .where(*where).order_by(Gap.flagged_at, Gap.id).limit(limit)
        ).all()
        out = [
            GapRow(g.id, g.title, g.state, g.kind, ref, g.flagged_by, g.owner, g.flagged_at, n,
                   g.thread_channel, g.thread_ts)
            for g, ref, n in rows
        ]
    return out, total


def current_draft(services: Services, gap_id: int) -> DraftInfo | None:
    with services.session() as s:
        get_gap(s, gap_id)
        draft = latest_draft(s, gap_id)
        if draft is None:
            return None
        revision = s.scalar(select(func.count()).select_from(Draft).where(Draft.gap_id == gap_id)) or 1
        last_test = s.scalar(
            select(ReplayRun.verdict).where(ReplayRun.draft_id == draft.id, ReplayRun.kind == ReplayKind.SHADOW.value)
            .order_by(ReplayRun.id.desc())
        )
        notes_now = s.scalar(select(func.count()).select_from(GapNote).where(GapNote.gap_id == gap_id)) or 0
        return DraftInfo(gap_id, draft.id, draft.title, draft.body, revision, draft.provider, draft.created_by,
                         last_test, draft.notes_folded, notes_now)


def last_digest(services: Services) -> DigestInfo | None:
    with services.session() as s:
        digest = s.scalar(select(Digest).order_by(Digest.day.desc(), Digest.id.desc()))
        if digest is None:
            return None
        statuses = dict(s.execute(
            select(DigestItem.review_status, func.count()).where(DigestItem.digest_id == digest.id)
            .group_by(DigestItem.review_status)
        ).all())
        count = sum(statuses.values())
        pending = statuses.get(ReviewStatus.PENDING.value, 0)
        return DigestInfo(digest.day, digest.channel, digest.header_ts, count, count - pending,
                          statuses.get(ReviewStatus.FLAGGED.value, 0))
