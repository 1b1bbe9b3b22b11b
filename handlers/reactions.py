"""Reactions on digest items: the flag emoji flags a gap, the ok emoji marks the conversation as fine,
removing the flag before drafting un-flags. Anything else (other emojis, other messages) is a no-op.

Bolt acks events before running the listener, so all of this happens after the 200.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient

from bot.blocks.common import mention
from bot.domain import GapState
from bot.services import Services, gaps, threads
from handlers import flows, present

log = logging.getLogger(__name__)


def _emoji(event: dict[str, Any]) -> str:
    return (event.get("reaction") or "").split("::")[0]  # skin tones arrive as "name::skin-tone-2"


def is_flag_emoji(event: dict[str, Any], services: Services) -> bool:
    return _emoji(event) == services.settings.flag_emoji


def is_ok_emoji(event: dict[str, Any], services: Services) -> bool:
    return _emoji(event) == services.settings.ok_emoji


def _item(services: Services, event: dict[str, Any]) -> threads.ItemInfo | None:
    """The digest item reacted to, or None (another message, a file, or a payload missing its fields)."""
    item = event.get("item")
    if not isinstance(item, dict) or not isinstance(event.get("user"), str) or not event["user"]:
        return None
    if item.get("type") != "message" or not isinstance(item.get("channel"), str) or not isinstance(item.get("ts"), str):
        return None
    return threads.find_item(services, channel=item["channel"], ts=item["ts"])


def handle_gap_flag(event: dict[str, Any], services: Services, client: WebClient) -> None:
    item = _item(services, event)
    if item is None:
        return  # not a digest item
    flows.flag_item(services, client, item=item, user=event["user"])


def handle_ok_reaction(event: dict[str, Any], services: Services, client: WebClient) -> None:
    item = _item(services, event)
    if item is None:
        return
    gaps.mark_looks_good(services, conversation_id=item.conversation_id, user=event["user"])
    flows.refresh_item(services, client, item.item_id)
    log.info("looks good item_id=%r", item.item_id)


def handle_flag_removed(event: dict[str, Any], services: Services, client: WebClient) -> None:
    item = _item(services, event)
    gap_id = threads.active_gap_for(services, item.conversation_id) if item else None
    if item is None or gap_id is None:
        return
    state = gaps.unflag(services, gap_id=gap_id, user=event["user"])
    log.info("unflag gap_id=%r state=%r", gap_id, state)
    if state == GapState.DISMISSED:
        text = f":leftwards_arrow_with_hook: {mention(event['user'])} removed the flag: gap #{gap_id} is withdrawn."
        # the digest item is in the channel reacted in (checked to be a string by `_item`)
        flows.post(client, event["item"]["channel"], present.notice(text), thread_ts=item.ts)
        flows.refresh_item(services, client, item.item_id)


def ignore_event() -> None:
    """Subscribed events we don't act on still need a listener: without one Bolt answers 404 and Slack
    retries the event (and counts the failures against the app)."""
