"""Retention of the work queue's leftovers: `queued_results` rows (`storage/models/ops.py: QueuedResult`).

Two kinds of rows live there: the results of a fanned-out regression run (`regression.fan_out`), which its gatherer
deletes when it is done, except those written after its deadline (the jobs stay queued and finish later) or while
no gatherer is left (it crashed); and the messages a job posted besides its placeholder (`bot/queue/posted.py`: a
long draft's continuations), kept so that a rerun of the job updates them. Both are only needed for a while: the
daily job (`bot/jobs.py: retention_job`) deletes them once they are older than FLYWHEEL_QUEUE_RESULTS_DAYS.

A batch (or a draft's parts, one key) goes as a whole, once its newest row is that old, and never before twice
FLYWHEEL_REGRESSION_DEADLINE: a gatherer waits for its batch at most the deadline, so a batch still being gathered
always has a younger row. A row added to a batch while it is being deleted stays (it is young) until a later day.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select

from bot.services import Services
from bot.services.claims import ClaimRun, NotClaimed, job_claim
from bot.services.conversation_scan import as_utc
from bot.settings import Settings
from storage.models import QueuedResult

log = logging.getLogger(__name__)

JOB = "queue-results-retention"  # the daily job's claim name
CHUNK = 500  # batches deleted per transaction: a first run on a year of rows never holds one long transaction


def keep_for(settings: Settings) -> dt.timedelta:
    """How old a batch's newest row must be before the batch goes: FLYWHEEL_QUEUE_RESULTS_DAYS, and at least twice
    FLYWHEEL_REGRESSION_DEADLINE (a wide margin over the longest a gatherer waits)."""
    return max(dt.timedelta(days=settings.queue_results_days), 2 * dt.timedelta(seconds=settings.regression_deadline))


def prune_queued_results(services: Services, *, now: dt.datetime, run: ClaimRun | None = None) -> int:
    """Delete the batches whose newest row is older than `keep_for`, CHUNK batches per transaction (each renewing
    `run`'s lease). Returns how many rows went."""
    cutoff = as_utc(now) - keep_for(services.settings)
    old = func.max(QueuedResult.created_at) < cutoff
    gone = 0
    while True:
        with services.session() as s:
            stale = list(s.scalars(select(QueuedResult.batch).group_by(QueuedResult.batch).having(old).limit(CHUNK)))
            if stale:
                done = s.execute(delete(QueuedResult).where(QueuedResult.batch.in_(stale),
                                                            QueuedResult.created_at < cutoff))
                gone += cast(CursorResult[Any], done).rowcount or 0
            if run is not None:
                run.heartbeat(s)
        if len(stale) < CHUNK:
            break
    log.info("queued results pruned rows=%d older_than=%s", gone, cutoff.isoformat())
    return gone


def prune_daily(services: Services, *, day: str, now: dt.datetime) -> int | None:
    """`prune_queued_results` once per `day` across instances (its claim). None: done today, or running elsewhere."""
    try:
        with job_claim(services, job=JOB, period=day) as run:
            return prune_queued_results(services, now=now, run=run)
    except NotClaimed as skipped:
        log.info("queued results retention skipped day=%s: %s", day, skipped.status)
        return None
