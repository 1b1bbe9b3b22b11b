"""The listeners' side of the slow work, run after the ack: the quick checks, the placeholder users see, then
`later(...)`: the step itself (`handlers/steps.py`) runs inline, or as a durable job when the process has a work
queue. Listeners pull primitives out of the payload and call one of these; each renders with a builder.
Logs carry ids only (gap_id, item_id, channel, ts), never message text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

from slack_sdk import WebClient

from bot.blocks import Message, build_draft_messages, build_gap_message, build_match_message
from bot.blocks.common import mention
from bot.errors import InvalidInput
from bot.services import Services, gap_thread, gaps, publishing, threads
from bot.services.insight import gap_detail
from bot.services.permissions import spend
from handlers import present
from handlers.ids import ActionId
from handlers.steps import (
    Where,
    announce_broken,
    draft_into,
    fill_outline,
    gap_message,
    post,
    post_draft,
    publish_into,
    refresh_item,
    shadow_test_into,
    shown_in,
    update,
    where,
)

__all__ = [  # the steps and primitives are imported from here by the other handlers
    "Where", "announce", "announce_broken", "answer_later", "draft_into", "fill_outline", "flag_item", "gap_message",
    "job", "later", "outline", "placeholder", "post", "post_draft", "progress", "publish", "publish_into",
    "refresh_item", "shadow_test", "shadow_test_into", "show_edited_draft", "shown_in", "update", "where",
    "write_draft",
]

log = logging.getLogger(__name__)


def later(services: Services, task: str, payload: dict[str, Any], run_here: Callable[[], None]) -> None:
    """Slow work: a durable job when this process has a work queue (`bot/queue`: serve, run, worker), else run
    here. The payload carries ids only; the job (`bot/queue/tasks.py`) calls the same function `run_here` calls."""
    if services.queue is None:
        run_here()
    else:
        services.queue.enqueue(task, payload)


def answer_later(services: Services, task: str, payload: dict[str, Any], compute: Callable[[], Message],
                 ) -> Message | None:
    """A slash command's slow answer: `compute()` here (the caller responds), or, with a work queue, a durable job
    (`bot/queue/tasks.py`) that computes the same answer and sends it to the payload's `response_url`; then None."""
    if services.queue is None:
        return compute()
    services.queue.enqueue(task, payload)
    return None


def placeholder(client: WebClient, where_: Where, text: str) -> str:
    return post(client, where_.channel, present.notice(f":hourglass_flowing_sand: {text}"), thread_ts=where_.thread_ts)


def job(where_: Where, ts: str, **ids: Any) -> dict[str, Any]:
    """The payload of a queued step: where its placeholder is, and the ids it works on."""
    return {"channel": where_.channel, "thread_ts": where_.thread_ts, "message_ts": where_.message_ts, "ts": ts, **ids}


@contextmanager
def progress(
    client: WebClient, where_: Where, text: str, *, retry: ActionId | None = None, gap_id: int | None = None,
    draft_id: int | None = None,
) -> Iterator[str]:
    """A placeholder in the thread, replaced by the result (see `shown_in`)."""
    ts = placeholder(client, where_, text)
    with shown_in(client, where_, ts, retry=retry, gap_id=gap_id, draft_id=draft_id):
        yield ts


# --- flagging -------------------------------------------------------------------------------------
def flag_item(
    services: Services, client: WebClient, *, item: threads.ItemInfo, user: str,
    on_match: Literal["ask", "new"] | int = "ask", thread: Where | None = None,
) -> int | None:
    """Flag the conversation of a digest item and answer in its thread. Returns the gap id, if any.
    The gap, its thread and the claim on its thread message are one transaction (`gaps.flag`); when the
    claim comes back (a new gap, or one whose message a Slack failure left unposted) this call posts it."""
    if thread is None:
        if item.channel is None or item.ts is None:
            raise InvalidInput("This conversation is not posted in a digest, so it has no thread to answer in.")
        thread = Where(item.channel, item.ts, None)
    ref = gap_thread.ThreadRef(thread.channel, thread.thread_ts, item.item_id)
    result = gaps.flag(services, conversation_id=item.conversation_id, user=user, on_match=on_match, thread=ref)
    if result.gap_id is None:  # it matches an open gap: offer to join it
        refresh_item(services, client, item.item_id)
        view = present.match_view(result.matches[0], conversation_id=item.conversation_id, user=user,
                                  item_id=item.item_id)
        post(client, thread.channel, build_match_message(view), thread_ts=thread.thread_ts)
        log.info("flag matched gap_id=%r item_id=%r", result.matches[0].gap_id, item.item_id)
        return None
    if result.announcement is not None:
        announce(services, client, result.announcement, thread=thread, item_id=item.item_id, user=user)
        return result.gap_id
    refresh_item(services, client, item.item_id)
    if result.joined:
        text = f":books: {mention(user)} flagged this too · *gap #{result.gap_id}*"
        post(client, thread.channel, present.notice(text), thread_ts=thread.thread_ts)
    log.info("co-flag gap_id=%r item_id=%r joined=%r", result.gap_id, item.item_id, result.joined)
    return result.gap_id


def announce(
    services: Services, client: WebClient, claim: gap_thread.Announcement, *, thread: Where, item_id: int | None,
    user: str | None,
) -> None:
    """Post the gap's thread message once: the flag acknowledgement, the item's status, then the outline.
    Any failure gives the claim back, so the next flag on the conversation finishes the job; a message
    already posted by an earlier attempt is updated rather than posted again."""
    gap_id = claim.gap_id
    try:
        flag = present.flag_view(gap_detail(services, gap_id))
        posted = gap_thread.posted_message(services, gap_id)
        if posted is not None and posted[0] == thread.channel:
            ts = posted[1]
            update(client, thread.channel, ts, build_gap_message(flag))
        else:
            ts = post(client, thread.channel, build_gap_message(flag), thread_ts=thread.thread_ts)
            gap_thread.record_message(services, gap_id=gap_id, channel=thread.channel, ts=ts)
        refresh_item(services, client, item_id)
        later(services, "outline", job(thread, ts, gap_id=gap_id, user=user),
              lambda: fill_outline(services, client, gap_id=gap_id, thread=thread, ts=ts, user=user))
    except BaseException:
        gap_thread.release(services, claim)
        log.info("thread message left to the next flag gap_id=%r", gap_id)
        raise
    gap_thread.finish(services, claim)


def outline(services: Services, client: WebClient, *, gap_id: int, thread: Where, user: str | None) -> None:
    """The flag acknowledgement with "Drafting an outline…", then the outline in the same message."""
    flag = present.flag_view(gap_detail(services, gap_id))
    ts = post(client, thread.channel, build_gap_message(flag), thread_ts=thread.thread_ts)
    later(services, "outline", job(thread, ts, gap_id=gap_id, user=user),
          lambda: fill_outline(services, client, gap_id=gap_id, thread=thread, ts=ts, user=user))


# --- drafting -------------------------------------------------------------------------------------
def show_edited_draft(
    services: Services, client: WebClient, *, gap_id: int, where_: Where, then_test: bool, user: str
) -> None:
    """After an edit: the draft message shows the new revision (or, without one, a new message is
    posted); "edit and retry" then runs the shadow test."""
    first, *rest = build_draft_messages(present.draft_view(threads.current_draft(services, gap_id)))  # type: ignore[arg-type]
    if where_.message_ts:
        update(client, where_.channel, where_.message_ts, first)
    else:
        rest.insert(0, first)
    for msg in rest:
        post(client, where_.channel, msg, thread_ts=where_.thread_ts)
    if then_test:
        shadow_test(services, client, gap_id=gap_id, user=user, where_=where_)


def write_draft(services: Services, client: WebClient, *, gap_id: int, user: str, where_: Where) -> None:
    gaps.require_active(services, gap_id)  # a stale button stops here, before anything is posted
    spend(services, user, "write the draft", peek=True)  # out of model calls: refused ephemerally
    ts = placeholder(client, where_, "Writing the draft…")
    later(services, "draft", job(where_, ts, gap_id=gap_id, user=user),
          lambda: draft_into(services, client, gap_id=gap_id, user=user, where_=where_, ts=ts))


def shadow_test(services: Services, client: WebClient, *, gap_id: int, user: str, where_: Where) -> None:
    gaps.require_active(services, gap_id)
    spend(services, user, "test the draft", peek=True)  # out of model calls: refused ephemerally
    ts = placeholder(client, where_, "Testing the draft in a shadow knowledge base (nothing is published)…")
    later(services, "shadow-test", job(where_, ts, gap_id=gap_id, user=user),
          lambda: shadow_test_into(services, client, gap_id=gap_id, user=user, where_=where_, ts=ts))


def publish(services: Services, client: WebClient, *, gap_id: int, user: str, where_: Where,
            draft_id: int | None = None) -> None:
    """Publish the draft the button named (`draft_id`; None: the latest), then the verdict in place."""
    publishing.check_publish(services, gap_id=gap_id, user=user)  # refused ephemerally, nothing posted
    ts = placeholder(client, where_, "Publishing, then replaying the conversation against the live knowledge base…")
    later(services, "publish", job(where_, ts, gap_id=gap_id, user=user, draft_id=draft_id),
          lambda: publish_into(services, client, gap_id=gap_id, user=user, where_=where_, ts=ts, draft_id=draft_id))
