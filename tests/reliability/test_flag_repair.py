"""A flag is one unit of work. Slack failing half-way through a flag (after the gap is written, before its
thread message is complete) leaves a gap that the next flag on the conversation finishes: a repeated
reaction by the same or another user, or the digest item's flag button. Exactly once: one gap, one thread
message, one outline. Driven by signed Slack requests against the mock Slack Web API."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services.gap_thread import JOB
from handlers.ids import ActionId
from storage.models import Gap, GapFlagger, JobClaim, Outline
from tests.support.harness import ANA, BEN, REVIEW, texts, wait
from tests.support.reliability import count


def claim_released(services) -> bool:  # type: ignore[no-untyped-def]
    """The failed attempt gave its claim on the thread message back (its listener has finished)."""
    return count(services, JobClaim, JobClaim.job_name == JOB, JobClaim.owner.is_(None),
                 JobClaim.finished_at.is_(None)) == 1


def the_gap(services) -> Gap:  # type: ignore[no-untyped-def]
    with services.session() as s:
        gaps = list(s.scalars(select(Gap)))
        assert len(gaps) == 1, f"{len(gaps)} gaps"
        return gaps[0]


def assert_finished_once(harness, item, tally) -> None:  # type: ignore[no-untyped-def]
    harness.thread_with(item, "Suggested article")
    harness.drain()
    gap = the_gap(harness.services)
    assert (gap.thread_channel, gap.thread_ts, gap.digest_item_id) == (item.channel, item.ts, item.item_id)
    replies = harness.thread(item)
    assert tally.expect("gap messages in the thread", expected=1, got=len(replies)) == 1
    assert "Suggested article" in texts(replies[0]) and "Drafting" not in texts(replies[0])
    assert tally.expect("outlines", expected=1, got=count(harness.services, Outline)) == 1
    assert count(harness.services, JobClaim, JobClaim.job_name == JOB, JobClaim.finished_at.is_not(None)) == 1
    assert "Flagged as a knowledge gap" in texts(harness.message(item.channel, item.ts))  # the item's status


@pytest.mark.parametrize("again", [ANA, BEN], ids=["same-user", "another-user"])
def test_update_fails_mid_flag_then_a_repeated_reaction_finishes_it(harness, world, tally, again) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    harness.slack.fail_next("chat.update", error="internal_error")  # not retried: the listener fails
    tally.fault("slack chat.update failed mid-flag")
    assert harness.react("books", item, user=ANA).status == 200
    wait(lambda: claim_released(harness.services), what="the failed flag to give its claim back")
    gap = the_gap(harness.services)
    assert gap.thread_ts == item.ts  # attached with the gap, in the same transaction
    assert not any("Suggested article" in texts(m) for m in harness.thread(item))  # half-finished

    assert harness.react("books", item, user=again).status == 200
    assert_finished_once(harness, item, tally)
    with harness.services.session() as s:
        flaggers = set(s.scalars(select(GapFlagger.user_id)))
    assert flaggers == {ANA, again}


def test_post_fails_mid_flag_then_the_flag_button_finishes_it(harness, world, tally) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    harness.slack.fail_next("chat.postMessage", error="internal_error")
    tally.fault("slack chat.postMessage failed mid-flag")
    assert harness.react("books", item, user=ANA).status == 200
    wait(lambda: claim_released(harness.services), what="the failed flag to give its claim back")
    assert harness.thread(item) == []  # the gap exists, its thread message doesn't

    assert harness.click(REVIEW, item.ts, ActionId.FLAG, user=ANA).status == 200
    assert_finished_once(harness, item, tally)


def test_a_finished_flag_is_not_announced_again(harness, world, tally) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    harness.flag(item, user=ANA)
    for user in (ANA, BEN):
        assert harness.react("books", item, user=user).status == 200
    harness.thread_with(item, "flagged this too")
    harness.drain()
    assert tally.expect("outline messages", expected=1,
                        got=sum("Suggested article" in texts(m) for m in harness.thread(item))) == 1
    assert count(harness.services, Outline) == 1


def test_a_gap_flagged_from_the_cli_gets_its_thread_on_the_first_reaction(harness, world, tally) -> None:  # type: ignore[no-untyped-def]
    from bot.services.gaps import flag

    item = world["c1"]
    gap_id = flag(harness.services, conversation_id=item.conversation_id, user="cli").gap_id
    assert harness.react("books", item, user=ANA).status == 200
    assert_finished_once(harness, item, tally)
    assert the_gap(harness.services).id == gap_id
