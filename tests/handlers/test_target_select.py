"""Choosing the article a draft updates, in the thread, through signed Slack requests: the outline message has an
external_select whose options (a signed block_suggestion) are the candidate articles plus "New article"; picking
one calls the same service as `flywheel gaps target`, and the next draft is that article plus the change, or a new
article."""
# mypy: disable-error-code="no-untyped-def"

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from sqlalchemy import select

from bot.services.authoring import latest_outline
from handlers.ids import ActionId, TargetRef
from storage.models import Article, AuditEvent, Draft, Gap
from tests.support.harness import ANA, BEN, REVIEW, SECRET, Harness, find_element, texts, wait
from tests.support.signing import interaction_request


def _base(harness: Harness, ts: str, user: str) -> dict[str, Any]:
    return {"user": {"id": user, "username": user.lower(), "team_id": "T111"}, "api_app_id": "A111",
            "token": "verification_token", "team": {"id": "T111", "domain": "flywheel-test"},
            "container": {"type": "message", "message_ts": ts, "channel_id": REVIEW, "is_ephemeral": False},
            "channel": {"id": REVIEW, "name": "review"}, "message": harness.message(REVIEW, ts)}


def suggest(harness: Harness, ts: str, typed: str = "", *, user: str = ANA) -> list[dict[str, Any]]:
    """What Slack asks when the select opens (or a person types): the options the bot answers with."""
    select_el = find_element(harness.message(REVIEW, ts)["blocks"], ActionId.PICK_TARGET)
    block_id = next(b["block_id"] for b in harness.message(REVIEW, ts)["blocks"] if b.get("accessory") == select_el)
    payload = {**_base(harness, ts, user), "type": "block_suggestion", "action_id": ActionId.PICK_TARGET.value,
               "block_id": block_id, "value": typed}
    response = harness.dispatch(interaction_request(payload, secret=SECRET))
    assert response.status == 200
    return list(json.loads(response.body)["options"])


def pick(harness: Harness, ts: str, option: dict[str, Any], *, user: str = ANA) -> None:
    """Choose `option` in the external select (a signed block_actions)."""
    action = {"action_id": ActionId.PICK_TARGET.value, "block_id": "b", "type": "external_select",
              "selected_option": option, "action_ts": f"{time.time():.6f}"}
    payload = {**_base(harness, ts, user), "type": "block_actions", "trigger_id": f"trig.{uuid.uuid4().hex}",
               "state": {"values": {}}, "response_url": harness.slack.webhook_url("action"), "actions": [action]}
    assert harness.dispatch(interaction_request(payload, secret=SECRET)).status == 200


def _article(harness: Harness, title: str) -> int:
    with harness.services.session() as s:
        return s.scalars(select(Article.id).where(Article.title == title)).one()


def test_a_person_chooses_the_article_the_draft_updates_then_a_new_article(harness: Harness, world) -> None:
    item = world["c1"]
    gap_msg = harness.flag(item)
    orders = _article(harness, "Order status")
    with harness.services.session() as s:
        gap_id = s.scalars(select(Gap.id)).one()
    select_el = find_element(gap_msg["blocks"], ActionId.PICK_TARGET)
    assert select_el["type"] == "external_select" and select_el["min_query_length"] == 0
    assert TargetRef.load(select_el["initial_option"]["value"]).gap_id == gap_id

    options = suggest(harness, gap_msg["ts"])  # the candidates, then "New article" last
    assert options[-1]["text"]["text"] == ":new: New article"
    assert TargetRef.load(options[-1]["value"]) == TargetRef(gap_id=gap_id)
    typed = suggest(harness, gap_msg["ts"], "order status")  # typing searches the whole KB
    chosen = next(o for o in typed if o["text"]["text"] == f"Update #{orders}: Order status")

    pick(harness, gap_msg["ts"], chosen, user=BEN)
    notice = harness.thread_with(item, "chose what gap")
    assert f"<@{BEN}> chose what gap #{gap_id}'s draft updates: article #{orders} “Order status”" in texts(notice)
    wait(lambda: f"The draft updates article #{orders}" in texts(harness.message(REVIEW, gap_msg["ts"])),
         what="the outline message shows the choice")
    with harness.services.session() as s:
        outline = latest_outline(s, gap_id)
        assert outline is not None and outline.content["update_article_ids"] == [orders]
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "target-chosen")).one()
        assert (event.actor, event.detail) == (BEN, {"article_id": orders})

    harness.click(REVIEW, notice["ts"], ActionId.WRITE_DRAFT)  # the notice's button writes the draft now
    draft_msg = harness.thread_with(item, "Draft for gap #")
    assert "Open Orders in your account" in texts(draft_msg)  # an update: the article plus the change
    with harness.services.session() as s:
        draft = s.scalars(select(Draft).order_by(Draft.id.desc())).first()
        assert draft is not None and draft.target_article_id == orders and draft.title == "Order status"

    new = suggest(harness, gap_msg["ts"])[-1]
    pick(harness, gap_msg["ts"], new)
    harness.thread_with(item, "draft updates: a new article")
    wait(lambda: "The draft is a new article" in texts(harness.message(REVIEW, gap_msg["ts"])), what="new article")
    with harness.services.session() as s:
        latest = s.scalars(select(Draft).order_by(Draft.id.desc())).first()
        assert latest is not None and latest.target_article_id is None  # the latest draft follows the choice
    assert not harness.slack.rejections


def test_a_withdrawn_article_is_refused_and_nothing_changes(harness: Harness, world) -> None:
    item = world["c1"]
    gap_msg = harness.flag(item)
    shipping = _article(harness, "Shipping times")
    with harness.services.session() as s:
        gap_id = s.scalars(select(Gap.id)).one()
        s.get_one(Article, shipping).withdrawn_at = harness.services.clock()
        before = (latest_outline(s, gap_id).content or {}).get("update_article_ids")  # type: ignore[union-attr]
    assert all(TargetRef.load(o["value"]).article_id != shipping for o in suggest(harness, gap_msg["ts"]))
    stale = {"text": {"type": "plain_text", "text": "Update #x"},
             "value": TargetRef(gap_id=gap_id, article_id=shipping).dump()}
    pick(harness, gap_msg["ts"], stale)
    shown = wait(lambda: [c for c in harness.slack.calls_to("chat.postEphemeral")
                          if "is not live any more" in texts(c.params)], what="the refusal")
    assert shown
    with harness.services.session() as s:
        assert (latest_outline(s, gap_id).content or {}).get("update_article_ids") == before  # type: ignore[union-attr]
