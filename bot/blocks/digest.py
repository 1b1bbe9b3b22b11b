"""The daily digest: one header message, then one compact message per conversation.

An item shows the two to four turns around the one that went wrong (marked), one reason it was picked, a short
reference linked to where the conversation came from, and the buttons; the rest of the conversation is one click
away ("Show the whole conversation" opens it in a modal).
"""

from __future__ import annotations

from bot.blocks.common import (
    Message,
    actions,
    button,
    context,
    emoji,
    esc,
    excerpt,
    header,
    link,
    mention,
    message,
    section,
)
from bot.blocks.ids import ActionId, ItemRef
from bot.blocks.models import DigestHeaderView, DigestItemView, LoopLine, WaitingLine

TURN_CHARS = 200  # per turn shown around the one that went wrong
FOCUS_CHARS = 320  # the turn that went wrong
MAX_TURNS = 4
LABELS = {"user": "*Customer:*", "agent": "*Agent:*", "human": "*Teammate:*", "system": "*System:*"}
FOCUS_MARK = ":warning:"
SHOW_LABEL = "Show the whole conversation"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def loop_line(loop: LoopLine | None) -> str:
    """What happened since the last digest, zeros left out: "Yesterday: 2 flagged · 1 published." or
    "Nothing was flagged yesterday." (never a check mark for nothing)."""
    if loop is None:
        return "Nothing was flagged yesterday."
    since = esc(loop.since, 40) or "yesterday"
    counts = [(loop.flagged, "flagged"), (loop.drafted, "drafted"), (loop.published, "published"),
              (loop.verified, "verified")]
    parts = [f"{n} {word}" for n, word in counts if n]
    if loop.failed:
        parts.append(f"{_plural(loop.failed, 'verdict')} failed")
    if not parts:
        return f"Nothing was flagged {since}."
    return f"*{since[:1].upper() + since[1:]}:* " + " · ".join(parts) + "."


def _quiet(hours: int) -> str:
    return _plural(hours // 24, "day") if hours % 24 == 0 else _plural(hours, "hour")


def waiting_line(waiting: WaitingLine | None) -> str | None:
    """What is waiting now, zeros left out; None when nothing is."""
    if waiting is None:
        return None
    parts = []
    if waiting.drafts:
        stale = f" ({waiting.stale_drafts} untouched for {_quiet(waiting.stale_hours)})" if waiting.stale_drafts else ""
        parts.append(f"{_plural(waiting.drafts, 'draft')} to review{stale}")
    if waiting.failed:
        parts.append(f"{_plural(waiting.failed, 'failed verdict')} to fix")
    return ("*Waiting:* " + " · ".join(parts) + ".") if parts else "Nothing is waiting for review."


def build_digest_header(view: DigestHeaderView) -> Message:
    flag, ok = emoji(view.flag_emoji, "books"), emoji(view.ok_emoji, "white_check_mark")
    day = esc(view.day, 40)
    noun = "conversation" if view.count == 1 else "conversations"
    picked = ""
    if view.risk_count is not None:
        randoms = max(0, view.count - view.risk_count)
        picked = f" ({view.risk_count} picked by risk, {randoms} at random)"
    how = f"React with {flag} to flag a knowledge gap, or {ok} if it looks good."
    lines = [line for line in (loop_line(view.yesterday), waiting_line(view.waiting)) if line]
    blocks = [
        header(f"Conversations to review · {view.day}"),
        section(f"*{view.count} {noun}* to review today{picked}. {how}"),
        context("\n".join(lines)),
    ]
    text = f"Flywheel digest for {day}: {view.count} {noun} to review"
    return message(text, blocks)


def excerpt_lines(view: DigestItemView) -> str:
    """The turns shown, one line each; the one that went wrong is marked and gets more room."""
    lines = []
    for i, (role, text) in enumerate(list(view.excerpt_turns)[:MAX_TURNS]):
        label = LABELS.get(role, f"*{esc(role, 20) or '?'}:*")
        focus = i == view.focus
        body = excerpt(text, FOCUS_CHARS if focus else TURN_CHARS)
        lines.append(f"{FOCUS_MARK + ' ' if focus else ''}{label} {body}")
    return "\n".join(lines) or "_(no messages)_"


def status_line(view: DigestItemView) -> str | None:
    who = mention(view.reviewed_by) if view.reviewed_by else None
    gap = f" · gap #{view.gap_id}" if view.gap_id else ""
    owner = f" · :writing_hand: owner {mention(view.owner)}" if view.gap_id and view.owner else ""
    if view.status == "flagged":
        flag = emoji(view.flag_emoji, "books")
        return f"{flag} Flagged as a knowledge gap by {who or 'a teammate'}{gap}{owner} (see thread)"
    if view.status == "looks_good":
        return f"{emoji(view.ok_emoji, 'white_check_mark')} Looks good to {who or 'a teammate'}"
    if view.status == "fixed":
        return f":sparkles: Fixed{gap}: the agent now answers this correctly"
    return None


def build_digest_item(view: DigestItemView) -> Message:
    reference = view.reference or view.conversation_ref
    ref = link(view.url, reference)  # escaped; a link only for a plain http(s) URL
    reason = esc(view.reason or ("Random sample" if view.pick == "random" else "High risk score"), 120)
    title = f"*{view.position}.* {ref} · _{reason}_"
    value = ItemRef(item_id=view.item_id).dump()
    buttons = [button(SHOW_LABEL, ActionId.SHOW_CONVERSATION, value)]
    if view.status != "fixed":
        buttons[:0] = [
            button(f"{emoji(view.flag_emoji, 'books')} Knowledge gap", ActionId.FLAG, value),
            button(f"{emoji(view.ok_emoji, 'white_check_mark')} Looks good", ActionId.LOOKS_GOOD, value),
        ]
    blocks = [section(f"{title}\n{excerpt_lines(view)}"), actions(*buttons)]
    status = status_line(view)
    if status:
        blocks.append(context(status))
    return message(f"To review: {esc(reference, 80)} ({reason})", blocks)
