"""One run at a time across instances: a lock held as a job claim (`bot/services/claims.py`) whose lease is
renewed while the work runs and which is given back when it ends (a crashed holder's lock expires after LEASE).

Used by the conversation pulls (`pull:<source>`), the help-centre sync (`kb-sync:<source>`), `flywheel kb import`
(`kb-import`) and `flywheel weekly --force` (`weekly:<channel>`): a second run while one is going raises the caller's
`Busy` error and does nothing (the CLI exits 75).

A holder killed with SIGKILL (or by the OOM killer) cannot give its lock back. While it runs, a holder keeps a
beacon: a file named after its owner id, flock'ed, in a private folder of the temp dir. The kernel drops the flock
when the process dies, so a process of the same machine that finds the lock held, and its holder's beacon left
unlocked, takes the lock over at once instead of waiting out the lease. No beacon (another machine, another user, a
holder that could not write one) means alive: that holder's lock is left to its lease."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from bot.errors import FlywheelError
from bot.services import Services
from bot.services.claims import LEASE, ClaimRun, ClaimStatus, NotClaimed, job_claim
from storage.models import JobClaim

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no beacons, a dead holder's lock waits out its lease
    fcntl = None  # type: ignore[assignment]

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
    recovered: set[ClaimStatus] = set()  # each way out of a stale lock is tried once
    while True:
        try:
            with job_claim(services, job=job, period=LOCK_PERIOD) as run:
                run.on_finish(functools.partial(_unlock, run))  # the lock is free again
                with _beacon(run.owner), _lease_kept(services, run):
                    return work(run)
        except NotClaimed as skipped:
            if skipped.status not in recovered:
                recovered.add(skipped.status)
                if skipped.status is ClaimStatus.DONE:  # a lock row finished by hand: not a run
                    _forget(services, job, finished=True)
                    continue
                if _take_over_dead(services, job):  # its holder was killed: the lock is free
                    continue
            raise busy(_busy_message(services, what, job)) from None
        except BaseException:
            _forget(services, job)  # released by job_claim; nothing to resume: the caller's cursor says where
            raise


def _beacon_dir() -> Path | None:
    """This user's private folder of beacons; None when it cannot be trusted (not ours, a link) or made."""
    if fcntl is None:
        return None
    folder = Path(tempfile.gettempdir()) / f"flywheel-locks-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    return folder if info.st_uid == os.getuid() and folder.is_dir() and not folder.is_symlink() else None


def _beacon_path(folder: Path, owner: str) -> Path:
    return folder / f"{hashlib.sha256(owner.encode()).hexdigest()[:32]}.lock"


@contextmanager
def _beacon(owner: str) -> Iterator[None]:
    """A flock'ed file named after `owner` while the block runs (see the module's docstring). It appears under its
    name only once locked (made under a temporary name, then renamed), so an unlocked beacon is a dead holder's."""
    folder = _beacon_dir()
    fd = None
    if folder is not None:
        path, spare = _beacon_path(folder, owner), folder / f".{uuid.uuid4().hex}.tmp"
        try:
            fd = os.open(spare, os.O_CREAT | os.O_EXCL | os.O_RDWR | getattr(os, "O_NOFOLLOW", 0), 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.replace(spare, path)
        except OSError:
            log.info("no lock beacon (a kill -9 of this run leaves its lock to the lease) owner=%r", owner)
            if fd is not None:
                os.close(fd)
                spare.unlink(missing_ok=True)
            fd = None
    try:
        yield
    finally:
        if fd is not None and folder is not None:
            _beacon_path(folder, owner).unlink(missing_ok=True)  # before the lock row goes: never "dead" while ours
            os.close(fd)


def _take_over_dead(services: Services, job: str) -> bool:
    """Release the lock `job` if its holder is a process of this machine that died (its beacon left unlocked)."""
    folder = _beacon_dir()
    with services.session() as s:
        owner = s.scalar(select(JobClaim.owner).where(JobClaim.job_name == job, JobClaim.period_key == LOCK_PERIOD,
                                                      JobClaim.finished_at.is_(None)))
    if folder is None or not owner or not owner.startswith(f"{socket.gethostname()[:80]}:"):
        return False
    path = _beacon_path(folder, owner)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:  # no beacon: alive as far as we can tell
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # its holder has it: alive
        return False
    finally:
        os.close(fd)
    with services.session() as s:  # only that holder's row: a lock taken meanwhile by a live run is left alone
        result = cast(CursorResult[Any], s.execute(update(JobClaim).where(
            JobClaim.job_name == job, JobClaim.period_key == LOCK_PERIOD, JobClaim.owner == owner,
            JobClaim.finished_at.is_(None)).values(owner=None)))
    path.unlink(missing_ok=True)
    if result.rowcount == 1:
        log.info("took over the lock of a process that died job=%r", job)
    return True


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
