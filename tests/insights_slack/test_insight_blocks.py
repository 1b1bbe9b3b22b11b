"""The insight builders through `.to_dict()` (slack_sdk's validators) and the mock's independent Block Kit rules:
limits held at any size, mentions only for real user ids, hostile labels inert."""

from __future__ import annotations

from bot.blocks import (
    build_draft_reminder,
    build_gap_list,
    build_home_view,
    build_recurrence_notice,
    build_topics_message,
    build_weekly_message,
    with_top_topics,
)
from bot.blocks.models import (
    CreditView,
    GapSummary,
    HomeView,
    PersonCredit,
    RecurrenceItem,
    RecurrenceNoticeView,
    ReminderView,
    StatsNumbers,
    StatsView,
    TopicView,
    WeeklyInsightsView,
)
from handlers.ids import ActionId
from tests.support.blockkit import action_ids, all_text, message_dict, mrkdwn_texts, view_dict

HOSTILE = "refund <!channel> <https://evil.example|click> " + "x" * 5000


def topics(n: int) -> list[TopicView]:
    return [TopicView(topic_id=i, label=f"{HOSTILE} {i}", open_gap_ids=tuple(range(i, i + 9)), gap_count=12,
                      conversations=30 - i, went_wrong=5, escalated=3, impact=35 - i) for i in range(1, n + 1)]


def test_topics_message_holds_the_limits_and_escapes_labels() -> None:
    d = message_dict(build_topics_message(topics(120), days=28))
    assert len(d["blocks"]) <= 50 and "…and 110 more topics." in all_text(d)
    text = mrkdwn_texts(d)
    assert "<!channel>" not in text and "<https://evil" not in text and "&lt;!channel&gt;" in text
    assert "open gaps #1, #2, #3, #4, #5 +4" in text
    empty = message_dict(build_topics_message([], days=28))
    assert "No open topic" in all_text(empty) and empty["text"] == "Open topics by impact: none"


def test_top_topics_go_under_the_gap_lists_header_within_50_blocks() -> None:
    gaps = [GapSummary(gap_id=i, title=f"Gap {i}", state="open", flagged_by="U0ANA") for i in range(1, 80)]
    listed = build_gap_list("Open gaps", gaps, total=79)
    d = message_dict(with_top_topics(listed, topics(8), days=28))
    assert d["blocks"][1]["block_id"] == "top-topics" and d["text"] == listed.text
    assert all_text(d).count("start with gap #") == 3
    assert with_top_topics(listed, [], days=28) is listed


def test_home_with_topics_and_full_lists_stays_a_valid_view() -> None:
    many = tuple(GapSummary(gap_id=i, title=f"Gap {i}", state="open") for i in range(1, 60))
    view = view_dict(build_home_view(HomeView(user_id="U0ANA", my_gaps=many, my_drafts=many, backlog=many,
                                              backlog_total=59, week=StatsNumbers(), topics=tuple(topics(5)))))
    top = next(b for b in view["blocks"] if b.get("block_id") == "top-topics")
    assert "Where to spend the next 30 minutes" in top["text"]["text"] and len(view["blocks"]) <= 100
    assert "top-topics" not in str(view_dict(build_home_view(HomeView(user_id="U0ANA"))))


def test_weekly_message_names_real_users_only() -> None:
    people = tuple(PersonCredit(f"U0P{i:03d}", reviewed=i, fixed=1) for i in range(40))
    credit = CreditView(people=(PersonCredit("ann <!here>", flagged=2), PersonCredit("U0IDLE"), *people),
                        team=PersonCredit("team", 5, 6, 7, 8), streak_days=4, streak_today_done=True)
    stats = StatsView("2026-W48", StatsNumbers(reviewed=4, flagged=1, verified=5, recurrences=3))
    d = message_dict(build_weekly_message(stats, WeeklyInsightsView(credit=credit, topics=tuple(topics(9)))))
    text = mrkdwn_texts(d)
    assert "<@U0P001>: 1 reviewed · 1 fixed" in text and "<@U0P000>: 1 fixed" in text
    assert "ann &lt;!here&gt;: 2 flagged" in text and "<!here>" not in text  # a CLI name is shown, never pinged
    assert "U0IDLE" not in text  # nothing done: not named
    assert "…and 26 more" in text and "Team: 5 reviewed · 6 flagged · 7 drafted · 8 fixed." in text
    assert "*4-day streak*" in text and "Close one today" not in text
    assert "*Came back after a fix*\n3" in text
    assert text.count("start with gap #") == 3
    quiet = message_dict(build_weekly_message(stats, WeeklyInsightsView()))
    assert "No open topic" in all_text(quiet) and "Thank you" not in all_text(quiet)


def test_recurrence_notice_one_or_many() -> None:
    one = RecurrenceNoticeView(gap_id=7, gap_title="Refund times", fixed_by="U0BOB",
                               items=(RecurrenceItem("rr1", "2026-11-18", ("escalated",)),))
    text = mrkdwn_texts(message_dict(build_recurrence_notice(one)))
    assert "This came back: conversation `rr1` on 2026-11-18 still went wrong (escalated) — <@U0BOB>" in text
    many = RecurrenceNoticeView(gap_id=7, gap_title=HOSTILE, fixed_by=None,
                                items=tuple(RecurrenceItem(f"c{i}", "2026-11-18") for i in range(30)))
    d = message_dict(build_recurrence_notice(many))
    assert "This came back 30 times\n" in all_text(d) and "…and 20 more" in all_text(d) and "<@" not in all_text(d)


def test_draft_reminder_buttons_and_wording() -> None:
    d = message_dict(build_draft_reminder(ReminderView(gap_id=3, title=HOSTILE, owner="U0CAT", quiet_hours=73,
                                                       draft_id=9)))
    assert action_ids(d) == [ActionId.TEST_DRAFT, ActionId.PUBLISH, ActionId.WRITE_DRAFT]
    assert "<@U0CAT>, the draft for *gap #3*" in mrkdwn_texts(d) and "quiet for 3 days" in d["text"]
    no_draft = message_dict(build_draft_reminder(ReminderView(gap_id=3, title=None, owner=None, quiet_hours=5)))
    assert action_ids(no_draft) == [ActionId.WRITE_DRAFT] and "quiet for 5 hours" in no_draft["text"]
    assert "someone, the draft" in mrkdwn_texts(no_draft)
