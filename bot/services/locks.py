"""One run at a time across instances: a lock held as a job claim (`bot/services/claims.py`) whose lease is
renewed while the work runs and which is given back when it ends (a crashed holder's lock expires after LEASE).

Used by the conversation pulls (`pull:<source>`) and the help-centre sync (`kb-sync:<source>`): a second run
while one is going raises the caller's `Busy` error and does nothing (`flywheel pull` / `kb sync` exit 75)."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.errors import FlywheelError
from bot.services import Services
from bot.services.claims import LEASE, ClaimRun, ClaimStatus, NotClaimed, job_claim
from storage.models import JobClaim

log = logging.getLogger(__name__)

LOCK_PERIOD = "running"  # the one claim period of a lock: the row exists while a run holds it
EXIT_BUSY = 75  # the CLI's exit code when another run holds the lock (EX_TEMPFAIL)
T = TypeVar("T")


class Busy(FlywheelError):
    """Another run holds the lock (this process or another): this one did nothing."""


def exclusive(services: Services, job: str, work: Callable[[ClaimRun], T], *, what: str,
              busy: type[Busy] = Busy) -> T:
    """Run `work` under the lock `job`; raises `busy` ("<what> is already running…") when it is held."""
    job = job[:64]
    for attempt in range(2):
        try:
            with job_claim(services, job=job, period=LOCK_PERIOD) as run:
                run.on_finish(functools.partial(_unlock, run))  # the lock is free again
                with _lease_kept(services, run):
                    return work(run)
        except NotClaimed as skipped:
            if skipped.status is ClaimStatus.DONE and attempt == 0:  # a lock row finished by hand: not a run
                _forget(services, job, finished=True)
                continue
            raise busy(_busy_message(services, what, job)) from None
        except BaseException:
            _forget(services, job)  # released by job_claim; nothing to resume: the caller's cursor says where
            raise
    raise busy(_busy_message(services, what, job))  # pragma: no cover - the loop returns or raises


def _unlock(run: ClaimRun, session: Session) -> None:
    session.execute(delete(JobClaim).where(*run.mine()))


@contextmanager
def _lease_kept(services: Services, run: ClaimRun, every: float = LEASE.total_seconds() / 3) -> Iterator[None]:
    """Renew the lock's lease while the work runs (a long page fetched, a slow model)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            try:
                with services.session() as s:
                    run.heartbeat(s)
            except Exception:  # noqa: BLE001 - a missed heartbeat only shortens the lease
                log.exception("lock lease not renewed job=%r", run.job)

    keeper = threading.Thread(target=beat, name=f"{run.job}-lease", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        stop.set()
        keeper.join(timeout=5)


def _forget(services: Services, job: str, *, finished: bool = False) -> None:
    """Drop a released (ownerless, unfinished) lock row after a failed run, or a finished one; never raises."""
    released = JobClaim.owner.is_(None) & JobClaim.finished_at.is_(None)
    state = JobClaim.finished_at.is_not(None) if finished else released
    try:
        with services.session() as s:
            s.execute(delete(JobClaim).where(JobClaim.job_name == job, JobClaim.period_key == LOCK_PERIOD, state))
    except Exception:  # noqa: BLE001 - the next run resumes the released claim anyway
        log.exception("could not drop the lock job=%r", job)


def _busy_message(services: Services, what: str, job: str) -> str:
    with services.session() as s:
        since = s.scalar(select(JobClaim.claimed_at).where(JobClaim.job_name == job,
                                                           JobClaim.period_key == LOCK_PERIOD))
    when = f" (its lease was last renewed at {since:%Y-%m-%d %H:%M:%S} UTC)" if since is not None else ""
    return f"{what} is already running{when}; this one did nothing. Run it again when that one has finished."
