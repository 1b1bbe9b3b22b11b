"""Builders of this round: the gap's owner on the digest item, the target select on the outline message and its
options, the conflict message within Slack's limits; and the view models' split keeps every import working."""

from __future__ import annotations

import importlib

from bot.blocks import build_digest_item, build_gap_message
from bot.blocks.models import ConflictLinesView, ConflictView, DigestItemView, FlagView, OutlineView, TargetChoice
from bot.blocks.target import MAX_TARGET_OPTIONS, build_conflict_message, build_target_options
from handlers.ids import ActionId, TargetRef
from tests.support.blockkit import all_text, by_action, message_dict


def _item(**kw: object) -> dict:  # type: ignore[type-arg]
    view = DigestItemView(item_id=7, conversation_id=70, conversation_ref="T-1", excerpt_turns=[("user", "hi")],
                          pick="risk", **kw)  # type: ignore[arg-type]
    return message_dict(build_digest_item(view))


def test_the_digest_item_names_the_gaps_owner_once_it_has_a_gap() -> None:
    flagged = all_text(_item(status="flagged", reviewed_by="UANA", gap_id=3, owner="UBEN"))
    assert "Flagged as a knowledge gap by <@UANA> · gap #3 · :writing_hand: owner <@UBEN> (see thread)" in flagged
    assert "owner" not in all_text(_item(status="pending", owner="UBEN"))  # no gap yet: no owner


def test_the_outline_message_has_the_target_select_and_options_end_with_new_article() -> None:
    outline = OutlineView(title="Refunds", update_article_id=12)
    msg = message_dict(build_gap_message(FlagView(gap_id=5, flagged_by="UANA"), outline))
    select = by_action(msg, ActionId.PICK_TARGET)
    assert select["type"] == "external_select"
    assert TargetRef.load(select["initial_option"]["value"]) == TargetRef(gap_id=5, article_id=12)
    assert "The draft updates article #12" in all_text(msg)
    new = message_dict(build_gap_message(FlagView(gap_id=5, flagged_by="UANA"), OutlineView(title="Refunds")))
    assert "The draft is a new article" in all_text(new)
    closed = build_gap_message(FlagView(gap_id=5, flagged_by="UANA", state="verified"), outline)
    assert "pick_target" not in str(closed.to_dict())  # a closed gap has nothing to retarget

    many = [TargetChoice(i, "x" * 200) for i in range(1, 40)] + [TargetChoice(1, "again")]
    options = build_target_options(5, many)
    assert len(options) == MAX_TARGET_OPTIONS + 1 and options[-1]["text"]["text"] == ":new: New article"
    assert all(len(o["text"]["text"]) <= 75 and len(o["value"]) <= 150 for o in options)


def test_the_conflict_message_escapes_and_shortens_and_offers_no_publish() -> None:
    lines = ConflictLinesView(base=["old <b>"], theirs=["<!channel> " + "y" * 900], ours=["ours & more"])
    msg = message_dict(build_conflict_message(ConflictView(gap_id=2, article_id=4, article_title="Refunds",
                                                           conflicts=[lines] * 4)))
    text = all_text(msg)
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text and "ours &amp; more" in text
    assert "y" * 301 not in text and "…and 1 more." in text
    ids = [e.get("action_id") for b in msg["blocks"] for e in b.get("elements", [])]
    assert ActionId.WRITE_DRAFT in ids and ActionId.PUBLISH not in ids and ActionId.RETRY not in ids


def test_every_view_model_is_still_importable_from_bot_blocks_models() -> None:
    models = importlib.import_module("bot.blocks.models")
    for name in ("DigestItemView", "FlagView", "VerdictView", "HomeView", "TopicView", "RegressionNoticeView",
                 "EditedOutline", "ErrorView", "StatsNumbers", "CreditView", "ReminderView", "ConversationView"):
        assert getattr(models, name).__module__.startswith("bot.blocks.models.")
    assert set(models.__all__) >= {"LoopLine", "WaitingLine", "OverrideNoticeView", "CostView", "RecurrenceItem"}
