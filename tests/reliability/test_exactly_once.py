"""Nothing doubled: Slack's redeliveries, two reactions at once, a reply delivered twice, two bot instances
posting the digest, and a digest missed during downtime. Each test injects the duplicate and counts."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from sqlalchemy import event

import bot.jobs as jobs
from bot.services import Services, gaps
from bot.slack.client import make_web_client
from bot.slack.digest import PACE_SECONDS, catch_up, post_digest
from storage.models import AuditEvent, Gap, GapFlagger, GapNote, JobClaim, ProcessedEvent
from tests.support.factories import conversation, load
from tests.support.harness import ANA, BEN, REVIEW, wait
from tests.support.reliability import at_once, count, deliveries, instance, reaction, reply, thread_texts

CAROL = "UCAROL003"


def outlines(harness, item) -> int:  # type: ignore[no-untyped-def]
    return sum("Suggested article" in t for t in thread_texts(harness, item))


def test_an_event_redelivered_three_times_is_processed_once(harness, world, tally) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    for signed in deliveries(reaction(item, user=ANA), retries=3):  # the retries arrive while it still runs
        assert harness.dispatch(signed).status == 200
    tally.replayed(3)
    harness.thread_with(item, "Suggested article")
    harness.drain()
    assert tally.expect("gaps", expected=1, got=count(harness.services, Gap)) == 1
    assert tally.expect("outline messages", expected=1, got=outlines(harness, item)) == 1
    assert count(harness.services, ProcessedEvent) == 1


def test_a_late_retry_after_the_flag_was_withdrawn_does_not_flag_again(harness, world, tally) -> None:  # type: ignore[no-untyped-def]
    """Flagging is idempotent while the gap is open, so the test above passes even without the event dedupe.
    This one does not: flag, withdraw the flag (the gap is dismissed), then Slack's late retry of the first
    reaction (same event_id) arrives. Processed again, it would open a second gap."""
    item = world["c1"]
    first, late_retry = deliveries(reaction(item, user=ANA), retries=1)
    assert harness.dispatch(first).status == 200
    harness.thread_with(item, "Suggested article")
    assert harness.react("books", item, user=ANA, removed=True).status == 200
    harness.thread_with(item, "removed the flag")
    assert harness.dispatch(late_retry).status == 200
    tally.replayed(1)
    harness.drain()
    assert tally.expect("gaps", expected=1, got=count(harness.services, Gap)) == 1
    assert count(harness.services, Gap, Gap.state == "dismissed") == 1
    assert tally.expect("outline messages", expected=1, got=outlines(harness, item)) == 1


def test_redeliveries_at_once_on_two_instances(make_harness, services, world, db_url_engine, tally) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    with instance(db_url_engine[0], services.settings) as other:
        apps = [make_harness(services), make_harness(other)]
        flag, *retries = deliveries(reaction(item, user=ANA), retries=3)
        note = deliveries(reply(item, "note: Refunds take 5 days.", user=BEN, ts="1700000000.000900"), retries=1)
        statuses = at_once(*[lambda h=h, s=s: h.dispatch(s).status  # noqa: B023 - bound by the defaults
                             for h, s in zip(apps * 2, [flag, *retries], strict=True)])
        tally.replayed(3)
        apps[0].thread_with(item, "Suggested article")
        statuses += at_once(*[lambda h=h, s=s: h.dispatch(s).status for h, s in zip(apps, note, strict=True)])  # noqa: B023
        tally.replayed(1)
        for h in apps:
            h.drain()
    assert statuses == [200] * 6
    assert tally.expect("gaps", expected=1, got=count(services, Gap)) == 1
    assert tally.expect("outline messages", expected=1, got=outlines(apps[0], item)) == 1
    assert tally.expect("notes", expected=1, got=count(services, GapNote)) == 1


def test_two_users_reacting_at_once_make_one_gap(harness, world, tally) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    first, second = deliveries(reaction(item, user=ANA), 0)[0], deliveries(reaction(item, user=BEN), 0)[0]
    assert at_once(lambda: harness.dispatch(first).status, lambda: harness.dispatch(second).status) == [200, 200]
    tally.fault("simultaneous reactions")
    wait(lambda: any("flagged this too" in t for t in thread_texts(harness, item)), what="the co-flag notice")
    harness.drain()
    assert tally.expect("gaps", expected=1, got=count(harness.services, Gap)) == 1
    assert tally.expect("outline messages", expected=1, got=outlines(harness, item)) == 1
    assert count(harness.services, GapFlagger) == 2


def test_flag_is_serialized_per_conversation(services, world, db_url_engine, tally) -> None:  # type: ignore[no-untyped-def]
    """Eight flags at once from two instances (the same user twice, as a double reaction) → one gap."""
    cid = world["c1"].conversation_id
    users = [ANA, ANA, BEN, BEN, CAROL, ANA, BEN, CAROL]
    with instance(db_url_engine[0], services.settings) as other:
        results = at_once(*[lambda u=u, svc=svc: gaps.flag(svc, conversation_id=cid, user=u)  # noqa: B023
                            for u, svc in zip(users, [services, other] * 4, strict=True)])
    tally.fault("concurrent flags", len(users) - 1)
    assert tally.expect("gaps", expected=1, got=count(services, Gap)) == 1
    assert sum(r.created for r in results) == 1 and {r.gap_id for r in results} == {results[0].gap_id}
    assert tally.expect("flaggers", expected=3, got=count(services, GapFlagger)) == 3
    assert count(services, AuditEvent, AuditEvent.action == "flagged") == 1


def test_a_reply_recorded_between_check_and_insert_is_already_recorded(services, world, tally) -> None:  # type: ignore[no-untyped-def]
    """The other delivery's insert lands after our duplicate check: the unique constraint decides."""
    gap_id = gaps.flag(services, conversation_id=world["c1"].conversation_id, user=ANA).gap_id
    injected: list[int] = []

    def competing_insert(session, flush_context, instances) -> None:  # type: ignore[no-untyped-def]
        if not injected and any(isinstance(o, GapNote) for o in session.new):
            injected.append(1)
            with services.engine.begin() as conn:
                conn.execute(GapNote.__table__.insert().values(
                    gap_id=gap_id, author=BEN, text="Refunds take 5 days.", source_ref="1700000000.000777",
                    created_at=services.clock()))

    event.listen(services.session_factory, "before_flush", competing_insert)
    try:
        note_id = gaps.add_note(services, gap_id=gap_id, author=BEN, text="Refunds take 5 days.",
                                source_ref="1700000000.000777")
    finally:
        event.remove(services.session_factory, "before_flush", competing_insert)
    tally.replayed(1)
    assert injected and note_id == 0  # "already recorded", not an error
    assert tally.expect("notes", expected=1, got=count(services, GapNote)) == 1


@pytest.fixture
def many(services: Services, tmp_path: Path) -> Services:
    load(services, tmp_path, [conversation(f"d{i}", gap=i % 2 == 0) for i in range(6)], name="digest.jsonl")
    return services


def test_two_instances_post_the_digest_once(many, db_url_engine, slack, tally, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("bot.slack.digest.PACE_SECONDS", 0.0)
    day, size = dt.date(2026, 11, 20), many.settings.digest_size
    with instance(db_url_engine[0], many.settings) as other:
        clients = [make_web_client(many.settings), make_web_client(other.settings)]
        results = at_once(
            lambda: post_digest(many, clients[0], day=day, channel=REVIEW),
            lambda: post_digest(other, clients[1], day=day, channel=REVIEW),
            lambda: jobs.digest_job(other, clients[1], now=dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)),
        )
        tally.fault("concurrent digest runs", 2)
        assert sorted(r.status for r in results).count("posted") == 1
        with instance(db_url_engine[0], many.settings) as restarted:  # a restart the same day
            assert post_digest(restarted, clients[0], day=day, channel=REVIEW).status == "already_posted"
    posted = [c for c in slack.calls_to("chat.postMessage") if c.ok]
    assert tally.expect("digest messages", expected=size + 1, got=len(posted)) == size + 1
    assert len({c.response["ts"] for c in posted}) == size + 1


def test_a_digest_missed_during_downtime_is_caught_up_once(many, db_url_engine, slack, tally) -> None:  # type: ignore[no-untyped-def]
    """Both instances come back at 15:00 (the digest was due at 09:00): one posts it, the other waits for
    that run and finds it done; the next digest day's scheduled run (Monday: not on weekends) posts its digest."""
    back = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)

    def sleep(seconds: float) -> None:  # the pacing, or the loser's wait for the winner's lease
        deadline = time.monotonic() + 30
        while seconds > PACE_SECONDS and time.monotonic() < deadline and not count(
                many, JobClaim, JobClaim.finished_at.is_not(None)):
            time.sleep(0.05)

    with instance(db_url_engine[0], many.settings) as other:
        results = at_once(lambda: catch_up(many, make_web_client(many.settings), now=back, sleep=sleep),
                          lambda: catch_up(other, make_web_client(other.settings), now=back, sleep=sleep))
        tally.fault("downtime over digest time")
        assert sorted(r.status for r in results) == ["already_posted", "posted"]
        next_day = jobs.digest_job(other, make_web_client(other.settings), now=back + dt.timedelta(days=2, hours=18))
    size = many.settings.digest_size
    days = [c.params["text"] for c in slack.calls_to("chat.postMessage") if c.ok and "digest for" in c.params["text"]]
    assert next_day is not None and next_day.status == "posted"
    assert tally.expect("digest headers", expected=2, got=len(days)) == 2
    assert "2026-11-20" in days[0] and "2026-11-23" in days[1]
    assert tally.expect("digest messages", expected=2 * (size + 1),
                        got=len([c for c in slack.calls_to("chat.postMessage") if c.ok])) == 2 * (size + 1)


def test_old_event_ids_are_pruned_and_fresh_ones_kept(services, tally) -> None:  # type: ignore[no-untyped-def]
    from bot.services import events

    now = services.clock()
    with services.session() as s:
        s.add_all([ProcessedEvent(event_id="EvOLD", received_at=now - events.KEEP - dt.timedelta(minutes=1)),
                   ProcessedEvent(event_id="EvFRESH", received_at=now - dt.timedelta(minutes=5))])
    assert events.prune(services) == 1
    assert events.first_delivery(services, "EvFRESH") is False  # a late retry of a fresh event: still a duplicate
    tally.replayed(1)
    assert events.first_delivery(services, "EvNEW") is True
    assert count(services, ProcessedEvent) == 2
