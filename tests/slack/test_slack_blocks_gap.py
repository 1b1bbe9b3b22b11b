from __future__ import annotations

import pytest

from bot.blocks import (
    build_draft_messages,
    build_error_message,
    build_gap_message,
    build_match_message,
    build_verdict_message,
)
from bot.blocks.draft import MAX_DRAFT_MESSAGES, markdown_to_mrkdwn
from bot.blocks.models import (
    AgentTurnChoice,
    DraftView,
    ErrorView,
    FlagView,
    MatchView,
    OutlineSectionView,
    OutlineView,
    VerdictView,
)
from handlers.ids import ActionId, DraftRef, GapRef, JoinRef, NewGapRef, RetryRef, TurnRef
from tests.support.blockkit import action_ids, all_text, by_action, message_dict, mrkdwn_texts

TURNS = [AgentTurnChoice(1, "Hello! How can I help?"), AgentTurnChoice(3, "I'm not sure <!here>, sorry.")]
OUTLINE = OutlineView(
    title="Refunds for annual plans",
    summary="The agent did not know the refund rule for annual plans.",
    sections=[
        OutlineSectionView("Eligibility", ["Full refund within 30 days", "Pro-rated after <b>"]),
        OutlineSectionView("How to ask", ["Reply to the invoice email"]),
    ],
    required_facts=["30 days", "pro-rated"],
    questions=["Does it apply to EU customers?"],
    provider="offline",
)


def flag(**kw):  # type: ignore[no-untyped-def]
    base = dict(gap_id=12, flagged_by="U0ANA", agent_turns=TURNS, flagged_position=3)
    base.update(kw)
    return FlagView(**base)


def test_acknowledgement_shows_flagger_turn_and_progress() -> None:
    d = message_dict(build_gap_message(flag(co_flaggers=["U0BOB", "U0ANA", "U0BOB"])))
    text = all_text(d)
    assert "<@U0ANA> flagged a knowledge gap · *gap #12*" in text
    assert "Also flagged by <@U0BOB>" in text and text.count("<@U0BOB>") == 1
    assert "Drafting an outline…" in text
    assert "&lt;!here&gt;" in text and "<!here>" not in mrkdwn_texts(d)
    assert action_ids(d) == [ActionId.PICK_TURN, ActionId.PICK_KIND, ActionId.TAKE_GAP, ActionId.DISMISS]


def test_turn_select_preselects_flagged_turn() -> None:
    d = message_dict(build_gap_message(flag()))
    select = by_action(d, ActionId.PICK_TURN)
    assert select["type"] == "static_select"
    assert [TurnRef.load(o["value"]).position for o in select["options"]] == [1, 3]
    assert TurnRef.load(select["initial_option"]["value"]) == TurnRef(gap_id=12, position=3)
    assert select["options"][1]["text"]["text"].startswith("Turn 2: I'm not sure")


def test_turn_select_is_capped_at_100_options_around_the_flagged_turn() -> None:
    many = [AgentTurnChoice(i, f"answer number {i} " + "x" * 200) for i in range(1, 600, 2)]
    d = message_dict(build_gap_message(flag(agent_turns=many, flagged_position=401)))
    select = by_action(d, ActionId.PICK_TURN)
    positions = [TurnRef.load(o["value"]).position for o in select["options"]]
    assert len(positions) == 100
    assert 401 in positions and positions == sorted(positions)
    assert min(abs(p - 401) for p in positions) == 0 and max(abs(p - 401) for p in positions) <= 200
    assert all(len(o["text"]["text"]) <= 75 for o in select["options"])
    assert TurnRef.load(select["initial_option"]["value"]).position == 401


def test_no_agent_turn_means_no_select() -> None:
    d = message_dict(build_gap_message(flag(agent_turns=[], flagged_position=None)))
    assert ActionId.PICK_TURN not in action_ids(d)
    assert "No agent turn found" in all_text(d)


def test_outline_message() -> None:
    d = message_dict(build_gap_message(flag(notes_count=2), OUTLINE))
    text = all_text(d)
    assert "*Suggested article:* Refunds for annual plans" in text
    assert "*1. Eligibility*" in text and "• Full refund within 30 days" in text
    assert "Pro-rated after &lt;b&gt;" in text
    assert "*Facts the article must state*" in text and "• pro-rated" in text
    assert "Does it apply to EU customers?" in text
    assert "(2 notes so far)" in text
    assert action_ids(d) == [ActionId.PICK_TURN, ActionId.PICK_KIND, ActionId.PICK_TARGET, ActionId.WRITE_DRAFT,
                             ActionId.EDIT_OUTLINE, ActionId.TAKE_GAP, ActionId.DISMISS]
    for action in (ActionId.WRITE_DRAFT, ActionId.EDIT_OUTLINE, ActionId.DISMISS):
        assert GapRef.load(by_action(d, action)["value"]) == GapRef(gap_id=12)
    assert "confirm" in by_action(d, ActionId.DISMISS)


def test_closed_gap_has_no_buttons() -> None:
    d = message_dict(build_gap_message(flag(state="dismissed"), OUTLINE))
    assert action_ids(d) == [ActionId.PICK_TURN]
    assert "Dismissed" in all_text(d)


def test_huge_outline_stays_within_limits() -> None:
    sections = [OutlineSectionView(f"Section {i} " + "h" * 300, ["point " * 100] * 10) for i in range(40)]
    big = OutlineView(title="t" * 500, sections=sections, required_facts=["fact " * 100] * 40)
    d = message_dict(build_gap_message(flag(), big))
    assert len(d["blocks"]) <= 50
    assert "The outline continues" in all_text(d)  # said, not silently cut
    assert "_…and 20 more_" in all_text(d)  # facts beyond 20 are counted, not hidden
    assert action_ids(d)[-4:] == [ActionId.WRITE_DRAFT, ActionId.EDIT_OUTLINE, ActionId.TAKE_GAP, ActionId.DISMISS]


def test_match_message_offers_join_or_new() -> None:
    d = message_dict(
        build_match_message(
            MatchView(gap_id=12, gap_title="Refunds", conversation_id=99, flagged_by="U0BOB", item_id=7,
                      owner="U0ANA", state="drafting")
        )
    )
    text = all_text(d)
    assert "*gap #12: Refunds*" in text and "draft in progress by <@U0ANA>" in text
    assert JoinRef.load(by_action(d, ActionId.JOIN_GAP)["value"]) == JoinRef(gap_id=12, conversation_id=99, item_id=7)
    assert NewGapRef.load(by_action(d, ActionId.NEW_GAP)["value"]) == NewGapRef(conversation_id=99, item_id=7)


# --- drafts ----------------------------------------------------------------------------------------
def long_body(n: int, word: str = "w{i}_{j}") -> str:
    paragraphs, i = [], 0
    while sum(len(p) + 2 for p in paragraphs) < n:
        paragraphs.append(f"## Part {i}\n" + " ".join(word.format(i=i, j=j) for j in range(60)))
        i += 1
    return "\n\n".join(paragraphs)


def section_texts(msgs) -> str:  # type: ignore[no-untyped-def]
    """The body sections of draft messages, joined back (the first section is the title)."""
    out = [b["text"]["text"] for m in msgs for b in m.to_dict()["blocks"] if b["type"] == "section"]
    return "".join(out[1:])


def test_20k_draft_splits_into_sections_with_nothing_lost() -> None:
    body = long_body(20_000)
    assert len(body) >= 20_000
    msgs = build_draft_messages(DraftView(gap_id=12, draft_id=3, title="Refunds", body=body))
    assert len(msgs) == 1
    d = message_dict(msgs[0])
    sections = [b for b in d["blocks"] if b["type"] == "section"]
    assert len(sections) >= 8  # title + ≥7 body chunks
    assert all(len(s["text"]["text"]) <= 3000 for s in sections)
    assert section_texts(msgs).split() == markdown_to_mrkdwn(body).split()
    assert "*Part 0*" in all_text(d)  # Markdown heading shown as bold


def test_escaped_draft_may_continue_in_a_second_message_with_nothing_lost() -> None:
    body = long_body(20_000, word="w{i}_{j} & <x>")  # escaping makes it ~33,000 chars
    msgs = build_draft_messages(DraftView(gap_id=12, draft_id=3, title="Refunds", body=body))
    dicts = [message_dict(m) for m in msgs]
    assert "&lt;x&gt;" in all_text(dicts[0]) and "<x>" not in mrkdwn_texts(dicts)
    assert section_texts(msgs).split() == markdown_to_mrkdwn(body).split()
    assert not action_ids(dicts[0]) if len(dicts) > 1 else True
    assert action_ids(dicts[-1])[0] == ActionId.EDIT_DRAFT


def test_draft_buttons() -> None:
    d = message_dict(build_draft_messages(DraftView(gap_id=12, draft_id=3, title="T", body="B", author="U0ANA"))[0])
    assert action_ids(d) == [ActionId.EDIT_DRAFT, ActionId.TEST_DRAFT, ActionId.PUBLISH, ActionId.DISMISS_DRAFT]
    for action in action_ids(d):
        assert DraftRef.load(by_action(d, action)["value"]) == DraftRef(gap_id=12, draft_id=3)
    assert "confirm" in by_action(d, ActionId.PUBLISH)
    assert "by <@U0ANA>" in all_text(d)


def test_very_long_draft_spans_messages_and_says_what_is_not_shown() -> None:
    body = long_body(400_000)
    msgs = build_draft_messages(DraftView(gap_id=12, draft_id=3, title="T", body=body))
    assert len(msgs) == MAX_DRAFT_MESSAGES
    dicts = [message_dict(m) for m in msgs]
    assert all(len(d["blocks"]) <= 50 for d in dicts)
    assert all(not action_ids(d) for d in dicts[:-1]) and action_ids(dicts[-1])
    assert "part 2/10" in all_text(dicts[1])
    assert "more characters are not shown here" in all_text(dicts[-1])
    shown = section_texts(msgs)
    assert markdown_to_mrkdwn(body).split()[: len(shown.split())] == shown.split()


def test_empty_or_published_draft() -> None:
    d = message_dict(build_draft_messages(DraftView(gap_id=1, draft_id=2, title="T", body="  ", state="published"))[0])
    assert "(the draft is empty)" in all_text(d)
    assert not action_ids(d)


# --- verdicts and errors ---------------------------------------------------------------------------
def verdict(**kw):  # type: ignore[no-untyped-def]
    base = dict(
        gap_id=12, verdict="fail", before="I don't know <!channel>", after="Refunds within 30 days.",
        reasons=["Does not mention pro-rating"], confidence=0.82, article_title="Refunds",
        article_url="https://kb.example.com/a/1", draft_id=3, kind="shadow", missing_facts=["pro-rated"],
    )
    base.update(kw)
    return message_dict(build_verdict_message(VerdictView(**base)))


def test_failed_verdict_shows_before_after_reasons_and_edit_and_retry() -> None:
    d = verdict()
    text = all_text(d)
    assert d["blocks"][0]["text"]["text"].startswith("❌")
    assert "*Before*\n> I don't know &lt;!channel&gt;" in text
    assert "*After*\n> Refunds within 30 days." in text
    assert "• Does not mention pro-rating" in text and "• pro-rated" in text
    assert "Confidence 82%" in text
    assert "<https://kb.example.com/a/1|Refunds>" in text
    assert action_ids(d) == [ActionId.EDIT_AND_RETRY]
    assert DraftRef.load(by_action(d, ActionId.EDIT_AND_RETRY)["value"]).draft_id == 3


@pytest.mark.parametrize(
    ("kind", "value", "expected_actions"),
    [("shadow", "pass", [ActionId.PUBLISH]), ("publish", "pass", []),
     ("publish", "unclear", [ActionId.EDIT_AND_RETRY])],
)
def test_verdict_variants(kind: str, value: str, expected_actions: list[str]) -> None:
    d = verdict(kind=kind, verdict=value)
    assert action_ids(d) == expected_actions
    assert d["blocks"][0]["text"]["text"][0] in "✅❔"


def test_verdict_without_draft_or_safe_url() -> None:
    d = verdict(draft_id=None, article_url="javascript:alert(1)", before=None)
    assert not action_ids(d)
    assert "javascript" not in all_text(d) and "Refunds" in all_text(d)
    assert "_(no answer)_" in all_text(d)


def test_verdict_with_huge_answers_stays_within_limits() -> None:
    d = verdict(before="b " * 5000, after="a " * 5000, reasons=["r " * 1000] * 30)
    assert all(len(f["text"]) <= 2000 for b in d["blocks"] for f in b.get("fields", []))


def test_error_message_with_retry() -> None:
    d = message_dict(
        build_error_message(ErrorView(message="The model timed out. <!here>", error_id="e-7f3a",
                                      retry_action="write_draft", gap_id=12))
    )
    text = all_text(d)
    assert ":warning: The model timed out. &lt;!here&gt;" in text
    assert "`e-7f3a`" in text
    assert RetryRef.load(by_action(d, ActionId.RETRY)["value"]) == RetryRef(action=ActionId.WRITE_DRAFT, gap_id=12)
    assert not action_ids(message_dict(build_error_message(ErrorView(message="Nope."))))
