from __future__ import annotations

from typing import Any

from bot.blocks import (
    build_conversation_modal,
    build_edit_draft_modal,
    build_edit_outline_modal,
    build_gap_list,
    build_help_message,
    build_home_view,
    build_stats_message,
    parse_edit_draft,
    parse_edit_outline,
)
from bot.blocks.models import (
    ConversationView,
    DigestSummary,
    EditDraftView,
    EditOutlineView,
    GapSummary,
    HomeView,
    OutlineSectionView,
    StatsNumbers,
    StatsView,
    TurnView,
)
from handlers.ids import ActionId, InputId, ThreadMeta, ViewId
from tests.support.blockkit import action_ids, all_text, message_dict, mrkdwn_texts, view_dict


def gaps(n: int, **kw: Any) -> list[GapSummary]:
    return [
        GapSummary(gap_id=i, title=f"Gap {i} <!channel>", state="open", flagged_by="U0ANA", age_days=i,
                   permalink=f"https://flywheel.slack.com/archives/C1/p{i}", **kw)
        for i in range(1, n + 1)
    ]


def submitted(view: dict[str, Any], edits: dict[str, str] | None = None) -> dict[str, Any]:
    """What Slack sends back in view_submission: state.values from each input's initial_value."""
    values = {}
    for block in view["blocks"]:
        if block["type"] == "input":
            el = block["element"]
            value = (edits or {}).get(block["block_id"], el.get("initial_value"))
            values[block["block_id"]] = {el["action_id"]: {"type": el["type"], "value": value}}
    return {"state": {"values": values}, "private_metadata": view.get("private_metadata", "")}


def test_stats_message_numbers_and_trend() -> None:
    view = StatsView("Week 29", StatsNumbers(40, 10, 30, 8, 6, 5, 4, 1, 7), StatsNumbers(35, 12, 30, 8, 6, 3, 3, 0, 9))
    d = message_dict(build_stats_message(view))
    text = all_text(d)
    # gaps compared with gaps, never "4 of 10 flagged conversations"
    assert "*10 new gaps* · 5 published · *4 verified* by replay · 7 still open." in text
    assert "flagged conversations" not in text
    assert "*Conversations reviewed*\n40 ↑5" in text
    assert "*New gaps (flagged)*\n10 ↓2" in text
    assert "*Looked good*\n30 →" in text
    assert "previous week" in text and "co-flag" in text  # the definitions, once, under the numbers
    no_prev = all_text(message_dict(build_stats_message(StatsView("July", StatsNumbers(), period="month"))))
    assert "↑" not in no_prev and "No new gap, and none fixed." in no_prev


def test_help_lists_every_command() -> None:
    text = all_text(message_dict(build_help_message()))
    for usage in ("help", "stats [week|month]", "digest now", "gaps [mine|open]", "search &lt;text&gt;",
                  "replay &lt;conversation&gt;", "regress"):
        assert f"`/flywheel {usage}`" in text


def test_home_view_sections_and_limits() -> None:
    home = HomeView(
        user_id="U0ANA",
        my_gaps=gaps(12),
        my_drafts=gaps(3, owner="U0ANA"),
        backlog=gaps(80),
        backlog_total=120,
        week=StatsNumbers(40, 10, 30, 8, 6, 5, 4, 1, 7),
        last_digest=DigestSummary("2026-07-20", 8, 5, 2, "https://flywheel.slack.com/archives/C1/p9"),
        review_channel="C0REVIEW",
    )
    d = view_dict(build_home_view(home))
    assert d["type"] == "home" and d["callback_id"] == ViewId.HOME
    assert len(d["blocks"]) <= 100
    text = all_text(d)
    assert "*Your open gaps* (12)" in text and "…and 2 more" in text
    assert "*Team backlog* (120)" in text and "…and 105 more" in text
    assert "<#C0REVIEW>" in text and "<@U0ANA>" in text
    assert "<!channel>" not in mrkdwn_texts(d)
    assert "*Last digest* (<https://flywheel.slack.com/archives/C1/p9|2026-07-20>" in text
    links = [b["accessory"] for b in d["blocks"] if "accessory" in b]
    assert links and all(a["action_id"] == ActionId.OPEN_LINK and a["url"].startswith("https://") for a in links)


def test_empty_home_view() -> None:
    d = view_dict(build_home_view(HomeView(user_id="U0ANA")))
    text = all_text(d)
    assert "Nothing open. Nice." in text and "No digest posted yet." in text


def test_gap_list_is_capped_and_counted() -> None:
    d = message_dict(build_gap_list("Open gaps", gaps(100), total=100))
    assert len(d["blocks"]) <= 50
    assert "…and 60 more" in all_text(d)


def test_conversation_modal_40_turns() -> None:
    turns = [TurnView(i, "user" if i % 2 == 0 else "agent", f"turn {i} <!here> jo@example.com " + "blah " * 400)
             for i in range(40)]
    d = view_dict(build_conversation_modal(ConversationView(1, "T-1001", turns, flagged_position=5)))
    assert d["callback_id"] == ViewId.CONVERSATION and "submit" not in d
    assert len(d["title"]["text"]) <= 24
    text = all_text(d)
    assert all(f"turn {i} " in text for i in range(40))  # every turn is there
    assert "the flagged turn" in text
    assert "<!here>" not in text and "jo@example.com" not in text and "[email]" in text


def test_conversation_modal_too_long_says_so() -> None:
    turns = [TurnView(i, "user", "word " * 600) for i in range(400)]
    d = view_dict(build_conversation_modal(ConversationView(1, "T-1", turns)))
    assert len(d["blocks"]) <= 100
    assert "more turns not shown" in all_text(d["blocks"][-1])


def test_edit_draft_modal_round_trips_a_long_body() -> None:
    body = "\n\n".join(f"Paragraph {i}. " + "Refunds are pro-rated. " * 20 for i in range(45))
    assert len(body) > 20_000
    view = EditDraftView(gap_id=12, draft_id=3, title="Refunds", body=body, channel="C0REVIEW",
                         thread_ts="1712345678.000100", message_ts="1712345679.000200", then_test=True)
    d = view_dict(build_edit_draft_modal(view))
    assert d["callback_id"] == ViewId.EDIT_DRAFT and d["submit"]["text"] == "Save and test"
    inputs = [b for b in d["blocks"] if b["type"] == "input"]
    assert inputs[0]["block_id"] == InputId.DRAFT_TITLE
    assert len(inputs) >= 9 and all(len(b["element"].get("initial_value", "")) <= 3000 for b in inputs)
    meta = ThreadMeta.load(d["private_metadata"])
    assert (meta.gap_id, meta.draft_id, meta.channel, meta.then_test) == (12, 3, "C0REVIEW", True)
    edited = parse_edit_draft(submitted(d))
    assert edited.title == "Refunds" and edited.body == body
    edited = parse_edit_draft(submitted(d, {InputId.DRAFT_TITLE: "  New   title ", "draft_body_1": "Changed."}))
    assert edited.title == "New title" and "Changed." in (edited.body or "")


def test_edit_draft_modal_joins_trimmed_parts_without_gluing_words() -> None:
    d = view_dict(build_edit_draft_modal(EditDraftView(gap_id=1, draft_id=2, title="T", body="x")))
    values = submitted(d)
    values["state"]["values"]["draft_body_1"] = {"draft_body_1": {"value": "second"}}
    assert parse_edit_draft(values).body == "x\nsecond"


def test_edit_draft_modal_too_long_body_is_read_only() -> None:
    d = view_dict(build_edit_draft_modal(EditDraftView(gap_id=1, draft_id=2, title="T", body="word " * 40_000)))
    assert [b["block_id"] for b in d["blocks"] if b["type"] == "input"] == [InputId.DRAFT_TITLE]
    assert "too long to edit in Slack" in all_text(d)
    assert parse_edit_draft(submitted(d)).body is None


def test_edit_outline_modal_round_trip() -> None:
    view = EditOutlineView(
        gap_id=12,
        title="Refunds",
        sections=[OutlineSectionView("Eligibility", ["Within 30 days", "Pro-rated after"]),
                  OutlineSectionView("How", [])],
        required_facts=["30 days", "pro-rated"],
        channel="C0REVIEW",
        thread_ts="1712345678.000100",
    )
    d = view_dict(build_edit_outline_modal(view))
    assert d["callback_id"] == ViewId.EDIT_OUTLINE
    edited = parse_edit_outline(submitted(d))
    assert edited.title == "Refunds"
    assert [(s.heading, tuple(s.points)) for s in edited.sections] == [
        ("Eligibility", ("Within 30 days", "Pro-rated after")),
        ("How", ()),
    ]
    assert edited.required_facts == ("30 days", "pro-rated")
    typed = parse_edit_outline(submitted(d, {InputId.OUTLINE_SECTIONS: "Intro line\n# Steps\n1. open\n* pay",
                                                InputId.OUTLINE_FACTS: "• a\n\n- b"}))
    assert typed.sections == (OutlineSectionView("Intro line", ()), OutlineSectionView("Steps", ("open", "pay")))
    assert typed.required_facts == ("a", "b")
    assert ThreadMeta.load(d["private_metadata"]).gap_id == 12


def test_modal_titles_fit() -> None:
    for view in (
        build_conversation_modal(ConversationView(1, "x", [])),
        build_edit_draft_modal(EditDraftView(gap_id=1, draft_id=2, title="", body="")),
        build_edit_outline_modal(EditOutlineView(gap_id=1, title="")),
    ):
        d = view_dict(view)
        assert 0 < len(d["title"]["text"]) <= 24
    assert not action_ids(view_dict(build_conversation_modal(ConversationView(1, "x", [TurnView(0, "user", "hi")]))))
