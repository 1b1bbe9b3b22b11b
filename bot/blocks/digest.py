"""The daily digest: one header message, then one message per conversation."""

from __future__ import annotations

from bot.blocks.common import (
    ROLE_LABELS,
    Message,
    actions,
    button,
    context,
    emoji,
    esc,
    excerpt,
    header,
    mention,
    message,
    section,
)
from bot.blocks.ids import ActionId, ItemRef
from bot.blocks.models import DigestHeaderView, DigestItemView, LoopLine

MAX_EXCERPT_TURNS = 7  # shown in the channel; the rest is one click away (Show conversation)
EXCERPT_BUDGET = 2600  # chars of turn text in the item's section (limit 3000)
MAX_REASONS = 5


def loop_line(loop: LoopLine | None) -> str:
    if loop is None:
        return "Yesterday: no activity yet."
    parts = [
        f"{loop.flagged} flagged",
        f"{loop.drafted} drafted",
        f"{loop.published} published",
        f"{loop.verified} verified :white_check_mark:",
    ]
    if loop.failed:
        parts.append(f"{loop.failed} still failing :x:")
    return "Yesterday: " + " · ".join(parts)


def build_digest_header(view: DigestHeaderView) -> Message:
    flag, ok = emoji(view.flag_emoji, "books"), emoji(view.ok_emoji, "white_check_mark")
    day = esc(view.day, 40)
    noun = "conversation" if view.count == 1 else "conversations"
    picked = ""
    if view.risk_count is not None:
        randoms = max(0, view.count - view.risk_count)
        picked = f" ({view.risk_count} picked by risk, {randoms} at random)"
    how = (
        f"React with {flag} on a conversation to flag a knowledge gap, or {ok} if it looks good. "
        "Replies in a gap's thread become notes for the article."
    )
    blocks = [
        header(f"Conversations to review · {view.day}"),
        section(f"*{view.count} {noun}* from the support agent to review today{picked}.\n{how}"),
        context(loop_line(view.yesterday)),
    ]
    text = f"Flywheel digest for {day}: {view.count} {noun} to review"
    return message(text, blocks)


def _excerpt_lines(turns: list[tuple[str, str]], total_turns: int | None) -> str:
    total = max(total_turns or 0, len(turns))
    if len(turns) > MAX_EXCERPT_TURNS:
        head = MAX_EXCERPT_TURNS // 2 + 1
        tail = MAX_EXCERPT_TURNS - head
        shown: list[tuple[str, str] | None] = [*turns[:head], None, *turns[len(turns) - tail :]]
    else:
        shown = list(turns)
    per_turn = max(120, EXCERPT_BUDGET // max(1, len(turns[:MAX_EXCERPT_TURNS])))
    lines = []
    for turn in shown:
        if turn is None:
            lines.append(f"_… {len(turns) - MAX_EXCERPT_TURNS} turns not shown …_")
            continue
        role, text = turn
        label = ROLE_LABELS.get(role, esc(role, 20) or "?")
        lines.append(f"{label}: {excerpt(text, per_turn)}")
    more = total - len(turns)
    if more > 0:
        lines.append(f"_+{more} more turn{'s' if more != 1 else ''} in the conversation_")
    return "\n".join(lines) or "_(no messages)_"


def status_line(view: DigestItemView) -> str | None:
    who = mention(view.reviewed_by) if view.reviewed_by else None
    gap = f" · gap #{view.gap_id}" if view.gap_id else ""
    if view.status == "flagged":
        flag = emoji(view.flag_emoji, "books")
        return f"{flag} Flagged as a knowledge gap by {who or 'a teammate'}{gap} (see thread)"
    if view.status == "looks_good":
        return f"{emoji(view.ok_emoji, 'white_check_mark')} Looks good to {who or 'a teammate'}"
    if view.status == "fixed":
        return f":sparkles: Fixed{gap}: the agent now answers this correctly"
    return None


def build_digest_item(view: DigestItemView) -> Message:
    ref = esc(view.conversation_ref, 80)
    title = f"*{view.position}. Conversation `{ref}`*"
    body = _excerpt_lines(list(view.excerpt_turns), view.total_turns)
    if view.pick == "risk":
        why = "; ".join(esc(r, 150) for r in list(view.reasons)[:MAX_REASONS]) or "high risk score"
        pick = f":mag: Picked by risk: {why}"
    else:
        pick = ":game_die: Picked at random (keeps the sample honest)"
    value = ItemRef(item_id=view.item_id).dump()
    flag = emoji(view.flag_emoji, "books")
    ok = emoji(view.ok_emoji, "white_check_mark")
    buttons = [button("Show conversation", ActionId.SHOW_CONVERSATION, value)]
    if view.status != "fixed":
        buttons[:0] = [
            button(f"{flag} Knowledge gap", ActionId.FLAG, value),
            button(f"{ok} Looks good", ActionId.LOOKS_GOOD, value),
        ]
    blocks = [section(f"{title}\n{body}"), context(pick), actions(*buttons)]
    status = status_line(view)
    if status:
        blocks.append(context(status))
    text = f"Conversation {ref} to review"
    return message(text, blocks)
