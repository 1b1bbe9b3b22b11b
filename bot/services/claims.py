"""Exactly once per (job, period) across processes: one context manager every scheduled job uses.

    try:
        with job_claim(services, job="regressions", period="2026-11-20") as run:
            ...                      # the work; record progress with `run.heartbeat(session)`
    except NotClaimed as skipped:    # skipped.status: DONE (finished before) or BUSY (another run holds it)
        ...

A `JobClaim` row inserted with ON CONFLICT DO NOTHING is the gate. The claim is a lease renewed by each
`heartbeat`: a run that fails releases it at once (the next run resumes), a crashed one loses it after `LEASE`.
A body that completes marks the claim finished, with anything queued by `run.on_finish` in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.services import Services
from bot.services.conversation_scan import as_utc
from storage.models import JobClaim

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)  # an unfinished claim not renewed for this long belongs to a crashed run


class ClaimStatus(StrEnum):
    CLAIMED = "claimed"  # new, or resuming an unfinished run nobody holds
    DONE = "done"  # finished before
    BUSY = "busy"  # another run holds a fresh lease


class NotClaimed(Exception):  # noqa: N818 - a control-flow signal, not an error shown to anyone
    """The (job, period) was not claimed: it is done, or another run holds it."""

    def __init__(self, job: str, period: str, status: ClaimStatus) -> None:
        super().__init__(f"job {job!r} period {period!r} not claimed: {status}")
        self.job, self.period, self.status = job, period, status


def _owner() -> str:
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class ClaimRun:
    """A claim this process holds for the duration of a `with job_claim(...)` block."""

    services: Services
    job: str
    period: str
    owner: str = field(default_factory=_owner)
    _on_finish: list[Callable[[Session], None]] = field(default_factory=list, repr=False)

    def mine(self) -> tuple[ColumnElement[bool], ...]:
        return JobClaim.job_name == self.job, JobClaim.period_key == self.period, JobClaim.owner == self.owner

    def heartbeat(self, session: Session) -> None:
        """Renew the lease, in the caller's transaction (with the progress it records)."""
        session.execute(update(JobClaim).where(*self.mine()).values(claimed_at=self.services.clock()))

    def on_finish(self, action: Callable[[Session], None]) -> None:
        """Run `action` in the transaction that marks the claim finished (only if the block completes)."""
        self._on_finish.append(action)


def _take(run: ClaimRun) -> ClaimStatus:
    services, now = run.services, run.services.clock()
    insert = pg_insert if services.engine.dialect.name == "postgresql" else sqlite_insert
    where = (JobClaim.job_name == run.job, JobClaim.period_key == run.period)
    with services.session() as s:
        stmt = (insert(JobClaim).values(job_name=run.job, period_key=run.period, owner=run.owner, claimed_at=now)
                .on_conflict_do_nothing(index_elements=["job_name", "period_key"]).returning(JobClaim.id))
        if s.execute(stmt).scalar_one_or_none() is not None:  # RETURNING: rowcount is -1 on psycopg
            return ClaimStatus.CLAIMED
    with services.session() as s:  # resume an unfinished run that released its claim or crashed
        stale = or_(JobClaim.owner.is_(None), JobClaim.claimed_at < now - LEASE)
        resume = update(JobClaim).where(*where, JobClaim.finished_at.is_(None), stale)
        result = cast(CursorResult[Any], s.execute(resume.values(owner=run.owner, claimed_at=now)))
        if result.rowcount == 1:
            log.info("resuming job=%r period=%r", run.job, run.period)
            return ClaimStatus.CLAIMED
        finished = s.scalar(select(JobClaim.finished_at).where(*where))
    return ClaimStatus.DONE if finished is not None else ClaimStatus.BUSY


def _release(run: ClaimRun) -> None:
    """Give an unfinished claim back so the next run resumes it at once (never raises: the caller
    is already handling the error that stopped the run)."""
    try:
        with run.services.session() as s:
            s.execute(update(JobClaim).where(*run.mine()).values(owner=None))
    except Exception:  # noqa: BLE001 - the lease then expires on its own
        log.exception("could not release job=%r period=%r", run.job, run.period)


def _finish(run: ClaimRun) -> None:
    with run.services.session() as s:
        s.execute(update(JobClaim).where(*run.mine()).values(finished_at=run.services.clock()))
        for action in run._on_finish:
            action(s)


@contextmanager
def job_claim(services: Services, *, job: str, period: str) -> Iterator[ClaimRun]:
    """Hold the (job, period) claim for the block: raises `NotClaimed` (before the block runs) when it is
    done or busy; releases it if the block (or finishing) raises, KeyboardInterrupt included; else finishes it."""
    run = ClaimRun(services, job, period)
    status = _take(run)
    if status is not ClaimStatus.CLAIMED:
        log.info("not claimed job=%r period=%r status=%s", job, period, status)
        raise NotClaimed(job, period, status)
    try:
        yield run
        _finish(run)
    except BaseException:
        _release(run)  # a failed finish too: the next run resumes (what was recorded is not done twice)
        raise


def last_finished(services: Services, job: str, *, before: str) -> dt.datetime | None:
    """When the latest finished run of `job` with a period before `before` started (UTC)."""
    with services.session() as s:
        at = s.scalar(select(func.max(JobClaim.claimed_at)).where(
            JobClaim.job_name == job, JobClaim.period_key < before, JobClaim.finished_at.is_not(None)))
    return as_utc(at) if at is not None else None


def process_owner_prefix() -> str:
    """The start of every owner this process writes (`host:pid:`): each `ClaimRun` adds its own suffix."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:"


def release_process_claims(services: Services, *, prefix: str | None = None) -> int:
    """Give back every unfinished claim held by this process (graceful shutdown): the next start, or another
    instance, resumes them at once instead of waiting for the lease to expire. Returns how many."""
    held = JobClaim.owner.startswith(prefix or process_owner_prefix(), autoescape=True)
    with services.session() as s:
        result = cast(CursorResult[Any], s.execute(
            update(JobClaim).where(held, JobClaim.finished_at.is_(None)).values(owner=None)))
        released = int(result.rowcount or 0)
    if released:
        log.info("released job claims held by this process count=%d", released)
    return released
