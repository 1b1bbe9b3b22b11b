"""`/flywheel` subcommands (answered through the response_url, which points at the mock) and the App Home."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services.authoring import suggest_outline, write_draft
from bot.services.conversations import resolve
from bot.services.gaps import flag
from bot.services.publishing import publish
from storage.models import Digest, DigestItem
from tests.support.factories import conversation, load, seed_kb
from tests.support.harness import ANA, BEN, REVIEW, Harness, texts


@pytest.fixture
def convs(services, tmp_path):  # type: ignore[no-untyped-def]
    """Conversations and a KB, but no digest yet."""
    load(services, tmp_path, [conversation("c1", gap=True), conversation("c2"),
                              conversation("c3", gap=True, question="How long does a refund to my card take?")])
    seed_kb(services)
    return services


def _respond(harness: Harness, text: str, *, user: str = ANA, name: str = "cmd", ack: str | None = None) -> dict:  # type: ignore[type-arg]
    before = len(harness.slack.calls_to("webhook"))
    response = harness.command(text, user=user, name=name)
    assert response.status == 200
    if ack is not None:
        assert ack in response.body  # slow subcommands ack with a placeholder line
    calls = harness.slack.wait_for("webhook", before + 1, timeout=15)
    return calls[-1].params


def test_help_and_unknown_subcommands(harness: Harness, convs) -> None:  # type: ignore[no-untyped-def]
    assert "Flywheel help" in _respond(harness, "help")["text"]
    assert "Flywheel help" in _respond(harness, "")["text"]
    unknown = _respond(harness, "frobnicate")
    assert "I don't know `frobnicate`" in unknown["text"] and unknown["response_type"] == "ephemeral"


def test_stats_week_month_and_share(harness: Harness, convs) -> None:  # type: ignore[no-untyped-def]
    week = _respond(harness, "stats")
    assert week["text"].startswith("Flywheel stats") and week["response_type"] == "ephemeral"
    assert "monthly view" in texts(week["blocks"])
    month = _respond(harness, "stats month share")
    assert month["text"].startswith("Flywheel stats") and month["response_type"] == "in_channel"
    assert "monthly view" not in texts(month["blocks"])


def test_bad_arguments_are_shown_ephemerally(harness: Harness, convs) -> None:  # type: ignore[no-untyped-def]
    assert harness.command("stats year", user=BEN).status == 200  # acked before the error
    shown = harness.slack.wait_for("chat.postEphemeral")[-1].params
    assert shown["user"] == BEN and shown["channel"] == REVIEW and "`week` or `month`" in shown["text"]


def test_digest_now_posts_today_once(harness: Harness, convs) -> None:  # type: ignore[no-untyped-def]
    first = _respond(harness, "digest now", ack="Posting today's digest")
    assert "Posted the digest" in first["text"] and f"<#{REVIEW}>" in first["text"]
    posts = [c for c in harness.slack.calls_to("chat.postMessage") if c.params["channel"] == REVIEW]
    assert "Conversations to review" in texts(posts[0].blocks) and len(posts) == 3  # header + 2 items
    with convs.session() as s:
        items = s.scalars(select(DigestItem).join(Digest).where(Digest.channel == REVIEW)).all()
        assert len(items) == 2 and all(i.slack_ts for i in items)
    again = _respond(harness, "digest now")
    assert "already in" in again["text"]
    assert len([c for c in harness.slack.calls_to("chat.postMessage") if c.params["channel"] == REVIEW]) == 3


def test_gaps_mine_and_open(harness: Harness, convs) -> None:  # type: ignore[no-untyped-def]
    gap_id = flag(convs, conversation_id=resolve(convs, "c1"), user=ANA).gap_id
    mine = _respond(harness, "gaps mine")
    assert mine["text"] == "Your open gaps: 1 gaps" and f"#{gap_id}" in texts(mine["blocks"])
    assert _respond(harness, "gaps mine", user=BEN)["text"] == "Your open gaps: 0 gaps"
    assert _respond(harness, "gaps open", user=BEN)["text"] == "Open gaps: 1 gaps"


def test_search_the_knowledge_base(harness: Harness, convs) -> None:  # type: ignore[no-untyped-def]
    found = _respond(harness, "search shipping times")
    assert "Shipping times" in texts(found["blocks"])
    assert "No article matches" in _respond(harness, "search zebra")["text"]


def test_replay_a_conversation(harness: Harness, convs) -> None:  # type: ignore[no-untyped-def]
    answer = _respond(harness, "replay c1", ack="Replaying the conversation")
    assert answer["text"].startswith("Replay of conversation c1")
    assert "don't have information" in texts(answer["blocks"])  # the original answer, as "before"


def test_regress_replays_every_case(harness: Harness, convs) -> None:  # type: ignore[no-untyped-def]
    gap_id = flag(convs, conversation_id=resolve(convs, "c1"), user=ANA).gap_id
    suggest_outline(convs, gap_id=gap_id, user=ANA)
    write_draft(convs, gap_id=gap_id, user=ANA)
    assert publish(convs, gap_id=gap_id, user=ANA).state == "verified"
    answer = _respond(harness, "regress share", ack="Replaying every regression case")
    assert "1/1 passing, 0 broke" in answer["text"] and answer["response_type"] == "in_channel"


def test_app_home_shows_my_gaps_drafts_backlog_and_digest(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    services = harness.services
    flag(services, conversation_id=world["c1"].conversation_id, user=ANA)
    drafting = flag(services, conversation_id=world["c3"].conversation_id, user=ANA, on_match="new").gap_id
    write_draft(services, gap_id=drafting, user=ANA)
    flag(services, conversation_id=world["c2"].conversation_id, user=BEN)

    assert harness.event({"type": "app_home_opened", "user": ANA, "channel": "D0ANA", "tab": "home"}).status == 200
    call = harness.slack.wait_for("views.publish")[-1]
    assert call.params["user_id"] == ANA
    view = call.json_param("view")
    body = texts(view)
    assert view["type"] == "home"
    assert "*Your open gaps* (1)" in body and "*Your drafts* (1)" in body and "*Team backlog* (3)" in body
    assert "This week" in body and "*Last digest*" in body
    assert harness.slack.home_views[ANA]["blocks"]


def test_app_home_messages_tab_publishes_nothing(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    assert harness.event({"type": "app_home_opened", "user": ANA, "channel": "D0ANA", "tab": "messages"}).status == 200
    harness.drain()
    assert not harness.slack.calls_to("views.publish")
