"""What `job_claim` tells people and logs, its owner string, and `last_finished`'s filters.

Mutation testing showed these were unchecked: a skip with no message, log lines that lost the job they name
(or broke their own format), a failed release that went unlogged, and a "last finished" that counted other
jobs' or unfinished runs.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.orm import Session

from bot.services import Services
from bot.services import claims as claims_module
from bot.services.claims import LEASE, ClaimRun, ClaimStatus, NotClaimed, job_claim, last_finished
from storage.models import JobClaim
from tests.support.clock import Clock

T0 = dt.datetime(2026, 11, 20, 6, 0, tzinfo=dt.UTC)


def row(services: Services, *, job: str, period: str, owner: str | None, at: dt.datetime,
        finished: bool = False) -> None:
    with services.session() as s:
        s.add(JobClaim(job_name=job, period_key=period, owner=owner, claimed_at=at,
                       finished_at=at if finished else None))


def test_a_skip_says_which_job_period_and_why() -> None:
    skipped = NotClaimed("digest", "2026-W47", ClaimStatus.BUSY)
    assert str(skipped) == "job 'digest' period '2026-W47' not claimed: busy"
    assert (skipped.job, skipped.period, skipped.status) == ("digest", "2026-W47", ClaimStatus.BUSY)


def test_an_owner_is_host_pid_and_eight_hex_digits_cut_to_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(claims_module.socket, "gethostname", lambda: "h" * 200)
    host, pid, suffix = claims_module._owner().split(":")
    assert host == "h" * 80
    assert pid.isdigit()
    assert len(suffix) == 8
    int(suffix, 16)


def test_resuming_is_logged_with_the_job_and_period(services: Services, caplog: pytest.LogCaptureFixture) -> None:
    services.clock = Clock(T0)
    row(services, job="digest", period="p1", owner="crashed", at=T0 - LEASE * 2)
    with caplog.at_level(logging.INFO, logger="bot.services.claims"), job_claim(services, job="digest", period="p1"):
        pass
    assert "resuming job='digest' period='p1'" in [r.getMessage() for r in caplog.records]


def test_a_release_that_fails_is_logged_and_the_original_error_wins(
        services: Services, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    services.clock = Clock(T0)

    @contextmanager
    def broken() -> Iterator[Session]:
        raise ConnectionError("database went away")
        yield  # pragma: no cover - a generator, for contextmanager

    with caplog.at_level(logging.ERROR, logger="bot.services.claims"), pytest.raises(ValueError, match="the job"):
        with job_claim(services, job="digest", period="p2") as run:
            assert isinstance(run, ClaimRun)
            monkeypatch.setattr(services, "session", broken)  # releasing it fails
            raise ValueError("the job failed")
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in logged] == ["could not release job='digest' period='p2'"]
    assert logged[0].exc_info is not None


def test_last_finished_counts_only_this_jobs_finished_runs_before_the_period(services: Services) -> None:
    row(services, job="digest", period="2026-W45", owner=None, at=T0, finished=True)
    row(services, job="digest", period="2026-W46", owner="running", at=T0 + dt.timedelta(days=7))  # unfinished
    row(services, job="regress", period="2026-W46", owner=None, at=T0 + dt.timedelta(days=8), finished=True)
    row(services, job="digest", period="2026-W47", owner=None, at=T0 + dt.timedelta(days=14), finished=True)
    assert last_finished(services, "digest", before="2026-W47") == T0
    assert last_finished(services, "digest", before="2026-W45") is None
