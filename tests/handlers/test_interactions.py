"""Modals, selects, stale buttons, no-op events and request signing, through the real app."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from bot.domain import GapState
from bot.services.insight import gap_detail
from bot.services.regression import RegressionResult
from handlers import flows
from handlers.ids import ActionId, InputId, ViewId
from storage.models import Draft, Gap, GapNote
from tests.support.harness import ANA, BEN, REVIEW, SECRET, Harness, event_request, texts, wait


def _gap(harness: Harness) -> Gap:
    with harness.services.session() as s:
        return s.scalars(select(Gap)).one()


def _opened_view(harness: Harness, count: int = 1) -> dict:  # type: ignore[type-arg]
    return harness.slack.wait_for("views.open", count)[-1].json_param("view")


def _stored_view(harness: Harness, count: int = 1) -> dict:  # type: ignore[type-arg]
    """The modal as Slack holds it (id, hash, private_metadata…), for a submission payload."""
    return harness.slack.wait_for("views.open", count)[-1].response["view"]


def test_show_conversation_opens_the_full_conversation(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    harness.click(REVIEW, world["c1"].ts, ActionId.SHOW_CONVERSATION)
    view = _opened_view(harness)
    assert view["callback_id"] == ViewId.CONVERSATION and view["type"] == "modal"
    body = texts(view)
    assert "`c1`" in body and "5 turns" in body
    assert "don't have information about that" in body and "5 business days" in body  # every turn, not an excerpt


def test_pick_turn_changes_the_flagged_turn(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    gap_msg = harness.flag(world["c1"])
    assert _gap(harness).flagged_position == 3  # the "don't know" answer was the guess
    harness.click(REVIEW, gap_msg["ts"], ActionId.PICK_TURN, option=0)
    wait(lambda: _gap(harness).flagged_position == 1, what="the turn to change")
    select_ = wait(lambda: next(
        (b["accessory"] for b in harness.message(REVIEW, gap_msg["ts"])["blocks"]
         if b.get("accessory", {}).get("type") == "static_select"
         and b["accessory"].get("initial_option", {}).get("text", {}).get("text", "").startswith("Turn 1")), None),
        what="the gap message to show turn 1")
    assert "Hello! How can I help?" in select_["initial_option"]["text"]["text"]


def test_edit_draft_modal_saves_a_new_revision(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    draft_msg = harness.write_draft(item, harness.flag(item))
    harness.click(REVIEW, draft_msg["ts"], ActionId.EDIT_DRAFT)
    view = _stored_view(harness)
    assert view["callback_id"] == ViewId.EDIT_DRAFT

    empty = harness.submit(view, {InputId.DRAFT_TITLE: ""})
    assert empty.status == 200 and json.loads(empty.body)["response_action"] == "errors"

    new_body = "Refunds to a credit card take 5 business days after the item arrives."
    ok = harness.submit(view, {InputId.DRAFT_TITLE: "Card refund times", InputId.DRAFT_BODY: new_body})
    assert ok.status == 200 and not ok.body  # the modal closes
    updated = wait(lambda: "Card refund times" in texts(m := harness.message(REVIEW, draft_msg["ts"])) and m,
                   what="the draft message to show the edit")
    assert "revision 2" in texts(updated) and new_body in texts(updated)
    with harness.services.session() as s:
        latest = s.scalars(select(Draft).order_by(Draft.id.desc())).first()
        assert (latest.title, latest.body, latest.created_by) == ("Card refund times", new_body, ANA)
        assert s.scalar(select(func.count()).select_from(Draft)) == 2


def test_edit_outline_modal_updates_the_gap_message(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    gap_msg = harness.flag(world["c1"])
    harness.click(REVIEW, gap_msg["ts"], ActionId.EDIT_OUTLINE)
    view = _stored_view(harness)
    assert view["callback_id"] == ViewId.EDIT_OUTLINE
    harness.submit(view, {InputId.OUTLINE_TITLE: "Refunds to cards",
                          InputId.OUTLINE_FACTS: "- Card refunds take 5 business days."})
    wait(lambda: "Refunds to cards" in texts(harness.message(REVIEW, gap_msg["ts"])), what="the new outline")
    outline = gap_detail(harness.services, _gap(harness).id).outline
    assert outline.title == "Refunds to cards" and outline.required_facts == ["Card refunds take 5 business days."]


def test_stale_button_on_a_dismissed_gap_says_so(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    gap_msg = harness.flag(item)
    stale = json.loads(json.dumps(harness.message(REVIEW, gap_msg["ts"])))  # the buttons as first posted
    harness.click(REVIEW, gap_msg["ts"], ActionId.DISMISS)
    wait(lambda: "Dismissed." in texts(harness.message(REVIEW, gap_msg["ts"])), what="the dismissed gap message")
    assert "Write draft" not in texts(harness.message(REVIEW, gap_msg["ts"]))
    posts_before = len(harness.slack.calls_to("chat.postMessage"))

    harness.slack.messages[(REVIEW, gap_msg["ts"])] = stale  # a teammate's screen still shows the old message
    assert harness.click(REVIEW, gap_msg["ts"], ActionId.WRITE_DRAFT, user=BEN).status == 200  # acked
    ephemeral = harness.slack.wait_for("chat.postEphemeral")[-1]
    assert ephemeral.params["user"] == BEN and ephemeral.params["channel"] == REVIEW
    assert f"Gap #{_gap(harness).id} is dismissed" in ephemeral.params["text"]
    harness.drain()
    assert len(harness.slack.calls_to("chat.postMessage")) == posts_before  # no placeholder, no draft
    with harness.services.session() as s:
        assert s.scalar(select(func.count()).select_from(Draft)) == 0
        assert s.scalar(select(Gap.state)) == GapState.DISMISSED


def test_reactions_elsewhere_and_other_emojis_do_nothing(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    harness.slack.clear()  # forget the digest posts
    unrelated = harness.slack.add_message(REVIEW, "lunch?", user=BEN)
    responses = [
        harness.event({"type": "reaction_added", "user": ANA, "reaction": "books",
                       "item": {"type": "message", "channel": REVIEW, "ts": unrelated}}),
        harness.react("tada", world["c1"], user=ANA),
        harness.react("tada", world["c1"], user=ANA, removed=True),
        harness.react("books", world["c2"], user=ANA, removed=True),  # nothing was flagged
    ]
    harness.drain()
    assert [r.status for r in responses] == [200, 200, 200, 200]
    assert not [c for c in harness.slack.calls if c.method.startswith(("chat.", "views."))]
    with harness.services.session() as s:
        assert s.scalar(select(func.count()).select_from(Gap)) == 0


def test_only_human_replies_in_a_gap_thread_become_notes(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    harness.flag(world["c1"])
    base = {"type": "message", "channel": REVIEW, "user": BEN, "channel_type": "channel"}
    ts = harness.slack.add_message(REVIEW, "x", user=BEN, thread_ts=world["c2"].ts)
    other = harness.slack.add_message(REVIEW, "y", user=BEN)
    responses = [
        harness.event({**base, "text": "not a gap thread", "ts": ts, "thread_ts": world["c2"].ts}),
        harness.event({**base, "text": "top level", "ts": other}),
        harness.event({**base, "text": "a bot", "ts": "1.000001", "thread_ts": world["c1"].ts, "bot_id": "B0OTHER"}),
        harness.event({"type": "message", "subtype": "message_changed", "channel": REVIEW, "ts": "1.000002",
                       "hidden": True, "message": {"text": "edited", "ts": ts}}),
        harness.event({"type": "message", "subtype": "channel_join", "channel": REVIEW, "user": BEN,
                       "ts": "1.000003", "text": "joined"}),
    ]
    reply, reply_ts = harness.reply(world["c1"], "note: Ask for the RMA number first.", user=BEN)
    wait(lambda: gap_detail(harness.services, _gap(harness).id).notes, what="the note")
    duplicate = harness.event({**base, "text": "note: Ask for the RMA number first.", "ts": reply_ts,
                               "thread_ts": world["c1"].ts})  # the same reply delivered again
    broadcast_ts = harness.slack.add_message(REVIEW, "z", user=ANA, thread_ts=world["c1"].ts)
    broadcast = harness.event({**base, "subtype": "thread_broadcast", "user": ANA, "text": "Note: Also in the FAQ.",
                               "ts": broadcast_ts, "thread_ts": world["c1"].ts, "root": {"ts": world["c1"].ts}})
    harness.drain()
    assert all(r.status == 200 for r in [*responses, reply, duplicate, broadcast])
    with harness.services.session() as s:
        notes = s.scalars(select(GapNote).order_by(GapNote.id)).all()
        assert [(n.author, n.text, n.source_ref) for n in notes] == [
            (BEN, "Ask for the RMA number first.", reply_ts), (ANA, "Also in the FAQ.", broadcast_ts)]


def test_bad_signature_is_rejected_and_nothing_happens(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    event = {"type": "reaction_added", "user": ANA, "reaction": "books",
             "item": {"type": "message", "channel": REVIEW, "ts": world["c1"].ts}}
    harness.slack.clear()
    forged = event_request(event, secret="not-the-secret")
    old = event_request(event, secret=SECRET, timestamp=1_600_000_000)  # a replayed request: too old
    assert harness.dispatch(forged).status == 401
    assert harness.dispatch(old).status == 401
    harness.drain()
    assert not [c for c in harness.slack.calls if c.method.startswith(("chat.", "views."))]
    with harness.services.session() as s:
        assert s.scalar(select(func.count()).select_from(Gap)) == 0


def test_a_broken_regression_is_posted_in_its_own_thread(harness: Harness, world) -> None:  # type: ignore[no-untyped-def]
    item = world["c1"]
    broke = RegressionResult(case_id=1, gap_id=7, conversation_id=item.conversation_id, verdict="fail", broke=True,
                             run_id=3, fixed_by=ANA, thread_channel=item.channel, thread_ts=item.ts)
    fine = RegressionResult(case_id=2, gap_id=8, conversation_id=1, verdict="pass", broke=False, run_id=4,
                            fixed_by=BEN, thread_channel=item.channel, thread_ts=world["c2"].ts)
    assert flows.announce_broken(harness.services, harness.app.client, [broke, fine]) == 1
    posted = harness.thread_with(item, "regression replay of")  # the nightly job's notice (bot/jobs.py)
    assert f"<@{ANA}>" in texts(posted) and "gap #7" in texts(posted)
    assert not harness.thread(world["c2"])
