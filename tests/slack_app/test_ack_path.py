"""The ack path (bot/slack/dedupe.py): signed requests through the real app answer at once; the slow part
(the stats, an App Home build, the dedupe record of a busy database) happens after the HTTP response.
Every "after" is proved with a threading.Event the test holds, never with a timing."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bot.app import create_app
from bot.services import Services, events
from bot.services.threads import ItemInfo
from bot.settings import Settings
from bot.slack import dedupe
from bot.slack.client import make_web_client
from handlers import commands, home, present
from storage.models import Gap, ProcessedEvent
from tests.support.harness import ANA, Harness, post_items, texts
from tests.support.mock_slack import MockSlack
from tests.support.reliability import count, deliveries, reaction

HOME = {"type": "app_home_opened", "user": ANA, "channel": "D0ANA", "tab": "home"}


@pytest.fixture
def harness(settings: Settings, services: Services, slack: MockSlack) -> Iterator[Harness]:
    h = Harness(create_app(settings, services, client=make_web_client(settings)), slack, services)
    yield h
    h.drain()  # no listener may outlive the test's database


@pytest.fixture
def item(loaded: Services, slack: MockSlack) -> ItemInfo:
    return post_items(loaded, slack, ["conv-0"])["conv-0"]


def test_stats_acks_with_a_placeholder_and_answers_through_the_response_url(harness: Harness, loaded) -> None:  # type: ignore[no-untyped-def]
    response = harness.command("stats", name="stats")
    assert response.status == 200 and "Working on it" in response.body
    answer = harness.slack.wait_for("webhook", timeout=15)[-1]
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.params["text"].startswith("Flywheel stats") and answer.params["response_type"] == "ephemeral"
    assert "Working on it" not in texts(answer.params.get("blocks") or [])


def test_help_needs_no_placeholder(harness: Harness, loaded) -> None:  # type: ignore[no-untyped-def]
    response = harness.command("help")
    assert response.status == 200 and response.body == ""
    assert "Flywheel help" in harness.slack.wait_for("webhook", timeout=15)[-1].params["text"]


def test_the_ack_returns_before_a_slow_stats_computation_finishes(harness: Harness, loaded,  # type: ignore[no-untyped-def]
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    started, release, lanes = threading.Event(), threading.Event(), []

    def slow_stats(services: Services, client: Any, inv: commands.Invocation) -> Any:
        lanes.append(threading.current_thread().name)
        started.set()
        assert release.wait(10)
        return present.notice("Flywheel stats, slowly")

    monkeypatch.setitem(commands.SUBCOMMANDS, "stats", (slow_stats, "Working on it…"))
    response = harness.command("stats")  # returns while slow_stats waits for `release`
    assert response.status == 200 and "Working on it" in response.body
    assert started.wait(10) and not harness.slack.calls_to("webhook")
    release.set()
    assert harness.slack.wait_for("webhook", timeout=10)[-1].params["text"] == "Flywheel stats, slowly"
    assert lanes[0].startswith("flywheel-work")  # not a thread the next command's ack() needs


def test_app_home_opened_while_it_is_built_builds_once_more_never_at_once(harness: Harness, loaded,  # type: ignore[no-untyped-def]
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    real, lock = home.weekly_report, threading.Lock()
    inside, most, entered, release = [0], [0], threading.Event(), threading.Event()

    def slow_report(*args: Any, **kwargs: Any) -> Any:
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        entered.set()
        try:
            assert release.wait(10)
            return real(*args, **kwargs)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(home, "weekly_report", slow_report)
    assert harness.event(HOME).status == 200
    assert entered.wait(10)  # the first build is running…
    assert harness.event(HOME).status == 200 and harness.event(HOME).status == 200  # …two more opens meanwhile
    release.set()
    harness.slack.wait_for("views.publish", 2, timeout=15)
    harness.drain()
    published = harness.slack.calls_to("views.publish")
    assert most[0] == 1  # never two builds of one user's Home at once
    assert len(published) == 2  # the build, then one more for the opens that came meanwhile
    assert all("Team backlog" in texts(c.json_param("view")) for c in published)


def test_event_retries_are_dropped_while_the_first_is_still_being_recorded(harness: Harness, item: ItemInfo,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy database: the first delivery is acked before its record is written; Slack's retries
    (X-Slack-Retry-Num 1 and 2) are dropped at once; the event runs once, when the record is in."""
    real, release, recorded = events.first_delivery, threading.Event(), []

    def busy(services: Services, event_id: str) -> bool:
        recorded.append(event_id)
        assert release.wait(10)
        return real(services, event_id)

    monkeypatch.setattr(dedupe.events, "first_delivery", busy)
    first, *retries = deliveries(reaction(item, user=ANA), retries=2)
    assert [r.headers.get("x-slack-retry-num") for r in retries] == ["1", "2"]
    assert harness.dispatch(first).status == 200  # acked while `busy` waits for `release`
    assert [harness.dispatch(r).status for r in retries] == [200, 200]
    assert count(harness.services, ProcessedEvent) == 0
    release.set()
    harness.thread_with(item, "Suggested article")
    harness.drain()
    assert len(recorded) == 1
    assert count(harness.services, Gap) == 1 and count(harness.services, ProcessedEvent) == 1
    assert sum("Suggested article" in texts(m) for m in harness.thread(item)) == 1


def test_a_late_record_that_another_instance_won_runs_nothing(harness: Harness, item: ItemInfo,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    real, release = events.first_delivery, threading.Event()
    (signed,) = deliveries(reaction(item, user=ANA), retries=0)
    assert real(harness.services, json.loads(signed.body)["event_id"])  # the other instance recorded it first

    def busy(services: Services, event_id: str) -> bool:
        assert release.wait(10)
        return real(services, event_id)

    monkeypatch.setattr(dedupe.events, "first_delivery", busy)
    assert harness.dispatch(signed).status == 200
    release.set()
    harness.drain()
    assert count(harness.services, Gap) == 0 and not harness.thread(item)


def test_recent_ids_forget_the_oldest_beyond_their_size() -> None:
    recent = dedupe.RecentIds(size=2)
    assert recent.add("Ev1") and recent.add("Ev2") and not recent.add("Ev1")
    assert recent.add("Ev3")  # Ev2, the least recently seen, is forgotten
    assert recent.add("Ev2") and not recent.add("Ev3")
    recent.forget("Ev3")
    assert recent.add("Ev3")


def test_lanes_send_events_to_work_and_the_rest_to_ack() -> None:
    lanes = dedupe.Lanes(ack_threads=1, work_threads=1, record_threads=1)
    try:
        names = []
        for body in ({"type": "event_callback"}, {"command": "/flywheel"}, {"type": "block_actions"}):
            lanes.choose_lane(body, lambda: None)
            names.append(lanes.submit(lambda: threading.current_thread().name).result(5))
        names.append(lanes.handoff(lambda: threading.current_thread().name).result(5))
    finally:
        lanes.shutdown()
    assert [n.split("_")[0] for n in names] == ["flywheel-work", "flywheel-ack", "flywheel-ack", "flywheel-work"]
