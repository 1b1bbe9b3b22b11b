"""Replies in a gap's thread, by the convention of `bot.services.notes`: a reply that starts with `note:`
becomes a note (acknowledged with a :memo: reaction), "I'll write this" makes its author the gap's owner
(:raising_hand:), anything else is conversation and is left alone. An edited reply updates its note (or
adds or drops it), a deleted one drops it; the gap's thread message then shows the new count and owner.
Every other message is a no-op.

Bolt acks events before the listener runs. The `message` listener takes every subtype (edits,
deletions, joins…) so none of them is answered with a 404 that Slack would retry.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient

from bot.errors import IllegalTransition
from bot.services import Services, authoring, gap_thread, notes, ownership, threads
from bot.services.notes import Change, ReplyKind
from bot.slack.client import set_reaction, user_display_name
from bot.slack.text import decode_message
from handlers import flows

log = logging.getLogger(__name__)


NOTE_SUBTYPES = (None, "thread_broadcast")  # a plain reply, or one also sent to the channel
NOTE_EMOJI = "memo"  # on a reply captured as a note
OWNER_EMOJI = "raising_hand"  # on "I'll write this"


def _text(s: Any) -> bool:
    return isinstance(s, str) and bool(s)


def _str(s: Any) -> str | None:
    return s if isinstance(s, str) and s else None


def _dict(d: Any) -> dict[str, Any]:
    return d if isinstance(d, dict) else {}


def is_thread_reply(event: dict[str, Any]) -> bool:
    """A person's reply in a thread: a plain reply (or broadcast), not a bot, not the thread's parent."""
    thread_ts, text = event.get("thread_ts"), event.get("text")
    return (
        event.get("subtype") in NOTE_SUBTYPES
        and not event.get("bot_id")
        and all(_text(event.get(k)) for k in ("user", "channel", "ts"))
        and _text(thread_ts)
        and thread_ts != event.get("ts")
        and isinstance(text, str) and bool(text.strip())
    )


def _decode(client: WebClient, text: str) -> str:
    # Stored as the person wrote it: Slack's &gt;/&amp;/&lt; decoded, <@U…> resolved to @Name, links unwrapped.
    return decode_message(text, user_name=lambda user_id: user_display_name(client, user_id))


def refresh_gap_message(services: Services, client: WebClient, gap_id: int) -> None:
    """Re-render the gap's thread message (notes count, owner), once its outline is there (until then the
    outline's own update renders it)."""
    posted = gap_thread.posted_message(services, gap_id)
    if posted is not None and authoring.get_outline(services, gap_id) is not None:
        flows.update(client, posted[0], posted[1], flows.gap_message(services, gap_id))


def handle_message(event: dict[str, Any], services: Services, client: WebClient) -> None:
    subtype = event.get("subtype")
    if subtype == "message_changed":
        handle_reply_edited(event, services, client)
    elif subtype == "message_deleted":
        handle_reply_deleted(event, services, client)
    elif is_thread_reply(event):
        handle_reply(event, services, client)


def handle_reply(event: dict[str, Any], services: Services, client: WebClient) -> None:
    channel, ts, user = event["channel"], event["ts"], event["user"]
    gap_id = threads.gap_for_thread(services, channel=channel, thread_ts=event["thread_ts"])
    if gap_id is None:
        return  # a thread that is not a gap's
    kind, note = notes.classify(_decode(client, event["text"]))
    if kind == ReplyKind.OWN:
        try:
            owned = ownership.take_ownership(services, gap_id=gap_id, user=user)
        except IllegalTransition:
            log.info("owner claim on a closed gap ignored gap_id=%r ts=%r", gap_id, ts)
            return
        set_reaction(client, channel=channel, ts=ts, name=OWNER_EMOJI)
        if owned.changed:
            flows.refresh_item(services, client, owned.item_id)  # the digest item shows the owner too
    elif kind == ReplyKind.NOTE:
        change = notes.add_reply(services, gap_id=gap_id, author=user, ts=ts, text=note)
        if change.change == Change.UNCHANGED:  # the same reply delivered twice (Slack's retry, another instance)
            log.info("note already recorded gap_id=%r ts=%r", gap_id, ts)
            return
        log.info("note added gap_id=%r note_id=%r ts=%r", gap_id, change.note_id, ts)
        set_reaction(client, channel=channel, ts=ts, name=NOTE_EMOJI)
    else:
        log.info("thread reply is not a note gap_id=%r ts=%r", gap_id, ts)
        return
    refresh_gap_message(services, client, gap_id)


def handle_reply_edited(event: dict[str, Any], services: Services, client: WebClient) -> None:
    """message_changed: `message` is the reply as it is now (`edited` set by a person's edit; without it the
    change is Slack's own, e.g. a parent's reply count), `previous_message` as it was."""
    msg, before = _dict(event.get("message")), _dict(event.get("previous_message"))
    channel, ts = _str(event.get("channel")), _str(msg.get("ts") or before.get("ts"))
    thread_ts = _str(msg.get("thread_ts") or before.get("thread_ts"))
    if msg.get("bot_id") or not msg.get("edited") or channel is None or ts is None or thread_ts is None:
        return
    if ts == thread_ts:
        return  # the thread's parent
    gap_id = threads.gap_for_thread(services, channel=channel, thread_ts=thread_ts)
    if gap_id is None:
        return
    kind, note = notes.classify(_decode(client, str(msg.get("text") or "")))
    author = str(msg.get("user") or before.get("user") or "someone")
    change = notes.edit_reply(services, gap_id=gap_id, channel=channel, ts=ts, author=author,
                              text=note if kind == ReplyKind.NOTE else None)
    log.info("reply edited gap_id=%r ts=%r note=%s", gap_id, ts, change.change)
    if change.change in (Change.ADDED, Change.DROPPED):
        set_reaction(client, channel=channel, ts=ts, name=NOTE_EMOJI, on=change.change == Change.ADDED)
    if change.change != Change.UNCHANGED:
        refresh_gap_message(services, client, change.gap_id)


def handle_reply_deleted(event: dict[str, Any], services: Services, client: WebClient) -> None:
    channel, ts = _str(event.get("channel")), _str(event.get("deleted_ts"))
    if channel is None or ts is None:
        return
    change = notes.drop_reply(services, channel=channel, ts=ts)
    if change is not None:
        log.info("note dropped with its reply gap_id=%r ts=%r", change.gap_id, ts)
        refresh_gap_message(services, client, change.gap_id)
