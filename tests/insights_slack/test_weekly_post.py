"""The weekly stats job against the mock Slack: credit with mentions (not the opted-out), the streak, the top open
topics, recurrences counted in the numbers, and the trend chart uploaded with files_upload_v2.

On top of the known world (week 48 is 11-23 to 11-30): the recurrence scan runs on Wednesday 11-25, dan fixes s2
on Saturday and bob fixes d1 on Sunday, and the job posts on Monday 11-30 at 09:00 about week 48.
"""

from __future__ import annotations

import struct

import pytest

import bot.jobs as jobs
from bot.services.authoring import write_draft
from bot.services.publishing import publish
from bot.services.recurrence import scan_recurrences
from bot.services.topics import rank_topics
from tests.insights_slack.conftest import ANN, BOB, CAT, DAN, STATS
from tests.support.harness import texts
from tests.support.world import World, t

MONDAY = t("2026-11-30 09:00")


@pytest.fixture
def week(world: World) -> World:
    assert len(scan_recurrences(world.services, since=t("2026-11-01 00:00"))) == 4  # found at NOW (11-25)
    for day, key, user in (("2026-11-28", "s2", DAN), ("2026-11-29", "d1", BOB)):
        world.at(f"{day} 10:00")
        write_draft(world.services, gap_id=world.gap[key], user=user)
        world.at(f"{day} 11:00")
        assert publish(world.services, gap_id=world.gap[key], user=user).state == "verified"
    world.at(MONDAY)
    return world


def by_block_id(blocks: list[dict]) -> dict[str, dict]:  # type: ignore[type-arg]
    return {b["block_id"]: b for b in blocks if "block_id" in b}


def test_the_weekly_post_credits_people_streak_and_topics(week: World, client, slack) -> None:  # type: ignore[no-untyped-def]
    assert jobs.weekly_stats_job(week.services, client, now=MONDAY) is True
    (post,) = slack.calls_to("chat.postMessage")
    assert post.params["channel"] == STATS and post.ok
    blocks = by_block_id(post.blocks)

    # reviewed / flagged / drafted / fixed in week 48: the known world plus the weekend's two fixes
    credit = blocks["credit"]["text"]["text"].splitlines()
    assert credit[1:] == [f"• <@{ANN}>: 2 reviewed · 2 flagged · 2 drafted · 1 fixed",
                          f"• <@{BOB}>: 1 reviewed · 2 flagged · 2 drafted · 2 fixed",
                          f"• <@{DAN}>: 1 reviewed · 2 flagged · 2 drafted · 2 fixed"]
    body = texts(post.blocks) + post.params["text"]
    assert CAT not in body  # opted out: never named…
    assert "Team: 4 reviewed · 7 flagged · 6 drafted · 5 fixed." in body  # …but cat's flag of p2 still counts
    # fixes verified on Saturday and Sunday; none yet on Monday morning
    assert "*2-day streak*" in blocks["streak"]["text"]["text"]
    assert "Close one today" in blocks["streak"]["text"]["text"]

    # the top open topics (shipping and deletion were fixed over the weekend), in the order of their impact
    ranked = rank_topics(week.services, now=MONDAY, days=28)
    assert {tp.id for tp in ranked} == {week.gap["p1"], week.gap["r1"]}
    topics = blocks["top-topics"]["text"]["text"].splitlines()
    assert "Where to spend the next 30 minutes" in topics[0]
    assert [line.split("*")[1] for line in topics[1:]] == [f"{i}. {tp.label}" for i, tp in enumerate(ranked, 1)]
    assert all(f"_start with gap #{week.gap[k]}_" in blocks["top-topics"]["text"]["text"] for k in ("p2", "r2"))

    # the headline is the gap rate of the random picks (p1 flagged, n1 and n2 fine), then gaps against gaps:
    # six new gaps (pa1 joined p1's gap: not a new one), five verified; never "5 of 1 flagged conversations"
    assert ("The agent fell short in about 33% of conversations last week (6–79%, 3 random reviews); there is no "
            "estimate for the week before.") in body
    assert "*6 new gaps* · 5 published · *5 verified* by replay" in body and "flagged conversations" not in body

    # the four recurrences the scan found on Wednesday count in the week's numbers
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for b in post.blocks for f in b.get("fields", [])}
    assert fields["*Came back after a fix*"].startswith("4")


def test_the_chart_is_the_trend_and_the_post_goes_out_once(week: World, client, slack) -> None:  # type: ignore[no-untyped-def]
    assert jobs.weekly_stats_job(week.services, client, now=MONDAY) is True
    png = slack.last("upload").body
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1500, 480)  # the trend figure (gap rate, funnel, time to fix side by side)
    done = slack.last("files.completeUploadExternal")
    assert done.ok and done.params["channel_id"] == STATS
    assert done.json_param("files")[0]["title"] == "Flywheel loop 2026-W48"
    assert "95% interval" in done.params["initial_comment"]

    week.at(MONDAY.replace(hour=10))  # a second instance, or a rerun: nothing more
    assert jobs.weekly_stats_job(week.services, client, now=MONDAY.replace(hour=10)) is False
    assert len(slack.calls_to("chat.postMessage")) == 1 and len(slack.calls_to("upload")) == 1


def test_without_anything_named_the_post_still_thanks_the_team(world: World, client, slack) -> None:  # type: ignore[no-untyped-def]
    world.services.settings.credit_opt_out = ",".join((ANN, BOB, CAT, DAN))
    world.at(MONDAY)
    assert jobs.weekly_stats_job(world.services, client, now=MONDAY) is True
    post = slack.last("chat.postMessage")
    body = texts(post.blocks)
    assert "Nobody to name this week." in body and "<@" not in body
    assert "Team: 4 reviewed · 7 flagged · 4 drafted · 3 fixed." in body
    assert "No streak right now" in body  # the last fix was on Wednesday
