"""People overrule the judge: the "Verdict is wrong" modal, its parser, and the thread reply afterwards.

`private_metadata` is a `ThreadMeta` carrying the run (and its gap, channel and thread)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
)
from slack_sdk.models.views import View

from bot.blocks.common import Message, context, esc, excerpt, mention, message, quote, section
from bot.blocks.ids import InputId, ThreadMeta, ViewId
from bot.blocks.models import OverrideNoticeView, OverrideView

REASON_MAX = 2000  # the service's limit too
_LABELS = {"pass": "Pass: the answer is right", "fail": "Fail: the answer is wrong or incomplete"}


def build_override_modal(view: OverrideView) -> View:
    """Pick the right verdict (the opposite of the judge's is preselected) and say why."""
    meta = ThreadMeta(gap_id=view.gap_id, run_id=view.run_id, channel=view.channel, thread_ts=view.thread_ts)
    options = [Option(value=v, text=PlainTextObject(text=label)) for v, label in _LABELS.items()]
    initial = options[1] if view.judge_verdict == "pass" else options[0]
    blocks: list[Block] = [
        section(f"The judge said *{esc(view.judge_verdict, 20)}* on replay run {view.run_id}. Your verdict is "
                "recorded beside it, moves the gap to match, and counts toward the judge's agreement with people."),
        InputBlock(block_id=InputId.OVERRIDE_VERDICT, label=PlainTextObject(text="The right verdict"),
                   element=RadioButtonsElement(action_id=InputId.OVERRIDE_VERDICT, options=options,
                                               initial_option=initial)),
        InputBlock(block_id=InputId.OVERRIDE_REASON, label=PlainTextObject(text="Why is the judge wrong?"),
                   element=PlainTextInputElement(action_id=InputId.OVERRIDE_REASON, multiline=True,
                                                 max_length=REASON_MAX),
                   hint=PlainTextObject(text="Kept for calibrating the judge's prompt.")),
    ]
    return View(type="modal", callback_id=ViewId.VERDICT_OVERRIDE, title=PlainTextObject(text="Verdict is wrong"),
                submit=PlainTextObject(text="Overrule"), close=PlainTextObject(text="Cancel"),
                private_metadata=meta.dump(), blocks=blocks)


@dataclass(frozen=True)
class OverrideInput:
    verdict: str
    reason: str


def parse_override(view_payload: dict[str, Any]) -> OverrideInput:
    values = (view_payload.get("state") or {}).get("values") or {}
    choice = (values.get(InputId.OVERRIDE_VERDICT.value) or {}).get(InputId.OVERRIDE_VERDICT.value) or {}
    reason = (values.get(InputId.OVERRIDE_REASON.value) or {}).get(InputId.OVERRIDE_REASON.value) or {}
    return OverrideInput(verdict=str((choice.get("selected_option") or {}).get("value") or ""),
                         reason=" ".join(str(reason.get("value") or "").split()))


def build_override_notice(view: OverrideNoticeView) -> Message:
    """'@ana overruled the judge: fail → pass. Gap #3 moved failed → verified.' with the reason."""
    did = "confirmed the judge" if view.agrees else "overruled the judge"
    verdicts = (f"*{esc(view.human_verdict, 20)}*" if view.agrees
                else f"{esc(view.judge_verdict, 20)} → *{esc(view.human_verdict, 20)}*")
    blocks: list[Block] = [
        section(f":scales: {mention(view.user)} {did} on run {view.run_id}: {verdicts}. {esc(view.note, 300)}"),
        section(quote(excerpt(view.reason, 1500))),
        context("Counted in the judge's agreement with people (`/flywheel stats`); "
                "`flywheel eval judge --export FILE` lists the disagreements."),
    ]
    return message(f"Run {view.run_id}: {did} ({view.judge_verdict} → {view.human_verdict})", blocks)
