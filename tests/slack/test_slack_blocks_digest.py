from __future__ import annotations

from bot.blocks import build_digest_header, build_digest_item
from bot.blocks.models import DigestHeaderView, DigestItemView, LoopLine
from bot.slack.text import ZWJ
from handlers.ids import ActionId, ItemRef
from tests.support.blockkit import action_ids, all_text, by_action, message_dict

EVIL = "Hi <!channel> @here see <http://evil.example|your invoice> & mail me: jo@example.com"


def item(**kw):  # type: ignore[no-untyped-def]
    base = dict(
        item_id=7,
        conversation_id=70,
        conversation_ref="T-1001",
        excerpt_turns=[("user", EVIL), ("agent", "I'm not sure, sorry.")],
        pick="risk",
        reason="The agent said it didn't know",
    )
    base.update(kw)
    return build_digest_item(DigestItemView(**base))


def test_header_says_count_how_to_flag_and_yesterday() -> None:
    d = message_dict(
        build_digest_header(
            DigestHeaderView(day="2026-07-20", count=8, risk_count=6, yesterday=LoopLine(3, 2, 1, 1, 1))
        )
    )
    text = all_text(d)
    assert d["blocks"][0]["type"] == "header"
    assert "2026-07-20" in d["blocks"][0]["text"]["text"]
    assert "*8 conversations*" in text and "6 picked by risk, 2 at random" in text
    assert ":books:" in text and ":white_check_mark:" in text
    assert "*Yesterday:* 3 flagged · 2 drafted · 1 published · 1 verified · 1 verdict failed." in text
    assert ":white_check_mark:" not in all_text(d["blocks"][2])  # no check mark on the loop line
    assert "8 conversations" in d["text"]


def test_header_uses_configured_emoji_and_rejects_junk() -> None:
    d = message_dict(build_digest_header(DigestHeaderView(day="d", count=1, flag_emoji="bulb", ok_emoji="<!here>")))
    text = all_text(d)
    assert ":bulb:" in text
    assert ":white_check_mark:" in text and "<!here>" not in text
    assert "*1 conversation*" in d["blocks"][1]["text"]["text"]


def test_item_escapes_customer_text() -> None:
    d = message_dict(item())
    text = all_text(d)
    assert "<!channel>" not in text and "<http://" not in text
    assert "&lt;!channel&gt;" in text
    assert "&lt;http://evil.example|your invoice&gt;" in text
    assert f"@{ZWJ}here" in text and "@here" not in text
    assert "&amp;" in text
    assert "jo@example.com" not in text and "[email]" in text
    assert all(block["text"]["verbatim"] for block in d["blocks"] if block["type"] == "section")


def test_item_buttons_carry_item_ref() -> None:
    d = message_dict(item())
    assert action_ids(d) == [ActionId.FLAG, ActionId.LOOKS_GOOD, ActionId.SHOW_CONVERSATION]
    for action in action_ids(d):
        assert ItemRef.load(by_action(d, action)["value"]) == ItemRef(item_id=7)


def test_item_says_why_it_was_picked() -> None:
    title = message_dict(item())["blocks"][0]["text"]["text"].splitlines()[0]
    assert title == "*1.* T-1001 · _The agent said it didn't know_"  # one reason, not five
    assert "_Random sample_" in all_text(message_dict(item(pick="random", reason="")))


def test_item_status_lines() -> None:
    assert len(message_dict(item())["blocks"]) == 2  # pending: no status line
    flagged = message_dict(item(status="flagged", reviewed_by="U0ANA", gap_id=12))
    assert "Flagged as a knowledge gap by <@U0ANA> · gap #12" in all_text(flagged["blocks"][-1])
    ok = message_dict(item(status="looks_good", reviewed_by="U0BOB"))
    assert "Looks good to <@U0BOB>" in all_text(ok)
    fixed = message_dict(item(status="fixed", gap_id=12))
    assert "Fixed · gap #12" in all_text(fixed)
    assert action_ids(fixed) == [ActionId.SHOW_CONVERSATION]


def test_bogus_reviewer_id_cannot_ping() -> None:
    d = message_dict(item(status="flagged", reviewed_by="<!channel>"))
    assert "<!channel>" not in all_text(d)


def test_long_turns_stay_compact_and_within_limits() -> None:
    turns = [("user" if i % 2 == 0 else "agent", f"turn {i} " + "lorem ipsum " * 300) for i in range(40)]
    d = message_dict(item(excerpt_turns=turns, total_turns=55, focus=1))
    body = d["blocks"][0]["text"]["text"]
    assert len(body) <= 1200  # four turns at most, each shortened with a visible ellipsis
    assert "turn 3 " in body and "turn 4 " not in body
    assert body.count("…") == 4
    assert body.splitlines()[2].startswith(":warning: *Agent:* turn 1 ")  # the turn that went wrong is marked
    assert len(d["blocks"]) <= 50
