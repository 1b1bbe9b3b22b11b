"""Thread replies under a gap's thread become the gap's notes (decoded from Slack's markup to the text the
person wrote); every other message is a no-op.

Bolt acks events before the listener runs. The `message` listener takes every subtype (edits,
deletions, joins…) so none of them is answered with a 404 that Slack would retry.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient

from bot.services import Services, gaps, threads
from bot.slack.client import user_display_name
from bot.slack.text import decode_message

log = logging.getLogger(__name__)


NOTE_SUBTYPES = (None, "thread_broadcast")  # a plain reply, or one also sent to the channel


def is_thread_reply(event: dict[str, Any]) -> bool:
    """A person's reply in a thread: a plain reply (or broadcast), not a bot, not the thread's parent."""
    thread_ts, text = event.get("thread_ts"), event.get("text")
    return (
        event.get("subtype") in NOTE_SUBTYPES
        and not event.get("bot_id")
        and all(isinstance(event.get(k), str) and event[k] for k in ("user", "channel", "ts"))
        and isinstance(thread_ts, str) and bool(thread_ts)
        and thread_ts != event.get("ts")
        and isinstance(text, str) and bool(text.strip())
    )


def handle_message(event: dict[str, Any], services: Services, client: WebClient) -> None:
    if not is_thread_reply(event):
        return
    gap_id = threads.gap_for_thread(services, channel=event["channel"], thread_ts=event["thread_ts"])
    if gap_id is None:
        return  # a thread that is not a gap's
    # Stored as the person wrote it: Slack's &gt;/&amp;/&lt; decoded, <@U…> resolved to @Name, links unwrapped.
    text = decode_message(event["text"], user_name=lambda user_id: user_display_name(client, user_id))
    note_id = gaps.add_note(services, gap_id=gap_id, author=event["user"], text=text, source_ref=event["ts"])
    if note_id:
        log.info("note added gap_id=%r note_id=%r ts=%r", gap_id, note_id, event["ts"])
    else:  # the same reply delivered twice (Slack's retry, another instance)
        log.info("note already recorded gap_id=%r ts=%r", gap_id, event["ts"])
