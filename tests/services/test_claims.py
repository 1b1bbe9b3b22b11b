"""`job_claim`: exactly once per (job, period) on a real database (SQLite and PostgreSQL).

The scheduled jobs and the digest are tested through it end to end (tests/slack_app, tests/insights_slack,
tests/reliability); these tests pin the context manager's own contract.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.services import Services
from bot.services.claims import LEASE, ClaimStatus, NotClaimed, job_claim, last_finished
from storage.models import JobClaim
from tests.support.clock import Clock

T0 = dt.datetime(2026, 11, 20, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock(services: Services) -> Clock:
    c = Clock(T0)
    services.clock = c
    return c


def row(services: Services, job: str = "j", period: str = "p") -> JobClaim:
    with services.session() as s:
        found = s.scalar(select(JobClaim).where(JobClaim.job_name == job, JobClaim.period_key == period))
        assert found is not None
        s.expunge(found)
        return found


def status_of(services: Services, job: str = "j", period: str = "p") -> ClaimStatus:
    with pytest.raises(NotClaimed) as caught:
        with job_claim(services, job=job, period=period):
            pytest.fail("the block ran without the claim")
    assert (caught.value.job, caught.value.period) == (job, period)
    return caught.value.status


def test_a_finished_claim_is_done_and_the_block_does_not_run_again(services: Services, clock: Clock) -> None:
    ran = []
    with job_claim(services, job="j", period="p") as run:
        ran.append(run.owner)
    assert row(services).finished_at is not None and row(services).owner == ran[0]
    assert status_of(services) is ClaimStatus.DONE
    with job_claim(services, job="j", period="other"):  # another period is another claim
        ran.append("other")
    assert len(ran) == 2


def test_a_held_claim_is_busy_until_its_lease_runs_out(services: Services, clock: Clock) -> None:
    with job_claim(services, job="j", period="p") as run:
        assert status_of(services) is ClaimStatus.BUSY  # another process, while this one works
        clock.now += LEASE - dt.timedelta(seconds=1)
        with services.session() as s:
            run.heartbeat(s)  # progress renews the lease
        clock.now += LEASE - dt.timedelta(seconds=1)
        assert status_of(services) is ClaimStatus.BUSY
        clock.now += dt.timedelta(seconds=2)  # now older than the lease: it belongs to a crashed run
        with job_claim(services, job="j", period="p") as taker:
            assert taker.owner != run.owner
    assert row(services).owner == taker.owner  # the crashed run's late finish does not steal it back


def test_an_error_releases_the_claim_and_the_next_run_resumes_at_once(services: Services, clock: Clock) -> None:
    finished_too = []
    with pytest.raises(RuntimeError, match="half-way"):
        with job_claim(services, job="j", period="p") as run:
            run.on_finish(lambda session: finished_too.append(True))
            raise RuntimeError("half-way")
    claim = row(services)
    assert claim.owner is None and claim.finished_at is None and not finished_too
    with job_claim(services, job="j", period="p") as again:  # no waiting for the lease
        again.on_finish(lambda session: finished_too.append(True))
    assert row(services).finished_at is not None and finished_too == [True]


def test_keyboard_interrupt_releases_too(services: Services, clock: Clock) -> None:
    with pytest.raises(KeyboardInterrupt):
        with job_claim(services, job="j", period="p"):
            raise KeyboardInterrupt
    assert row(services).owner is None


def test_on_finish_runs_in_the_finishing_transaction(services: Services, clock: Clock) -> None:
    def fails(session: object) -> None:
        raise RuntimeError("finish failed")

    with pytest.raises(RuntimeError, match="finish failed"):
        with job_claim(services, job="j", period="p") as run:
            run.on_finish(fails)
    claim = row(services)
    assert claim.finished_at is None and claim.owner is None  # rolled back with it, and released


def test_last_finished_is_the_start_of_the_latest_finished_earlier_period(services: Services, clock: Clock) -> None:
    assert last_finished(services, "scan", before="2026-11-20") is None
    for day in ("2026-11-17", "2026-11-18"):
        clock.now = dt.datetime.fromisoformat(f"{day}T07:00:00+00:00")
        with job_claim(services, job="scan", period=day):
            pass
    with pytest.raises(RuntimeError):
        with job_claim(services, job="scan", period="2026-11-19"):
            raise RuntimeError("unfinished runs don't count")
    assert last_finished(services, "scan", before="2026-11-20") == dt.datetime(2026, 11, 18, 7, 0, tzinfo=dt.UTC)
    assert last_finished(services, "scan", before="2026-11-18") == dt.datetime(2026, 11, 17, 7, 0, tzinfo=dt.UTC)
