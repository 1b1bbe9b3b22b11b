"""The daily recurrence job: conversations imported since the last scan that came back wrong after a fix are told in
the fixed gap's original thread, mentioning who fixed it, once.

Known world: refunds (r1) fixed 11-16 by bob, then rr1, rr2, rr4 went wrong (imported 11-18); passwords (p1) fixed
11-24 by bob, then pc1 went wrong (imported 11-25 08:00).
"""

from __future__ import annotations

import bot.jobs as jobs
from bot.services.stats import weekly_stats
from storage.models import JobClaim
from tests.insights_slack.conftest import BOB, REVIEW
from tests.support.harness import texts
from tests.support.world import NOW, World, t


def replies(slack, thread: tuple[str, str]) -> list[dict]:  # type: ignore[no-untyped-def, type-arg]
    channel, ts = thread
    return [m for m in slack.thread(channel, ts) if m["ts"] != ts]


def test_a_recurrence_is_posted_in_the_fixed_gaps_thread_once(world: World, threads, client, slack) -> None:  # type: ignore[no-untyped-def]
    p1, r1 = threads[world.gap["p1"]], threads[world.gap["r1"]]
    assert jobs.recurrence_job(world.services, client, now=NOW) == 1  # first run: the last day only
    (notice,) = replies(slack, p1)
    text = texts(notice["blocks"])
    assert "This came back: conversation `pc1` on 2026-11-25 still went wrong (escalated)" in text
    assert f"— <@{BOB}>" in text and f"gap #{world.gap['p1']}" in text  # bob published the fix
    assert replies(slack, r1) == []  # r1's recurrences were imported a week ago: outside the first window

    world.at(t("2026-11-25 13:00"))  # the same day again (another instance): the claim holds
    assert jobs.recurrence_job(world.services, client, now=t("2026-11-25 13:00")) == 0
    world.at(t("2026-11-26 07:00"))  # the next morning: nothing new since yesterday's scan
    assert jobs.recurrence_job(world.services, client, now=t("2026-11-26 07:00")) == 0
    assert len(replies(slack, p1)) == 1 and len(slack.calls_to("chat.postMessage")) == 1


def test_the_scan_starts_where_the_last_one_did(world: World, threads, client, slack) -> None:  # type: ignore[no-untyped-def]
    with world.services.session() as s:  # the bot last scanned on 11-17 (then was down for a week)
        s.add(JobClaim(job_name="recurrences", period_key="2026-11-17", owner="old", claimed_at=t("2026-11-17 07:00"),
                       finished_at=t("2026-11-17 07:01")))
    assert jobs.recurrence_job(world.services, client, now=NOW) == 2
    (refunds,) = replies(slack, threads[world.gap["r1"]])
    body = texts(refunds["blocks"])
    assert f"This came back 3 times — <@{BOB}>" in body  # one message per gap, each conversation listed
    for ref, why in (("rr1", "escalated, unresolved, low CSAT"), ("rr2", "agent said it did not know"),
                     ("rr4", "escalated")):
        assert f"conversation `{ref}` on 2026-11-18 still went wrong ({why})" in body
    assert len(replies(slack, threads[world.gap["p1"]])) == 1
    assert {c.params["channel"] for c in slack.calls_to("chat.postMessage")} == {REVIEW}
    # counted in the stats of the week they were found
    assert week_recurrences(world) == 4


def week_recurrences(world: World) -> int:
    return weekly_stats(world.services, now=NOW, weeks=1).current.recurrences


def test_a_fixed_gap_without_a_thread_is_linked_but_not_posted(world: World, client, slack) -> None:  # type: ignore[no-untyped-def]
    assert jobs.recurrence_job(world.services, client, now=NOW) == 0  # no `threads` fixture: nowhere to post
    assert slack.calls_to("chat.postMessage") == []
    assert week_recurrences(world) == 1
