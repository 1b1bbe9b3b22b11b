"""A gap's Slack thread: which thread it lives in, and its message there (the flag acknowledgement and the
outline) posted exactly once, even when Slack fails half-way.

Flagging attaches the thread and claims the message in the same transaction as the gap itself
(`gaps.flag(thread=...)`). The claim is a `JobClaim` row ("gap-thread", gap id) used as a lease: the
caller posts, then `finish`es; a failure `release`s it at once, a crash lets it expire after `LEASE`.
A repeated flag (any user) or the flag button then finds the claim unfinished and takes it over, so a
half-finished gap is repaired by the next reaction. The message ts is recorded in the audit trail right
after posting, so a repair updates that message instead of posting a second one.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.services import Services
from bot.services.gap_state import audit, get_gap
from storage.models import AuditEvent, Gap, JobClaim

log = logging.getLogger(__name__)

JOB = "gap-thread"
LEASE = dt.timedelta(minutes=5)  # a claim not finished or released within this belongs to a crashed run
POSTED = "posted-in-slack"  # audit action that records the message ts


@dataclass(frozen=True)
class ThreadRef:
    """Where a gap is discussed: the digest item's message (its thread) in a channel."""

    channel: str
    ts: str
    item_id: int | None = None


@dataclass(frozen=True)
class Announcement:
    """The right (and duty) to post a gap's thread message: finish it, or release it on failure."""

    gap_id: int
    owner: str = field(default_factory=lambda: f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:12]}")


def attach(session: Session, gap: Gap, thread: ThreadRef) -> bool:
    """Remember the gap's thread in the caller's transaction. The first thread wins; True if set now."""
    if gap.thread_ts:
        return False
    gap.thread_channel, gap.thread_ts = thread.channel, thread.ts
    if thread.item_id is not None and gap.digest_item_id is None:
        gap.digest_item_id = thread.item_id
    return True


def claim(session: Session, gap: Gap, *, now: dt.datetime) -> Announcement | None:
    """In the caller's transaction: the announcement, if the gap's thread message is still to be posted and
    nobody holds a fresh claim on it. Call it before `attach`: a gap that had a thread but no claim row was
    announced before claims existed (or attached by hand) and counts as done."""
    where = (JobClaim.job_name == JOB, JobClaim.period_key == str(gap.id))
    row = session.execute(select(JobClaim.id, JobClaim.finished_at).where(*where)).first()
    a = Announcement(gap.id)
    if row is None:
        if gap.thread_ts:
            return None
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = (insert(JobClaim).values(job_name=JOB, period_key=str(gap.id), owner=a.owner, claimed_at=now)
                .on_conflict_do_nothing(index_elements=["job_name", "period_key"]).returning(JobClaim.id))
        return a if session.execute(stmt).scalar_one_or_none() is not None else None
    if row.finished_at is not None:
        return None
    stale = or_(JobClaim.owner.is_(None), JobClaim.claimed_at < now - LEASE)
    take = (update(JobClaim).where(JobClaim.id == row.id, JobClaim.finished_at.is_(None), stale)
            .values(owner=a.owner, claimed_at=now).execution_options(synchronize_session=False))
    taken = cast(CursorResult[Any], session.execute(take))
    if taken.rowcount == 1:
        log.info("resuming the thread message of gap_id=%r", gap.id)
        return a
    return None


def _mine(a: Announcement) -> tuple[ColumnElement[bool], ...]:
    return JobClaim.job_name == JOB, JobClaim.period_key == str(a.gap_id), JobClaim.owner == a.owner


def finish(services: Services, a: Announcement) -> None:
    with services.session() as s:
        s.execute(update(JobClaim).where(*_mine(a)).values(finished_at=services.clock()))


def release(services: Services, a: Announcement) -> None:
    """Give the claim back so the next flag finishes the work at once (never raises: the caller is already
    handling the error that stopped it; the lease then expires on its own)."""
    try:
        with services.session() as s:
            s.execute(update(JobClaim).where(*_mine(a)).values(owner=None))
    except Exception:  # noqa: BLE001
        log.exception("could not release the thread message claim of gap_id=%r", a.gap_id)


def record_message(services: Services, *, gap_id: int, channel: str, ts: str) -> None:
    """The gap's thread message was posted as (channel, ts): a repair updates it instead of posting again."""
    with services.session() as s:
        audit(s, get_gap(s, gap_id), POSTED, actor=None, now=services.clock(), channel=channel, ts=ts)


def posted_message(services: Services, gap_id: int) -> tuple[str, str] | None:
    """(channel, ts) of the gap's thread message, if one was posted."""
    with services.session() as s:
        detail = s.scalar(select(AuditEvent.detail).where(
            AuditEvent.entity == "gap", AuditEvent.entity_id == gap_id, AuditEvent.action == POSTED,
        ).order_by(AuditEvent.id.desc()))
    if not detail or not detail.get("channel") or not detail.get("ts"):
        return None
    return str(detail["channel"]), str(detail["ts"])
