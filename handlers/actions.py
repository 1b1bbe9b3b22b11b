"""Buttons and selects. Each listener acks first, reads its pydantic ref from the button value, calls one
service (or one flow in `handlers.flows`) and renders with a builder. Stale buttons raise a typed error
that the app's error handler shows ephemerally.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.blocks import build_conversation_modal, build_draft_messages, build_edit_draft_modal, build_edit_outline_modal
from bot.blocks.common import mention
from bot.blocks.models import EditDraftView, EditOutlineView, OverrideView
from bot.blocks.target import build_target_notice, build_target_options
from bot.blocks.verdict import build_override_modal
from bot.errors import InvalidInput, NotFound
from bot.services import (
    Services,
    authoring,
    conversations,
    gaps,
    help_centre,
    kb_history,
    ownership,
    threads,
    verdicts,
)
from bot.slack.client import open_view
from handlers import flows, present
from handlers.ids import (
    ActionId,
    DraftRef,
    GapRef,
    ItemRef,
    JoinRef,
    KindRef,
    NewGapRef,
    RetryRef,
    RollbackRef,
    RunRef,
    TargetRef,
    TurnRef,
    parse_value,
)

log = logging.getLogger(__name__)


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


# --- the digest item --------------------------------------------------------------------------------
def handle_flag_button(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    ack()
    item = threads.get_item(services, parse_value(body, ItemRef).item_id)
    flows.flag_item(services, client, item=item, user=_user(body))


def handle_looks_good(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    ack()
    item = threads.get_item(services, parse_value(body, ItemRef).item_id)
    gaps.mark_looks_good(services, conversation_id=item.conversation_id, user=_user(body))
    flows.refresh_item(services, client, item.item_id)


def handle_show_conversation(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    ack()
    item = threads.get_item(services, parse_value(body, ItemRef).item_id)
    ref, turns = conversations.transcript(services, item.conversation_id)
    view = present.conversation_view(item.conversation_id, ref, turns)
    open_view(client, trigger_id=body["trigger_id"], view=build_conversation_modal(view))


# --- the gap message ------------------------------------------------------------------------------
def _in_its_thread(services: Services, body: dict[str, Any], gap_id: int) -> flows.Where:
    """Where the click was, refused unless it is the gap's own thread (a forged value naming another gap)."""
    w = flows.where(body)
    if threads.gap_thread(services, gap_id) != (w.channel, w.thread_ts):
        raise InvalidInput(f"This control is not gap #{gap_id}'s: use the one in the gap's own thread.")
    return w


def _redraw(services: Services, client: WebClient, w: flows.Where, gap_id: int) -> None:
    flows.update(client, w.channel, w.message_ts, flows.gap_message(services, gap_id))


def handle_pick_turn(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    ack()
    ref = parse_value(body, TurnRef)
    w = _in_its_thread(services, body, ref.gap_id)
    gaps.set_flagged_turn(services, gap_id=ref.gap_id, position=ref.position, user=_user(body))
    _redraw(services, client, w, ref.gap_id)


def handle_take_gap(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    """'I'll take it': the clicker owns the gap (the same as replying "I'll write this")."""
    ack()
    gap_id = parse_value(body, GapRef).gap_id
    w = _in_its_thread(services, body, gap_id)
    change = ownership.take_ownership(services, gap_id=gap_id, user=_user(body))
    _redraw(services, client, w, gap_id)
    if change.changed:
        flows.refresh_item(services, client, change.item_id)  # the digest item shows the owner too


def handle_pick_kind(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    ack()
    ref = parse_value(body, KindRef)
    w = _in_its_thread(services, body, ref.gap_id)
    ownership.set_kind(services, gap_id=ref.gap_id, kind=ref.kind, user=_user(body))
    _redraw(services, client, w, ref.gap_id)


def handle_pick_target(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    """The target select: the draft updates the chosen article, or is a new one (as `flywheel gaps target`)."""
    ack()
    ref, user = parse_value(body, TargetRef), _user(body)
    w = _in_its_thread(services, body, ref.gap_id)  # a value naming another thread's gap is refused
    gaps.require_active(services, ref.gap_id)
    chosen = help_centre.set_target(services, gap_id=ref.gap_id, user=user,
                                    article=str(ref.article_id) if ref.article_id else None)
    flows.update(client, w.channel, w.message_ts, flows.gap_message(services, ref.gap_id))
    choice = present.target_choice(help_centre.target_title(services, chosen)) if chosen else None
    flows.post(client, w.channel, build_target_notice(ref.gap_id, user, choice), thread_ts=w.thread_ts)


def handle_target_options(ack: Ack, body: dict[str, Any], services: Services) -> None:
    """The target select's options (block_suggestion): candidates, or the KB's matches for what was typed."""
    blocks = (body.get("message") or {}).get("blocks", [])
    block: dict[str, Any] = next((b for b in blocks if b.get("block_id") == body.get("block_id")), {})
    try:
        ref = TargetRef.load(((block.get("accessory") or {}).get("initial_option") or {}).get("value"))
        found = help_centre.target_candidates(services, gap_id=ref.gap_id, query=str(body.get("value") or "")[:200])
    except (InvalidInput, NotFound):  # no select on that message, or its gap is gone: nothing to offer, not a 500
        log.info("target options refused block_id=%r", body.get("block_id"))
        ack(options=[])
        return
    ack(options=build_target_options(ref.gap_id, [present.target_choice(c) for c in found]))


def handle_write_draft(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    ack()
    gap_id = parse_value(body, GapRef).gap_id
    flows.write_draft(services, client, gap_id=gap_id, user=_user(body), where_=flows.where(body))


def handle_edit_outline(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    ack()
    gap_id = parse_value(body, GapRef).gap_id
    gaps.require_active(services, gap_id)
    outline = present.outline_view(authoring.get_outline(services, gap_id))
    if outline is None:
        raise InvalidInput(f"Gap #{gap_id} has no outline yet. Wait for it, or write the draft directly.")
    w = flows.where(body)
    view = EditOutlineView(gap_id=gap_id, title=outline.title, sections=outline.sections,
                           required_facts=outline.required_facts, channel=w.channel, thread_ts=w.thread_ts,
                           message_ts=w.message_ts)
    open_view(client, trigger_id=body["trigger_id"], view=build_edit_outline_modal(view))


def handle_dismiss(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    ack()
    gap_id = parse_value(body, GapRef).gap_id
    gaps.dismiss(services, gap_id=gap_id, user=_user(body), reason="dismissed in Slack")
    w = flows.where(body)
    flows.update(client, w.channel, w.message_ts, flows.gap_message(services, gap_id))
    log.info("dismissed gap_id=%r", gap_id)


def handle_join_gap(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    ack()
    ref, user = parse_value(body, JoinRef), _user(body)
    gaps.flag(services, conversation_id=ref.conversation_id, user=user, on_match=ref.gap_id)
    flows.refresh_item(services, client, ref.item_id)
    w = flows.where(body)
    text = f":link: {mention(user)} added this conversation to *gap #{ref.gap_id}* as another example."
    flows.update(client, w.channel, w.message_ts, present.notice(text))
    thread = threads.gap_thread(services, ref.gap_id)
    if thread is not None:
        flows.post(client, thread[0], present.notice(text.replace("this conversation", "a conversation")),
                   thread_ts=thread[1])


def handle_new_gap(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    ack()
    ref, w = parse_value(body, NewGapRef), flows.where(body)
    if ref.item_id is not None:
        item = threads.get_item(services, ref.item_id)
    else:
        item = threads.ItemInfo(None, ref.conversation_id, w.channel, w.thread_ts)
    thread = flows.Where(w.channel, w.thread_ts, None)
    gap_id = flows.flag_item(services, client, item=item, user=_user(body), on_match="new", thread=thread)
    flows.update(client, w.channel, w.message_ts, present.notice(f":books: Opened a separate gap: *gap #{gap_id}*."))


# --- the draft ------------------------------------------------------------------------------------
def _open_edit_draft(body: dict[str, Any], services: Services, client: WebClient, *, then_test: bool) -> None:
    gap_id = parse_value(body, DraftRef).gap_id
    gaps.require_active(services, gap_id)
    draft = threads.current_draft(services, gap_id)
    if draft is None:
        raise InvalidInput(f"Gap #{gap_id} has no draft yet: write one first.")
    w = flows.where(body)
    # Edit-and-retry is clicked on a verdict: the edited draft is then posted as a new message.
    view = EditDraftView(gap_id=gap_id, draft_id=draft.draft_id, title=draft.title, body=draft.body,
                         channel=w.channel, thread_ts=w.thread_ts, message_ts=None if then_test else w.message_ts,
                         then_test=then_test)
    open_view(client, trigger_id=body["trigger_id"], view=build_edit_draft_modal(view))


def handle_edit_draft(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    ack()
    _open_edit_draft(body, services, client, then_test=False)


def handle_edit_and_retry(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    ack()
    _open_edit_draft(body, services, client, then_test=True)


def handle_test_draft(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    ack()
    gap_id = parse_value(body, DraftRef).gap_id
    flows.shadow_test(services, client, gap_id=gap_id, user=_user(body), where_=flows.where(body))


def handle_publish(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    ack()
    ref = parse_value(body, DraftRef)  # the draft the button showed is the one published, or refused
    flows.publish(services, client, gap_id=ref.gap_id, user=_user(body), where_=flows.where(body),
                  draft_id=ref.draft_id)


def handle_dismiss_draft(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    ack()
    gap_id = parse_value(body, DraftRef).gap_id
    gaps.require_active(services, gap_id)
    draft = threads.current_draft(services, gap_id)
    w = flows.where(body)
    if draft is not None and w.message_ts:
        flows.update(client, w.channel, w.message_ts,
                     build_draft_messages(present.draft_view(draft, state="dismissed"))[-1])
    log.info("draft dismissed gap_id=%r", gap_id)


# --- errors and links -----------------------------------------------------------------------------
def handle_retry(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    ack()
    ref, user, w = parse_value(body, RetryRef), _user(body), flows.where(body)
    retried = present.notice(f":arrows_counterclockwise: Retried by {mention(user)}.")
    flows.update(client, w.channel, w.message_ts, retried)
    thread = flows.Where(w.channel, w.thread_ts, None)
    if ref.action == ActionId.FLAG and ref.gap_id:
        flows.outline(services, client, gap_id=ref.gap_id, thread=thread, user=user)
    elif ref.action == ActionId.FLAG and ref.item_id:
        flows.flag_item(services, client, item=threads.get_item(services, ref.item_id), user=user)
    elif ref.action == ActionId.WRITE_DRAFT and ref.gap_id:
        flows.write_draft(services, client, gap_id=ref.gap_id, user=user, where_=thread)
    elif ref.action == ActionId.TEST_DRAFT and ref.gap_id:
        flows.shadow_test(services, client, gap_id=ref.gap_id, user=user, where_=thread)
    elif ref.action == ActionId.PUBLISH and ref.gap_id:
        flows.publish(services, client, gap_id=ref.gap_id, user=user, where_=thread, draft_id=ref.draft_id)
    else:
        raise InvalidInput("This can't be retried from here. Use the buttons on the latest message.")


def handle_open_link(ack: Ack) -> None:
    ack()  # url buttons open in the browser, but Slack still sends block_actions


def handle_verdict_wrong(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    """'Verdict is wrong' on any verdict: the modal asks for the right verdict and a reason."""
    ack()
    ref = parse_value(body, RunRef)
    judged = verdicts.judge_verdict(services, ref.run_id)
    w = flows.where(body)
    view = OverrideView(run_id=ref.run_id, judge_verdict=judged, gap_id=ref.gap_id, channel=w.channel,
                        thread_ts=w.thread_ts)
    open_view(client, trigger_id=body["trigger_id"], view=build_override_modal(view))


def handle_rollback(ack: Ack, body: dict[str, Any], services: Services, client: WebClient) -> None:
    """'Roll back to vN' on a verdict: the previous version goes live again (here and in the team's KB)."""
    ack()
    ref = parse_value(body, RollbackRef)
    done = kb_history.rollback_from_verdict(services, article_id=ref.article_id, from_version=ref.from_version,
                                            to_version=ref.to_version, gap_id=ref.gap_id, user=_user(body))
    w = flows.where(body)
    text = (f":rewind: {mention(_user(body))} rolled article #{done.article_id} back to version {done.restored_from}"
            f" (now version {done.version}; the history is kept).")
    flows.post(client, w.channel, present.notice(text), thread_ts=w.thread_ts)
