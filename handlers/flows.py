"""The slow part of the listeners, run after the ack: post a placeholder, call a service, update it.

Listeners pull primitives out of the payload and call one of these; each renders with a builder.
Logs carry ids only (gap_id, item_id, channel, ts), never message text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from slack_sdk import WebClient

from bot.blocks import (
    Message,
    build_digest_item,
    build_draft_messages,
    build_error_message,
    build_gap_message,
    build_match_message,
    build_verdict_message,
)
from bot.blocks.common import esc, mention
from bot.blocks.models import ErrorView
from bot.domain import GapState
from bot.errors import FlywheelError, IllegalTransition, InvalidInput, LLMError
from bot.present import digest_item_view
from bot.services import Services, authoring, gap_thread, gaps, publishing, threads
from bot.services.insight import gap_detail
from bot.services.permissions import spend
from bot.services.regression import RegressionResult
from bot.slack.client import post_message, update_message
from handlers import present
from handlers.ids import ActionId

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Where:
    """Where a clicked message is: its channel, its thread (the digest item) and its own ts."""

    channel: str
    thread_ts: str
    message_ts: str | None


def where(body: dict[str, Any]) -> Where:
    container = body.get("container") or {}
    msg = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    message_ts = container.get("message_ts") or msg.get("ts")
    thread_ts = msg.get("thread_ts") or message_ts
    if not isinstance(channel, str) or not isinstance(thread_ts, str):
        raise InvalidInput("This button is not on a message Flywheel can answer in (no channel or message).")
    return Where(channel=channel, thread_ts=thread_ts, message_ts=message_ts)


def post(client: WebClient, channel: str, msg: Message, *, thread_ts: str | None = None) -> str:
    return post_message(client, channel=channel, thread_ts=thread_ts, **msg.as_kwargs())


def update(client: WebClient, channel: str, ts: str | None, msg: Message) -> None:
    """Replace a message; without its ts (a payload that lacks one) there is nothing to replace."""
    if ts is None:
        log.info("update skipped: no message ts channel=%r", channel)
        return
    update_message(client, channel=channel, ts=ts, **msg.as_kwargs())


def later(services: Services, task: str, payload: dict[str, Any], run_here: Callable[[], None]) -> None:
    """Slow work: a durable job when this process has a work queue (`bot/queue`: serve, run, worker), else run
    here. The payload carries ids only; the job (`bot/queue/tasks.py`) calls the same function `run_here` calls."""
    if services.queue is None:
        run_here()
    else:
        services.queue.enqueue(task, payload)


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


@contextmanager
def shown_in(
    client: WebClient, where_: Where, ts: str, *, retry: ActionId | None = None, gap_id: int | None = None,
    draft_id: int | None = None,
) -> Iterator[str]:
    """The placeholder `ts` is replaced by the result; a FlywheelError replaces it with the user-safe message
    (and a retry button when trying again can help)."""
    try:
        yield ts
    except FlywheelError as exc:
        log.info("%s shown in thread gap_id=%r channel=%r ts=%r", type(exc).__name__, gap_id, where_.channel, ts)
        can_retry = retry is not None and (not isinstance(exc, LLMError) or exc.retryable)
        view = ErrorView(message=exc.message, retry_action=retry if can_retry else None, gap_id=gap_id,
                         draft_id=draft_id)
        update(client, where_.channel, ts, build_error_message(view))
    except Exception:
        update(client, where_.channel, ts, present.notice(":warning: Something went wrong; nothing more was done."))
        raise


def refresh_item(services: Services, client: WebClient, item_id: int | None) -> None:
    """Re-render the digest item message (its status line: flagged, looks good, fixed)."""
    if item_id is None:
        return
    item = threads.get_item(services, item_id)
    if item.channel and item.ts:
        view = digest_item_view(threads.digest_item(services, item_id), settings=services.settings)
        update(client, item.channel, item.ts, build_digest_item(view))


def gap_message(services: Services, gap_id: int) -> Message:
    detail = gap_detail(services, gap_id)
    return build_gap_message(present.flag_view(detail), present.outline_view(detail.outline, services.llm.name))


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


def fill_outline(services: Services, client: WebClient, *, gap_id: int, thread: Where, ts: str,
                 user: str | None) -> None:
    """Put the outline into the gap message `ts` (an outline made by an earlier attempt is reused); a model
    failure says so there, with a retry button below."""
    try:
        if authoring.get_outline(services, gap_id) is None:
            authoring.suggest_outline(services, gap_id=gap_id, user=user)
    except FlywheelError as exc:
        log.info("outline failed gap_id=%r: %s", gap_id, type(exc).__name__)
        flag = present.flag_view(gap_detail(services, gap_id))
        update(client, thread.channel, ts, build_gap_message(flag, progress="No outline this time."))
        view = ErrorView(message=exc.message, retry_action=ActionId.FLAG, gap_id=gap_id)
        post(client, thread.channel, build_error_message(view), thread_ts=thread.thread_ts)
        return
    update(client, thread.channel, ts, gap_message(services, gap_id))
    log.info("outline posted gap_id=%r channel=%r ts=%r", gap_id, thread.channel, ts)


# --- drafting -------------------------------------------------------------------------------------
def post_draft(services: Services, client: WebClient, where_: Where, gap_id: int, ts: str) -> None:
    """Replace message `ts` with the current draft (a long draft continues in more messages)."""
    draft = threads.current_draft(services, gap_id)
    if draft is None:
        raise IllegalTransition(f"Gap #{gap_id} has no draft yet: write one first.")
    first, *rest = build_draft_messages(present.draft_view(draft))
    update(client, where_.channel, ts, first)
    for msg in rest:
        post(client, where_.channel, msg, thread_ts=where_.thread_ts)


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


def draft_into(services: Services, client: WebClient, *, gap_id: int, user: str, where_: Where, ts: str) -> None:
    with shown_in(client, where_, ts, retry=ActionId.WRITE_DRAFT, gap_id=gap_id):
        authoring.write_draft(services, gap_id=gap_id, user=user)
        post_draft(services, client, where_, gap_id, ts)
    log.info("draft posted gap_id=%r", gap_id)


def shadow_test(services: Services, client: WebClient, *, gap_id: int, user: str, where_: Where) -> None:
    gaps.require_active(services, gap_id)
    spend(services, user, "test the draft", peek=True)  # out of model calls: refused ephemerally
    ts = placeholder(client, where_, "Testing the draft in a shadow knowledge base (nothing is published)…")
    later(services, "shadow-test", job(where_, ts, gap_id=gap_id, user=user),
          lambda: shadow_test_into(services, client, gap_id=gap_id, user=user, where_=where_, ts=ts))


def shadow_test_into(services: Services, client: WebClient, *, gap_id: int, user: str, where_: Where,
                     ts: str) -> None:
    with shown_in(client, where_, ts, retry=ActionId.TEST_DRAFT, gap_id=gap_id):
        outcome = authoring.shadow_test(services, gap_id=gap_id, user=user)
        draft = threads.current_draft(services, gap_id)
        question = gap_detail(services, gap_id).question
        view = present.verdict_view(outcome, gap_id=gap_id, article_title=draft.title if draft else "",
                                    draft_id=draft.draft_id if draft else None, question=question)
        update(client, where_.channel, ts, build_verdict_message(view))
    log.info("shadow test posted gap_id=%r", gap_id)


def publish(services: Services, client: WebClient, *, gap_id: int, user: str, where_: Where,
            draft_id: int | None = None) -> None:
    """Publish the draft the button named (`draft_id`; None: the latest), then the verdict in place."""
    publishing.check_publish(services, gap_id=gap_id, user=user)  # refused ephemerally, nothing posted
    ts = placeholder(client, where_, "Publishing, then replaying the conversation against the live knowledge base…")
    later(services, "publish", job(where_, ts, gap_id=gap_id, user=user, draft_id=draft_id),
          lambda: publish_into(services, client, gap_id=gap_id, user=user, where_=where_, ts=ts, draft_id=draft_id))


def publish_into(services: Services, client: WebClient, *, gap_id: int, user: str, where_: Where, ts: str,
                 draft_id: int | None) -> None:
    """Publish (exactly once: `publishing`; a rerun verifies instead), then the verdict in place of `ts`."""
    draft = threads.current_draft(services, gap_id)
    out = None
    with shown_in(client, where_, ts, retry=ActionId.PUBLISH, gap_id=gap_id, draft_id=draft_id):
        out = publishing.publish_or_verify(services, gap_id=gap_id, user=user, draft_id=draft_id)
        if out.outcome is None:  # published, verification pending (or a draft the agent cannot see): Retry verifies
            pending = ErrorView(message=out.pending or "Published; verification pending.",
                                retry_action=ActionId.PUBLISH, gap_id=gap_id, draft_id=draft_id)
            update(client, where_.channel, ts, build_error_message(pending))
        else:
            question = gap_detail(services, gap_id).question
            failed = out.state != GapState.VERIFIED
            view = present.verdict_view(out.outcome, gap_id=gap_id, article_title=out.article_title,
                                        draft_id=draft.draft_id if failed and draft else None, question=question,
                                        article_id=out.article_id, article_version=out.article_version)
            update(client, where_.channel, ts, build_verdict_message(view))
        if out.after_fail:  # rolled back, or kept live with a warning: said in the thread
            post(client, where_.channel, present.notice(esc(out.after_fail, 2900)), thread_ts=where_.thread_ts)
    if out is None:
        return  # the error is shown in place of the placeholder
    log.info("publish verdict posted gap_id=%r state=%r", gap_id, out.state)
    # Published: what follows is bookkeeping in Slack, never a reason to offer "publish again".
    if draft is not None and where_.message_ts:  # the clicked draft message loses its buttons
        update(client, where_.channel, where_.message_ts,
               build_draft_messages(present.draft_view(draft, state="published"))[-1])
    item = threads.gap_item(services, gap_id)
    refresh_item(services, client, item.item_id if item else None)
    announce_broken(client, out.regressions)


def announce_broken(client: WebClient, results: Sequence[RegressionResult]) -> None:
    """A regression that broke is posted in its own gap's thread, mentioning who fixed it."""
    for result in results:
        if result.broke and result.thread_channel and result.thread_ts:
            post(client, result.thread_channel, present.regression_broke_notice(result),
                 thread_ts=result.thread_ts)
            log.info("regression broke gap_id=%r case_id=%r", result.gap_id, result.case_id)
