"""The claim on a gap's thread message (`bot.services.gap_thread`), through `gaps.flag(thread=...)`: the gap,
its thread and the claim are one transaction; a released or expired claim goes to the next flag; a finished
one to nobody."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.services import Services, gap_thread
from bot.services.conversations import resolve
from bot.services.gaps import flag
from bot.services.threads import attach_thread
from storage.models import Gap
from tests.support.factories import conversation, load

THREAD = gap_thread.ThreadRef("CREVIEW", "1700000000.000100", None)
T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def svc(services: Services, tmp_path) -> Services:  # type: ignore[no-untyped-def]
    load(services, tmp_path, [conversation("c1", gap=True)])
    services.clock = lambda: T0
    return services


def flag_c1(services: Services, user: str, thread: gap_thread.ThreadRef | None = THREAD):  # type: ignore[no-untyped-def]
    return flag(services, conversation_id=resolve(services, "c1"), user=user, thread=thread)


def test_a_new_gap_comes_with_its_thread_and_the_claim(svc: Services) -> None:
    first = flag_c1(svc, "U1")
    assert first.created and first.announcement is not None and first.announcement.gap_id == first.gap_id
    with svc.session() as s:
        gap = s.get(Gap, first.gap_id)
        assert (gap.thread_channel, gap.thread_ts) == (THREAD.channel, THREAD.ts)
    assert flag_c1(svc, "U2").announcement is None  # the first flag is still posting: busy


def test_a_released_claim_goes_to_the_next_flag_and_a_finished_one_to_nobody(svc: Services) -> None:
    first = flag_c1(svc, "U1")
    gap_thread.release(svc, first.announcement)  # type: ignore[arg-type]
    again = flag_c1(svc, "U1")
    assert again.gap_id == first.gap_id and not again.joined and again.announcement is not None
    gap_thread.finish(svc, first.announcement)  # type: ignore[arg-type]  # not the owner any more: no effect
    assert flag_c1(svc, "U2").announcement is None  # the second holder is still at it
    gap_thread.finish(svc, again.announcement)  # type: ignore[arg-type]
    svc.clock = lambda: T0 + gap_thread.LEASE * 3
    assert flag_c1(svc, "U3").announcement is None


def test_a_crashed_claim_expires_after_the_lease(svc: Services) -> None:
    first = flag_c1(svc, "U1")  # never finished nor released: the process died
    svc.clock = lambda: T0 + gap_thread.LEASE - dt.timedelta(seconds=1)
    assert flag_c1(svc, "U2").announcement is None
    svc.clock = lambda: T0 + gap_thread.LEASE + dt.timedelta(seconds=1)
    taken = flag_c1(svc, "U3").announcement
    assert taken is not None and taken.gap_id == first.gap_id and taken.owner != first.announcement.owner  # type: ignore[union-attr]


def test_gaps_from_before_claims_and_from_the_cli(svc: Services) -> None:
    cli = flag_c1(svc, "U1", thread=None)  # the CLI: no thread, no claim
    assert cli.created and cli.announcement is None
    attach_thread(svc, gap_id=cli.gap_id, channel="CREVIEW", ts="1700000000.000999")  # type: ignore[arg-type]
    assert flag_c1(svc, "U2").announcement is None  # had a thread before claims existed: it was posted then
    with svc.session() as s:
        assert s.get(Gap, cli.gap_id).thread_ts == "1700000000.000999"  # the first thread wins


def test_a_cli_gap_without_a_thread_is_announced_by_the_first_slack_flag(svc: Services) -> None:
    cli = flag_c1(svc, "U1", thread=None)
    slack = flag_c1(svc, "U2")
    assert slack.gap_id == cli.gap_id and slack.joined and slack.announcement is not None
    with svc.session() as s:
        assert s.get(Gap, cli.gap_id).thread_ts == THREAD.ts
