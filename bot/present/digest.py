"""The digest header and a digest item as the builders' view models (pure: no DB, no I/O)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from urllib.parse import quote

from bot.blocks.models import DigestHeaderView, DigestItemView, LoopLine, WaitingLine
from bot.domain import GapState, ReviewStatus
from bot.services.digest import DigestItemData, DigestPlan, LoopDay, Waiting
from bot.services.sampling import RANDOM_REASON
from bot.settings import Settings
from bot.text import DONT_KNOW

FIXED = "fixed"  # the item's status once its gap is verified
MAX_TURNS_SHOWN = 4  # the turns around the one that went wrong; the rest is behind "Show the whole conversation"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SOURCES = {"zendesk": "Zendesk", "intercom": "Intercom", "freshdesk": "Freshdesk", "helpscout": "Help Scout"}
UNNAMED_SOURCES = frozenset({"", "import", "demo", "test", "ingest", "api"})  # ids speak for themselves
REASONS = {
    "agent said it did not know": "The agent said it didn't know",
    "human answered after handover": "A teammate had to answer",
    "escalated": "Escalated to a person",
    "unresolved": "Not resolved",
    "low retrieval score": "The agent's search found little",
    RANDOM_REASON: "Random sample",
}
FOCUS_LEAD = 240  # a "don't know" later than this in the turn that went wrong is shown from its sentence
_SENTENCE_END = re.compile(r"[.!?](?=\s)")
_LONG_TOKEN = re.compile(r"^[0-9a-f]{8,}$|^[0-9A-Za-z]{13,}$")


def loop_line(day: LoopDay, *, today: dt.date | None = None) -> LoopLine:
    since = "yesterday"
    if day.since is not None and today is not None and day.since != today - dt.timedelta(days=1):
        since = f"since {WEEKDAYS[day.since.weekday()]}"
    return LoopLine(flagged=day.flagged, drafted=day.drafted, published=day.published, verified=day.verified,
                    failed=day.failed, since=since)


def waiting_line(waiting: Waiting, *, settings: Settings) -> WaitingLine:
    return WaitingLine(drafts=waiting.drafts, stale_drafts=waiting.stale_drafts,
                       stale_hours=settings.draft_reminder_hours, failed=waiting.failed)


def digest_header_view(plan: DigestPlan, yesterday: LoopDay, *, settings: Settings,
                       waiting: Waiting | None = None) -> DigestHeaderView:
    return DigestHeaderView(
        day=plan.day.isoformat(), count=plan.count, risk_count=plan.risk_count, flag_emoji=settings.flag_emoji,
        ok_emoji=settings.ok_emoji, yesterday=loop_line(yesterday, today=plan.day),
        waiting=waiting_line(waiting, settings=settings) if waiting is not None else None,
    )


def short_reference(source: str, external_id: str) -> str:
    """A reference a person can read and say: "Zendesk #4821", "mtrag · 79d0…", "conv-3"."""
    ext = " ".join(external_id.split())
    label = SOURCES.get(source.lower(), None if source.lower() in UNNAMED_SOURCES else source)
    if ext.lstrip("#").isdigit():
        return f"{label} #{ext.lstrip('#')}" if label else f"#{ext.lstrip('#')}"
    tokens = [t for t in re.split(r"[-_:/\s]+", ext) if t]
    long_at = next((i for i, t in enumerate(tokens) if _LONG_TOKEN.match(t)), None)
    if long_at is None:
        short = ext if len(ext) <= 24 else ext[:20] + "…"
    else:
        words = [t for t in tokens[:long_at] if t.isalpha()][:2]
        short = " ".join([*words, "·", tokens[long_at][:4] + "…"]) if words else tokens[long_at][:6] + "…"
    return f"{label} · {short}" if label else short


def conversation_url(item: DigestItemData, *, settings: Settings) -> str | None:
    """The conversation's own link, else `FLYWHEEL_CONVERSATION_URL_TEMPLATE` filled in, else None."""
    if item.url:
        return item.url
    template = settings.conversation_url_template
    if not template:
        return None
    return template.replace("{id}", quote(item.conversation_ref, safe="")).replace("{source}", quote(item.source,
                                                                                                      safe=""))


def reason_text(reason: str | None, *, csat: float | None = None, turns: int = 0) -> str:
    """One short, readable reason it was picked."""
    if reason == "low CSAT":
        return f"Low rating ({csat:g}/5)" if csat is not None and 1 <= csat <= 5 else "Low customer rating"
    if reason == "long conversation":
        return f"Long conversation ({turns} messages)"
    if not reason:
        return "High risk score"
    return REASONS.get(reason, reason[:1].upper() + reason[1:])


def excerpt_window(turns: Sequence[tuple[str, str]], focus: int | None) -> tuple[int, int]:
    """[start, end) of the 2-4 turns to show: the question before the turn that went wrong, that turn, and what
    came next (the customer's reaction, a teammate's answer). No focus: the last turns."""
    if not turns:
        return 0, 0
    if focus is None or not 0 <= focus < len(turns):
        return max(0, len(turns) - 2), len(turns)
    start = max(0, focus - 1)
    end = min(len(turns), start + MAX_TURNS_SHOWN)
    if end - start < 2:  # the turn that went wrong is the last one: show what led to it
        start = max(0, end - 2)
    return start, end


def focus_text(text: str, limit: int = FOCUS_LEAD) -> str:
    """The turn that went wrong, from the sentence where the agent says it does not know when that comes late
    (the excerpt would cut it off), marked with a leading ellipsis."""
    found = DONT_KNOW.search(text)
    if found is None or found.start() < limit:
        return text
    start = max((m.end() for m in _SENTENCE_END.finditer(text, 0, found.start())), default=found.start())
    return "… " + text[start:].lstrip()


def digest_item_view(item: DigestItemData, *, settings: Settings, owner: str | None = None) -> DigestItemView:
    """The item message as it should look now: the turns around the one that went wrong, one reason, its
    review status ("fixed" once its gap is verified) and, once reviewed, its gap."""
    status = FIXED if item.gap_state == GapState.VERIFIED.value else item.review_status
    start, end = excerpt_window(item.turns, item.focus)
    focus = item.focus - start if item.focus is not None and start <= item.focus < end else None
    turns = [(role, focus_text(text) if i == focus else text) for i, (role, text) in enumerate(item.turns[start:end])]
    return DigestItemView(
        item_id=item.item_id, conversation_id=item.conversation_id, conversation_ref=item.conversation_ref,
        excerpt_turns=tuple(turns), pick=item.pick, status=status, position=item.position,
        reason=reason_text(item.reason, csat=item.csat, turns=len(item.turns)),
        total_turns=len(item.turns), reviewed_by=item.reviewed_by,
        gap_id=item.gap_id if status != ReviewStatus.PENDING.value else None,
        flag_emoji=settings.flag_emoji, ok_emoji=settings.ok_emoji,
        reference=short_reference(item.source, item.conversation_ref), url=conversation_url(item, settings=settings),
        focus=focus if item.pick == "risk" else None, owner=(owner or item.owner) if item.gap_id is not None else None,
    )
