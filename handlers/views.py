"""Modal submissions: the edited draft, the edited outline, and a person overruling the judge.

What the user can fix (an empty title, a gap closed meanwhile) is answered inside the modal with
`response_action="errors"`; otherwise the modal closes at once and the thread is updated afterwards.
Views carry no channel, so `private_metadata` (a `ThreadMeta`) says where the messages are.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.blocks import parse_edit_draft, parse_edit_outline
from bot.blocks.models import OverrideNoticeView
from bot.blocks.verdict import build_override_notice, parse_override
from bot.errors import FlywheelError, InvalidInput
from bot.llm.base import OutlineSection
from bot.services import Services, authoring, gaps, threads, verdicts
from handlers import flows
from handlers.ids import InputId, ThreadMeta

log = logging.getLogger(__name__)


def _check_gap(services: Services, meta: ThreadMeta) -> str | None:
    """A user-safe reason the modal can't be saved, or None."""
    if meta.gap_id is None:
        return "This form has lost track of its gap. Open it again from the latest message."
    try:
        gaps.require_active(services, meta.gap_id)
    except FlywheelError as exc:
        return exc.message
    return None


def handle_edit_draft_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any], services: Services,
                                 client: WebClient) -> None:
    meta, edited = ThreadMeta.load(view.get("private_metadata")), parse_edit_draft(view)
    problem = "A draft needs a title." if not edited.title else _check_gap(services, meta)
    if problem:
        ack(response_action="errors", errors={InputId.DRAFT_TITLE.value: problem})
        return
    if edited.body is not None and not edited.body.strip():
        ack(response_action="errors", errors={InputId.DRAFT_BODY.value: "A draft needs a body."})
        return
    ack()
    gap_id = meta.gap_id
    if gap_id is None:
        raise InvalidInput("This form does not name a gap any more: open the draft again from its thread.")
    body_text = edited.body
    if body_text is None:  # too long to edit in Slack: unchanged
        current = threads.current_draft(services, gap_id)
        if current is None:
            raise InvalidInput(f"Gap #{gap_id} has no draft to edit any more.")
        body_text = current.body
    authoring.edit_draft(services, gap_id=gap_id, title=edited.title, body=body_text, user=body["user"]["id"])
    log.info("draft edited gap_id=%r", gap_id)
    if meta.channel and meta.thread_ts:
        where = flows.Where(meta.channel, meta.thread_ts, meta.message_ts)
        flows.show_edited_draft(services, client, gap_id=gap_id, where_=where, then_test=meta.then_test,
                                user=body["user"]["id"])


def handle_edit_outline_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any], services: Services,
                                   client: WebClient) -> None:
    meta, edited = ThreadMeta.load(view.get("private_metadata")), parse_edit_outline(view)
    problem = _check_gap(services, meta) or (None if edited.title else "The article needs a title.")
    current = authoring.get_outline(services, meta.gap_id) if not problem else None  # type: ignore[arg-type]
    if problem or current is None:
        ack(response_action="errors", errors={InputId.OUTLINE_TITLE.value: problem or "This gap has no outline."})
        return
    ack()
    outline = current.model_copy(update={
        "title": edited.title,
        "sections": [OutlineSection(heading=s.heading, points=list(s.points)) for s in edited.sections],
        "required_facts": list(edited.required_facts),
    })
    authoring.save_outline(services, gap_id=meta.gap_id, outline=outline, user=body["user"]["id"])  # type: ignore[arg-type]
    log.info("outline edited gap_id=%r", meta.gap_id)
    if meta.channel and meta.message_ts:
        flows.update(client, meta.channel, meta.message_ts, flows.gap_message(services, meta.gap_id))  # type: ignore[arg-type]


def handle_verdict_override_submission(ack: Ack, body: dict[str, Any], view: dict[str, Any], services: Services,
                                       client: WebClient) -> None:
    """Record the person's verdict (a quick DB write, so it runs before the ack and a refusal shows in the
    modal), then say in the thread what changed."""
    meta, given = ThreadMeta.load(view.get("private_metadata")), parse_override(view)
    if meta.run_id is None:
        ack(response_action="errors", errors={InputId.OVERRIDE_REASON.value: "This form has lost its verdict. "
                                              "Open it again from the verdict message."})
        return
    user = body["user"]["id"]
    try:
        done = verdicts.override_verdict(services, run_id=meta.run_id, verdict=given.verdict, reason=given.reason,
                                         user=user)
    except FlywheelError as exc:
        ack(response_action="errors", errors={InputId.OVERRIDE_REASON.value: exc.message[:300]})
        return
    ack()
    if meta.channel and meta.thread_ts:
        notice = OverrideNoticeView(run_id=done.run_id, judge_verdict=done.judge_verdict,
                                    human_verdict=done.human_verdict, user=user, reason=given.reason, note=done.note,
                                    agrees=done.agrees)
        flows.post(client, meta.channel, build_override_notice(notice), thread_ts=meta.thread_ts)
