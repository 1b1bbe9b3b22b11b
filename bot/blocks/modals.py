"""Modals: the full conversation (read-only), edit draft, edit outline — and the parsers that read
a submitted edit modal back, so block ids live next to the builder that sets them.

`private_metadata` is a `handlers.ids.ThreadMeta` (gap/draft ids, channel, thread and message ts);
read it with `ThreadMeta.load(view["private_metadata"])`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block, InputBlock, PlainTextInputElement, PlainTextObject
from slack_sdk.models.views import View

from bot.blocks.common import (
    CHUNK,
    INPUT_MAX,
    MAX_VIEW_BLOCKS,
    ROLE_LABELS,
    cap_blocks,
    context,
    esc,
    excerpt,
    quote,
    scrub,
    section,
)
from bot.blocks.ids import InputId, ThreadMeta, ViewId
from bot.blocks.models import (
    ConversationView,
    EditDraftView,
    EditedDraft,
    EditedOutline,
    EditOutlineView,
    OutlineSectionView,
)
from bot.slack.text import clean_plain, split_text

TURN_MAX = 2700  # one turn's text in the conversation modal
MODAL_TEXT_BUDGET = 150_000  # views must stay under 250 kB
PART = 2500  # chars per multi-part input initially (room to add text up to INPUT_MAX)
MAX_BODY_PARTS = 40  # ≈100,000 chars of draft editable in Slack
TITLE_MAX = 300  # drafts.title / articles.title are String(300)

_BULLET = re.compile(r"^\s*(?:[-*•+]|\d+[.)])\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s*(.+?)\s*$")


def _one_line(title: str) -> str | None:
    """A title as a single-line input's initial value: cleaned, on one line, at most TITLE_MAX characters."""
    return " ".join(clean_plain(scrub(title)).split())[:TITLE_MAX] or None


def _title(text: str) -> PlainTextObject:
    return PlainTextObject(text=text[:24])


def _modal(
    callback_id: str, title: str, blocks: list[Block], *, submit: str | None, meta: str | None
) -> View:
    return View(
        type="modal",
        callback_id=callback_id,
        title=_title(title),
        submit=_title(submit) if submit else None,
        close=_title("Cancel" if submit else "Close"),
        private_metadata=meta,
        blocks=cap_blocks(blocks, MAX_VIEW_BLOCKS),
    )


# --- conversation ----------------------------------------------------------------------------------
def _chunks(text: str) -> list[str]:
    return [c for c in split_text(text, CHUNK) if c.strip()]


def build_conversation_modal(view: ConversationView) -> View:
    """Every turn, redacted and escaped, packed into ≤3,000-char sections. A conversation too long
    for one view ends with a note saying how many turns are not shown."""
    ref = esc(view.conversation_ref, 80)
    source = f" · {esc(view.source, 40)}" if view.source else ""
    head = context(f"Conversation `{ref}` · {len(view.turns)} turns{source}")
    max_sections = MAX_VIEW_BLOCKS - 3  # head, the "not shown" note, spare
    committed: list[str] = []
    pending = ""
    used = shown = 0
    for turn in view.turns:
        label = ROLE_LABELS.get(turn.role, esc(turn.role, 20) or "?")
        if turn.position == view.flagged_position:
            label += "  :books: _the flagged turn_"
        piece = f"{label}\n{quote(excerpt(turn.text, TURN_MAX, flatten=False))}"
        candidate = f"{pending}\n\n{piece}" if pending else piece
        if len(candidate) <= CHUNK:
            next_committed, next_pending = committed, candidate
        else:
            next_committed, next_pending = committed + _chunks(pending), piece
        too_many = len(next_committed) + len(_chunks(next_pending)) > max_sections
        if used + len(piece) > MODAL_TEXT_BUDGET or too_many:
            break
        committed, pending = next_committed, next_pending
        used += len(piece)
        shown += 1
    sections = [section(c) for c in committed + _chunks(pending)]
    blocks = [head, *sections]
    if shown < len(view.turns):
        blocks.append(context(f"_{len(view.turns) - shown} more turns not shown: too long for Slack._"))
    if not view.turns:
        blocks.append(section("_(no messages)_"))
    return _modal(ViewId.CONVERSATION, "Conversation", blocks, submit=None, meta=None)


# --- multi-part text inputs --------------------------------------------------------------------------
def _part_id(base: str, i: int) -> str:
    return base if i == 0 else f"{base}_{i}"


def _text_inputs(
    base: str, label: str, text: str, *, max_parts: int, hint: str | None = None, required: bool = True
) -> list[Block]:
    """Inputs holding `text` in ≤`PART`-char parts (Slack caps an input at 3,000). Text too long for
    `max_parts` gives a read-only note instead (and the parser then returns None: unchanged)."""
    parts = split_text(clean_plain(scrub(text)), PART) or [""]
    if len(parts) > max_parts:
        return [
            section(
                f":warning: *{esc(label, 80)}* is {len(text):,} characters, too long to edit in Slack; "
                "it stays unchanged."
            )
        ]
    blocks: list[Block] = []
    for i, part in enumerate(parts):
        bid = _part_id(base, i)
        shown = label if len(parts) == 1 else f"{label} (part {i + 1} of {len(parts)})"
        blocks.append(
            InputBlock(
                block_id=bid,
                label=PlainTextObject(text=shown),
                element=PlainTextInputElement(
                    action_id=bid, multiline=True, initial_value=part or None, max_length=INPUT_MAX
                ),
                hint=PlainTextObject(text=hint) if hint and i == 0 else None,
                optional=i > 0 or not required,
            )
        )
    return blocks


def _values(view_payload: dict[str, Any]) -> dict[str, Any]:
    return ((view_payload.get("state") or {}).get("values")) or {}


def _value(values: dict[str, Any], block_id: str) -> str | None:
    if block_id not in values:
        return None
    return (values[block_id].get(block_id) or {}).get("value") or ""


def _read_parts(values: dict[str, Any], base: str) -> str | None:
    parts = []
    i = 0
    while (part := _value(values, _part_id(base, i))) is not None:
        parts.append(part)
        i += 1
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        if out and part and not out[-1].isspace() and not part[0].isspace():
            out += "\n"  # Slack may trim the whitespace a part ended with
        out += part
    return out


# --- edit draft ------------------------------------------------------------------------------------
def build_edit_draft_modal(view: EditDraftView) -> View:
    meta = ThreadMeta(
        gap_id=view.gap_id,
        draft_id=view.draft_id,
        channel=view.channel,
        thread_ts=view.thread_ts,
        message_ts=view.message_ts,
        then_test=view.then_test,
    )
    title_input = InputBlock(
        block_id=InputId.DRAFT_TITLE,
        label=PlainTextObject(text="Title"),
        element=PlainTextInputElement(
            action_id=InputId.DRAFT_TITLE,
            initial_value=_one_line(view.title),
            max_length=TITLE_MAX,
        ),
    )
    blocks: list[Block] = [title_input]
    blocks += _text_inputs(
        InputId.DRAFT_BODY,
        "Article (Markdown)",
        view.body,
        max_parts=MAX_BODY_PARTS,
        hint="Long articles are split into parts; they are joined back in order.",
    )
    submit = "Save and test" if view.then_test else "Save"
    return _modal(ViewId.EDIT_DRAFT, "Edit draft", blocks, submit=submit, meta=meta.dump())


def parse_edit_draft(view_payload: dict[str, Any]) -> EditedDraft:
    """Title and body from a submitted edit-draft modal (`body["view"]`)."""
    values = _values(view_payload)
    title = " ".join((_value(values, InputId.DRAFT_TITLE) or "").split())
    return EditedDraft(title=title, body=_read_parts(values, InputId.DRAFT_BODY))


# --- edit outline ----------------------------------------------------------------------------------
def outline_to_text(sections: Sequence[OutlineSectionView]) -> str:
    out = []
    for sec in sections:
        out.append(f"## {sec.heading}")
        out += [f"- {p}" for p in sec.points]
        out.append("")
    return "\n".join(out).strip()


def text_to_outline(text: str) -> tuple[OutlineSectionView, ...]:
    sections: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        heading = _HEADING.match(line)
        if heading:
            sections.append((heading.group(1), []))
        elif not sections:
            sections.append((_BULLET.sub("", line).strip(), []))
        else:
            sections[-1][1].append(_BULLET.sub("", line).strip())
    return tuple(OutlineSectionView(heading=h, points=tuple(p)) for h, p in sections)


def build_edit_outline_modal(view: EditOutlineView) -> View:
    meta = ThreadMeta(
        gap_id=view.gap_id, channel=view.channel, thread_ts=view.thread_ts, message_ts=view.message_ts
    )
    blocks: list[Block] = [
        InputBlock(
            block_id=InputId.OUTLINE_TITLE,
            label=PlainTextObject(text="Article title"),
            element=PlainTextInputElement(
                action_id=InputId.OUTLINE_TITLE,
                initial_value=_one_line(view.title),
                max_length=TITLE_MAX,
            ),
        )
    ]
    hint = "One '## Heading' per section, then '- point' lines."
    blocks += _text_inputs(
        InputId.OUTLINE_SECTIONS, "Sections", outline_to_text(view.sections), max_parts=20, hint=hint
    )
    facts = "\n".join(f"- {f}" for f in view.required_facts)
    blocks += _text_inputs(
        InputId.OUTLINE_FACTS,
        "Facts the article must state",
        facts,
        max_parts=10,
        hint="One per line. The replay judge checks the new answer for each.",
        required=False,
    )
    return _modal(ViewId.EDIT_OUTLINE, "Edit outline", blocks, submit="Save", meta=meta.dump())


def parse_edit_outline(view_payload: dict[str, Any]) -> EditedOutline:
    values = _values(view_payload)
    title = " ".join((_value(values, InputId.OUTLINE_TITLE) or "").split())
    sections = text_to_outline(_read_parts(values, InputId.OUTLINE_SECTIONS) or "")
    facts_text = _read_parts(values, InputId.OUTLINE_FACTS) or ""
    facts = tuple(f for f in (_BULLET.sub("", ln).strip() for ln in facts_text.splitlines()) if f)
    return EditedOutline(title=title, sections=sections, required_facts=facts)
