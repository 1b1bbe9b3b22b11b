"""Edges of `job_claim` that mutation testing showed the contract tests left open.

Each test names the mistake it would catch: resuming a finished claim, resuming another job's claim, a
resumed claim that keeps its old lease (so a third run steals it at once), and the lease boundary.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.services import Services
from bot.services.claims import LEASE, ClaimStatus, NotClaimed, job_claim
from storage.models import JobClaim
from tests.support.clock import Clock

T0 = dt.datetime(2026, 11, 20, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock(services: Services) -> Clock:
    c = Clock(T0)
    services.clock = c
    return c


def held(services: Services, *, job: str, period: str, owner: str | None, at: dt.datetime,
         finished: bool = False) -> None:
    """A claim row as another process left it (holding, crashed, released or finished)."""
    with services.session() as s:
        s.add(JobClaim(job_name=job, period_key=period, owner=owner, claimed_at=at,
                       finished_at=at if finished else None))


def status(services: Services, job: str, period: str = "p") -> ClaimStatus:
    with pytest.raises(NotClaimed) as caught:
        with job_claim(services, job=job, period=period):
            pytest.fail("the block ran without the claim")
    return caught.value.status


def test_a_finished_claim_stays_done_long_after_its_lease(services: Services, clock: Clock) -> None:
    held(services, job="j", period="p", owner="gone", at=T0, finished=True)
    clock.now = T0 + LEASE * 10
    assert status(services, "j") is ClaimStatus.DONE


def test_a_stale_claim_of_another_job_is_not_taken_over(services: Services, clock: Clock) -> None:
    held(services, job="other", period="p", owner="crashed", at=T0 - LEASE * 2)  # stale, another job
    held(services, job="j", period="p", owner="alive", at=T0)  # ours, held by a live run
    assert status(services, "j") is ClaimStatus.BUSY
    with services.session() as s:
        owners = dict(s.execute(select(JobClaim.job_name, JobClaim.owner)).tuples().all())
    assert owners == {"other": "crashed", "j": "alive"}


def test_a_resumed_claim_gets_a_fresh_lease(services: Services, clock: Clock) -> None:
    held(services, job="j", period="p", owner="crashed", at=T0 - LEASE * 2)
    with job_claim(services, job="j", period="p") as run:
        with services.session() as s:
            taken = s.scalar(select(JobClaim).where(JobClaim.job_name == "j"))
            assert taken is not None
            assert taken.owner == run.owner
            assert taken.claimed_at.replace(tzinfo=dt.UTC) == T0  # renewed: a third run sees it busy
        assert status(services, "j") is ClaimStatus.BUSY


def test_the_lease_runs_out_only_after_the_whole_lease(services: Services, clock: Clock) -> None:
    held(services, job="j", period="p", owner="slow", at=T0 - LEASE)  # exactly one lease old: still held
    assert status(services, "j") is ClaimStatus.BUSY
    clock.now = T0 + dt.timedelta(seconds=1)
    with job_claim(services, job="j", period="p"):
        pass


def test_a_released_claim_is_resumed_at_once(services: Services, clock: Clock) -> None:
    held(services, job="j", period="p", owner=None, at=T0)  # released by a run that failed
    ran = []
    with job_claim(services, job="j", period="p"):
        ran.append(True)
    assert ran == [True]
    assert status(services, "j") is ClaimStatus.DONE
