"""The slow steps, run after the ack: inline when the process has no work queue, else as durable jobs
(`bot/queue/tasks.py` decodes a job's ids and calls these), plus the Slack message primitives they share with
the listeners' side (`handlers/flows.py`, which re-exports them).

Every step is idempotent, because a job cut short by a crash runs again: it updates the placeholder posted
before it was queued, and the messages it adds (a long draft's continuations) are recorded once posted
(`bot/queue/posted.py`), so a rerun updates them instead of posting them twice.
Logs carry ids only (gap_id, channel, ts), never message text.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from bot import present as views
from bot.blocks import (
    Message,
    build_digest_item,
    build_draft_messages,
    build_error_message,
    build_gap_message,
    build_verdict_message,
)
from bot.blocks.common import esc
from bot.blocks.models import ErrorView
from bot.blocks.notices import build_regression_notice
from bot.domain import GapState
from bot.errors import FlywheelError, IllegalTransition, InvalidInput, LLMError
from bot.present import digest_item_view
from bot.queue import posted
from bot.services import Services, authoring, publishing, threads
from bot.services.conversations import transcript
from bot.services.insight import gap_detail
from bot.services.regression import RegressionResult, run_regressions
from bot.services.regression_notice import broken_fix
from bot.services.replay import replay
from bot.slack.client import post_message, update_message
from bot.slack.errors import UNEXPECTED
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
        update(client, where_.channel, ts, present.failure_message(exc, retry=retry if can_retry else None,
                                                                  gap_id=gap_id, draft_id=draft_id))
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


# --- the steps ------------------------------------------------------------------------------------------
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


def post_draft(services: Services, client: WebClient, where_: Where, gap_id: int, ts: str) -> None:
    """Replace message `ts` with the current draft; a long draft continues in more messages, each recorded
    once posted: a rerun (a job resumed after a crash) updates them in place instead of posting them again, and
    parts a shorter revision no longer needs say so."""
    draft = threads.current_draft(services, gap_id)
    if draft is None:
        raise IllegalTransition(f"Gap #{gap_id} has no draft yet: write one first.")
    first, *rest = build_draft_messages(present.draft_view(draft))
    update(client, where_.channel, ts, first)
    key = posted.key("draft", where_.channel, ts)
    known = posted.parts(services, key)
    for part, msg in enumerate(rest, start=2):
        if part in known:
            update(client, where_.channel, known[part], msg)
        else:
            posted.record(services, key, part, post(client, where_.channel, msg, thread_ts=where_.thread_ts))
    for part, part_ts in known.items():
        if part > len(rest) + 1:
            update(client, where_.channel, part_ts, present.notice("_(no longer part of the draft above)_"))


def draft_into(services: Services, client: WebClient, *, gap_id: int, user: str, where_: Where, ts: str) -> None:
    with shown_in(client, where_, ts, retry=ActionId.WRITE_DRAFT, gap_id=gap_id):
        authoring.write_draft(services, gap_id=gap_id, user=user)
        post_draft(services, client, where_, gap_id, ts)
    log.info("draft posted gap_id=%r", gap_id)


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


def publish_into(services: Services, client: WebClient, *, gap_id: int, user: str, where_: Where, ts: str,
                 draft_id: int | None, job_token: str | None = None) -> None:
    """Publish (exactly once: `publishing`; a rerun verifies instead), then the verdict in place of `ts`."""
    draft = threads.current_draft(services, gap_id)
    out = None
    with shown_in(client, where_, ts, retry=ActionId.PUBLISH, gap_id=gap_id, draft_id=draft_id):
        out = publishing.publish_or_verify(services, gap_id=gap_id, user=user, draft_id=draft_id, job_token=job_token)
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
    announce_broken(services, client, out.regressions)


def announce_broken(services: Services, client: WebClient, results: Sequence[RegressionResult]) -> int:
    """Each regression that broke is told in its own gap's thread with the notice of the nightly job
    (`bot/jobs.py: regression_job`): the turn before and after, what changed, open / edit and retry / roll
    back. One thread we cannot post to never hides the others. Returns how many were posted."""
    told = 0
    for result in results:
        try:
            fix = broken_fix(services, result)
            if fix is None:
                continue  # not broken, or flagged outside Slack: no thread to post in
            notice = build_regression_notice(views.regression_notice_view(fix))
            post(client, fix.channel, notice, thread_ts=fix.thread_ts)
            told += 1
            log.info("regression broke gap_id=%r case_id=%r", result.gap_id, result.case_id)
        except Exception:  # noqa: BLE001 - logged with its traceback; the next thread is still told
            log.exception("regression notice failed gap_id=%r channel=%r", result.gap_id, result.thread_channel)
    return told


# --- slash commands (`/flywheel replay`, `/flywheel regress`): checked and spent by the listener -------------
def replay_answer(services: Services, *, conversation_id: int, user: str) -> Message:
    outcome = replay(services, conversation_id=conversation_id, with_judge=False, actor=user)
    ref, _ = transcript(services, conversation_id)
    return present.replay_message(ref, outcome)


def regress_answer(services: Services, client: WebClient, *, user: str) -> Message:
    results = run_regressions(services, actor=user, checked=True)
    announce_broken(services, client, results)
    return present.regress_message(results)


def respond_to(response_url: str, *, share: bool, compute: Callable[[], Message]) -> None:
    """A queued command's answer, through its response_url (as the listener would have): ephemeral, or in the
    channel when shared. Errors are answered too, not retried: the person is waiting for one answer."""
    try:
        msg = compute()
    except FlywheelError as exc:
        log.info("queued command refused: %s", type(exc).__name__)
        msg, share = build_error_message(ErrorView(message=exc.message)), False
    except Exception:  # noqa: BLE001 - the traceback is logged under the id the person is shown
        error_id = uuid.uuid4().hex[:8]
        log.exception("queued command failed error_id=%s", error_id)
        msg, share = build_error_message(ErrorView(message=UNEXPECTED, error_id=error_id)), False
    Respond(response_url=response_url)(response_type="in_channel" if share else "ephemeral", **msg.as_kwargs())
