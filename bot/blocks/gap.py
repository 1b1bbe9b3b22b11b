"""The gap's thread: flag acknowledgement + outline, and the "matches an existing gap" variant."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, Option, PlainTextObject, StaticSelectElement

from bot.blocks.common import (
    MAX_SELECT_OPTIONS,
    OPTION_TEXT_MAX,
    Message,
    actions,
    bullets,
    button,
    chunk_sections,
    confirm,
    context,
    esc,
    excerpt,
    mention,
    mentions,
    message,
    plain,
    section,
)
from bot.blocks.ids import ActionId, GapRef, JoinRef, KindRef, NewGapRef, TurnRef
from bot.blocks.models import AgentTurnChoice, FlagView, MatchView, OutlineView
from bot.blocks.target import target_block
from bot.redact import redact

CLOSED_STATES = {"published", "verified", "dismissed"}
MAX_OUTLINE_SECTIONS = 12  # section blocks for the outline body (≈35,000 chars)
STATE_LINES = {
    "published": ":rocket: Published; waiting for the replay verdict.",
    "verified": ":white_check_mark: Verified: the agent now answers this correctly.",
    "dismissed": ":no_entry_sign: Dismissed.",
    "failed": ":x: The last replay still failed; edit the draft and retry.",
    "drafting": ":pencil2: A draft is in progress.",
}
KINDS = {  # GapKind -> what it means, as the kind select shows it
    "missing": "Missing: the knowledge base has nothing on it",
    "unclear": "Unclear: an article covers it but is hard to use",
    "contradictory": "Contradictory: articles disagree",
    "stale": "Stale: an article is out of date",
}
NOTE_HOW = ("Start a reply with `note:` to put it in the article; other replies stay out of it. "
            "Say “I'll write this” (or press *I'll take it*) to own the draft.")


def _nearest(turns: Sequence[AgentTurnChoice], position: int | None, limit: int) -> list[AgentTurnChoice]:
    """At most `limit` choices, keeping the ones nearest the flagged turn (in conversation order)."""
    turns = list(turns)
    if len(turns) <= limit:
        return turns
    anchor = position if position is not None else turns[-1].position
    keep = sorted(turns, key=lambda t: (abs(t.position - anchor), t.position))[:limit]
    return sorted(keep, key=lambda t: t.position)


def _turn_option(gap_id: int, turn: AgentTurnChoice, number: int) -> Option:
    label = plain(f"Turn {number}: {redact(turn.text)}", OPTION_TEXT_MAX)  # an agent turn: conversation text
    value = TurnRef(gap_id=gap_id, position=turn.position).dump()
    return Option(value=value, text=PlainTextObject(text=label))


def turn_select(view: FlagView) -> StaticSelectElement | None:
    """A static_select of the agent's turns (≤100 options), the flagged one pre-selected."""
    if not view.agent_turns:
        return None
    numbers = {t.position: i + 1 for i, t in enumerate(sorted(view.agent_turns, key=lambda t: t.position))}
    choices = _nearest(view.agent_turns, view.flagged_position, MAX_SELECT_OPTIONS)
    options = [_turn_option(view.gap_id, t, numbers[t.position]) for t in choices]
    initial = next(
        (o for t, o in zip(choices, options, strict=True) if t.position == view.flagged_position), None
    )
    return StaticSelectElement(
        action_id=ActionId.PICK_TURN,
        placeholder=PlainTextObject(text="Which agent turn fell short?"),
        options=options,
        initial_option=initial,
    )


def kind_select(view: FlagView) -> StaticSelectElement:
    """A static_select of the four gap kinds, the gap's own pre-selected (an unknown kind: none)."""
    options = [Option(value=KindRef(gap_id=view.gap_id, kind=kind).dump(), text=PlainTextObject(text=label))
               for kind, label in KINDS.items()]
    initial = next((o for kind, o in zip(KINDS, options, strict=True) if kind == view.kind), None)
    return StaticSelectElement(action_id=ActionId.PICK_KIND, placeholder=PlainTextObject(text="What kind of gap?"),
                               options=options, initial_option=initial)


def _flag_blocks(view: FlagView) -> list[Block]:
    who = mention(view.flagged_by)
    lines = [f":books: {who} flagged a knowledge gap · *gap #{view.gap_id}*"]
    others = [u for u in view.co_flaggers if u != view.flagged_by]
    if others:
        lines.append(f"Also flagged by {mentions(others)}")
    if view.owner:
        lines.append(f":writing_hand: Owner: {mention(view.owner)}")
    blocks: list[Block] = [section("\n".join(lines))]
    select = turn_select(view)
    turn = next((t for t in view.agent_turns if t.position == view.flagged_position), None)
    if turn is not None:
        guess = f"*The turn that fell short* (change it if I guessed wrong):\n> {excerpt(turn.text, 500)}"
    elif view.agent_turns:
        guess = "*Which agent turn fell short?* Pick it so the replay checks the right answer."
    else:
        guess = "_No agent turn found in this conversation._"
    blocks.append(section(guess, accessory=select, block_id=f"turn-{view.gap_id}"))
    kind = KINDS.get(view.kind, esc(view.kind, 30))
    closed = view.state in CLOSED_STATES
    blocks.append(section(f"*Gap kind:* {kind}", accessory=None if closed else kind_select(view),
                          block_id=f"kind-{view.gap_id}"))
    return blocks


def _outline_blocks(outline: OutlineView) -> list[Block]:
    summary = esc(outline.summary, 600)
    blocks: list[Block] = [section(f"*Suggested article:* {esc(outline.title, 250)}\n{summary}")]
    parts = []
    for i, sec in enumerate(outline.sections, start=1):
        points = "\n".join(f"    • {esc(p, 400)}" for p in sec.points if p.strip())
        parts.append(f"*{i}. {esc(sec.heading, 200)}*" + (f"\n{points}" if points else ""))
    if parts:
        chunks = chunk_sections("*Outline*\n" + "\n".join(parts))
        blocks.extend(chunks[:MAX_OUTLINE_SECTIONS])
        if len(chunks) > MAX_OUTLINE_SECTIONS:
            more = len(chunks) - MAX_OUTLINE_SECTIONS
            note = f"_The outline continues ({more} more parts): use *Edit outline* to see it all._"
            blocks.append(context(note))
    if outline.required_facts:
        facts = bullets(outline.required_facts, limit=300, max_items=20)
        blocks += chunk_sections(f"*Facts the article must state* (the replay judge checks them)\n{facts}")
    if outline.questions:
        blocks += chunk_sections(f"*Questions for experts*\n{bullets(outline.questions, max_items=10)}")
    return blocks


def build_gap_message(
    flag: FlagView, outline: OutlineView | None = None, *, progress: str | None = None
) -> Message:
    """The first reply in the item's thread. Without an outline it is the acknowledgement
    ("Drafting an outline…"); `chat.update` it with the same builder once the outline is ready."""
    gap_value = GapRef(gap_id=flag.gap_id).dump()
    blocks = _flag_blocks(flag)
    if outline is None:
        blocks.append(context(f":hourglass_flowing_sand: {esc(progress or 'Drafting an outline…', 200)}"))
    else:
        blocks.extend(_outline_blocks(outline))
        if flag.state not in CLOSED_STATES:
            blocks.append(target_block(flag.gap_id, outline.update_article_id))
        notes = f"{flag.notes_count} note{'s' if flag.notes_count != 1 else ''} so far" if flag.notes_count \
            else "no notes yet"
        by = f" · outline by {esc(outline.provider, 60)}" if outline.provider else ""
        blocks.append(context(f":speech_balloon: {NOTE_HOW} ({notes}){by}"))
    state_line = STATE_LINES.get(flag.state)
    if state_line:
        blocks.append(context(state_line))
    if flag.state not in CLOSED_STATES:
        buttons = []
        if outline is not None:
            buttons += [
                button(":memo: Write draft", ActionId.WRITE_DRAFT, gap_value, style="primary"),
                button("Edit outline", ActionId.EDIT_OUTLINE, gap_value),
            ]
        buttons.append(button(":raising_hand: I'll take it", ActionId.TAKE_GAP, gap_value))
        buttons.append(
            button(
                "Dismiss",
                ActionId.DISMISS,
                gap_value,
                confirm=confirm(
                    "Dismiss this gap?", "It leaves the backlog; you can reopen it later.", "Dismiss"
                ),
            )
        )
        blocks.append(actions(*buttons, block_id=f"gap-{flag.gap_id}"))
    title = f": {esc(outline.title, 150)}" if outline else ""
    return message(f"Knowledge gap #{flag.gap_id} flagged by {mention(flag.flagged_by)}{title}", blocks)


def build_match_message(view: MatchView) -> Message:
    """'This looks like gap #12 (draft in progress by @ana)': join it or open a new gap."""
    title = esc(view.gap_title, 200)
    status = {
        "drafting": f"draft in progress by {mention(view.owner)}" if view.owner else "draft in progress",
        "failed": "its last replay failed",
        "open": "still open",
    }.get(view.state, esc(view.state, 30))
    text = (
        f":link: {mention(view.flagged_by)}, this looks like *gap #{view.gap_id}: {title}* ({status}).\n"
        "Join it to add this conversation as another example, or open a separate gap."
    )
    join = JoinRef(gap_id=view.gap_id, conversation_id=view.conversation_id, item_id=view.item_id)
    new = NewGapRef(conversation_id=view.conversation_id, item_id=view.item_id)
    blocks = [
        section(text),
        actions(
            button(f"Join gap #{view.gap_id}", ActionId.JOIN_GAP, join.dump(), style="primary"),
            button("Open a new gap", ActionId.NEW_GAP, new.dump()),
        ),
    ]
    return message(f"This looks like gap #{view.gap_id}: {title}", blocks)
