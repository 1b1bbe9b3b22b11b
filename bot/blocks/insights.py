"""What the loop has learned, in Slack: topics ranked by impact (`/flywheel gaps topics`, the top of `/flywheel gaps
open`, App Home), the weekly post's credit and streak, a fixed gap that came back, and the reminder for a draft left
quiet. Pure: view models in, `slack_sdk` blocks out.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, DividerBlock

from bot.blocks.common import (
    Message,
    actions,
    button,
    confirm,
    context,
    esc,
    header,
    link,
    mention,
    message,
    section,
)
from bot.blocks.ids import ActionId, DraftRef, GapRef
from bot.blocks.models import (
    CreditView,
    PersonCredit,
    RecurrenceItem,
    RecurrenceNoticeView,
    ReminderView,
    StatsView,
    TopicView,
    WeeklyInsightsView,
)
from bot.blocks.notices import fix_buttons, turn_blocks
from bot.blocks.stats import cost_blocks, stats_blocks, stats_text

MAX_TOPICS = 10  # in /flywheel gaps topics
TOP_TOPICS = 3  # at the top of /flywheel gaps open, in App Home and in the weekly post
MAX_CREDITED = 15  # people named in the weekly post
MAX_GAP_IDS = 5  # open gap ids shown per topic
MAX_RECURRENCES = 10  # conversations listed in one "this came back" notice
NEXT_30 = "Where to spend the next 30 minutes"
KINDS = ("reviewed", "flagged", "drafted", "fixed")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --- topics ----------------------------------------------------------------------------------------
def topic_line(topic: TopicView, rank: int, *, days: int) -> str:
    """'*1. refund, credit card* · open gaps #2, #9 · 6 conversations in 28 days, 4 went wrong (3 escalated)'."""
    ids = list(dict.fromkeys(topic.open_gap_ids))
    links = dict(topic.gap_links)
    shown = ", ".join(link(links.get(g), f"#{g}") for g in ids[:MAX_GAP_IDS])
    if len(ids) > MAX_GAP_IDS:
        shown += f" +{len(ids) - MAX_GAP_IDS}"
    bits = [f"*{rank}. {esc(topic.label, 120)}*", f"open {'gap' if len(ids) == 1 else 'gaps'} {shown or 'none'}"]
    if topic.conversations:
        wrong = f", {topic.went_wrong} went wrong" if topic.went_wrong else ""
        escalated = f" ({topic.escalated} escalated)" if topic.escalated else ""
        bits.append(f"{_plural(topic.conversations, 'conversation')} in {days} days{wrong}{escalated}")
    else:
        bits.append(f"no conversation about it in {days} days")
    return " · ".join(bits)


def _start_with(topic: TopicView) -> str:
    return f"start with gap #{topic.open_gap_ids[0]}" if topic.open_gap_ids else "nothing open"


def top_topics_blocks(topics: Sequence[TopicView], *, days: int, limit: int = TOP_TOPICS) -> list[Block]:
    """The short version, in one section: the top open topics and the gap to start with."""
    if not topics:
        return []
    lines = [f"{topic_line(t, i, days=days)} · _{_start_with(t)}_" for i, t in enumerate(topics[:limit], 1)]
    return [section(f":dart: *{NEXT_30}*\n" + "\n".join(lines), block_id="top-topics")]


def build_topics_message(topics: Sequence[TopicView], *, days: int) -> Message:
    """`/flywheel gaps topics`: every open topic by impact (a conversation that went wrong counts twice)."""
    blocks: list[Block] = [header("Open topics by impact")]
    if not topics:
        blocks.append(section("No open topic: every gap is fixed or dismissed. :tada:"))
        return message("Open topics by impact: none", blocks)
    seen: set[int] = set()
    for rank, topic in enumerate(topics[:MAX_TOPICS], 1):
        if topic.topic_id in seen:  # block_ids must be unique
            continue
        seen.add(topic.topic_id)
        blocks.append(section(f"{topic_line(topic, rank, days=days)}\n_Impact {topic.impact} · "
                              f"{_plural(topic.gap_count, 'gap')} in all · {_start_with(topic)}_",
                              block_id=f"topic-{topic.topic_id}"))
    if len(topics) > MAX_TOPICS:
        blocks.append(context(f"…and {len(topics) - MAX_TOPICS} more topics."))
    blocks.append(context(f"Impact: conversations of the last {days} days whose question matches the topic; "
                          "one that went wrong (escalated, unresolved, low CSAT) counts twice."))
    top = topics[0]
    return message(f"Open topics by impact: {len(topics)}, first {esc(top.label, 120)}", blocks)


def with_top_topics(gap_list: Message, topics: Sequence[TopicView], *, days: int) -> Message:
    """`/flywheel gaps open`: the gap list with the top topics right under its header."""
    extra = top_topics_blocks(topics, days=days)
    if not extra:
        return gap_list
    head, *rest = gap_list.blocks
    return message(gap_list.text, [head, *extra, DividerBlock(), *rest])


# --- the weekly post -------------------------------------------------------------------------------
def _counts(person: PersonCredit) -> str:
    return " · ".join(f"{getattr(person, k)} {k}" for k in KINDS if getattr(person, k))


def streak_line(credit: CreditView) -> str:
    if credit.streak_days <= 0:
        return ":seedling: No streak right now: verify a fix today to start one."
    tail = "" if credit.streak_today_done else " Close one today to keep it going."
    return f":fire: *{credit.streak_days}-day streak*: a loop closed (a fix verified) every day.{tail}"


def credit_blocks(credit: CreditView) -> list[Block]:
    """Who reviewed, flagged, drafted and fixed (Slack mentions), the team's totals and the streak."""
    people = [p for p in credit.people if _counts(p)]
    if people:
        lines = [f"• {mention(p.user)}: {_counts(p)}" for p in people[:MAX_CREDITED]]
        if len(people) > MAX_CREDITED:
            lines.append(f"_…and {len(people) - MAX_CREDITED} more_")
        text = ":raised_hands: *Thank you*\n" + "\n".join(lines)
    else:
        text = ":raised_hands: *Thank you*\nNobody to name this week."
    team = _counts(credit.team) or "nothing yet"
    return [section(text, block_id="credit"), context(f"Team: {team}."),
            section(streak_line(credit), block_id="streak")]


def insights_blocks(view: WeeklyInsightsView) -> list[Block]:
    """The top topics (where to spend the next 30 minutes), then credit and the streak."""
    blocks: list[Block] = top_topics_blocks(view.topics, days=view.topic_days) or [
        section(f":dart: *{NEXT_30}*\nNo open topic: every gap is fixed or dismissed.", block_id="top-topics")]
    if view.credit is not None:
        blocks += credit_blocks(view.credit)
    return blocks


def build_weekly_message(stats: StatsView, insights: WeeklyInsightsView) -> Message:
    """The weekly post, in the order a manager reads it: the headline (gap rate against the week before), the
    funnel, the top three topics with links to their gaps, credit and streak, then the cost; the chart follows as
    a file."""
    blocks = [*stats_blocks(stats), DividerBlock(), *insights_blocks(insights)]
    if stats.cost is not None:
        blocks += [DividerBlock(), *cost_blocks(stats)]
    return message(stats_text(stats), blocks)


# --- notices in a gap's thread ---------------------------------------------------------------------
def _came_back(item: RecurrenceItem) -> str:
    why = f" ({esc(', '.join(item.reasons), 200)})" if item.reasons else ""
    return f"conversation `{esc(item.conversation_ref, 80)}` on {esc(item.day, 20)} still went wrong{why}"


def build_recurrence_notice(view: RecurrenceNoticeView) -> Message:
    """'This came back: conversation X on <date> still went wrong (escalated) — @fixer'."""
    items = list(view.items)
    who = f" — {mention(view.fixed_by)}" if view.fixed_by else ""
    title = f" ({esc(view.gap_title, 150)})" if view.gap_title else ""
    if len(items) == 1:
        text = f":recycle: This came back: {_came_back(items[0])}{who}"
    else:
        lines = "\n".join(f"• {_came_back(i)}" for i in items[:MAX_RECURRENCES])
        more = f"\n_…and {len(items) - MAX_RECURRENCES} more_" if len(items) > MAX_RECURRENCES else ""
        text = f":recycle: This came back {len(items)} times{who}\n{lines}{more}"
    blocks: list[Block] = [section(text)]
    if view.after or view.question:  # the newest one's broken turn, as the regression notice shows it
        blocks += turn_blocks(view.question, view.before, view.after, then="When the fix was verified",
                              now=f"In {items[-1].conversation_ref}" if items else "Now")
    blocks.append(context(
        f"After gap #{view.gap_id}{title} was fixed and verified, conversations on its topic still went wrong. "
        "Replay one with `/flywheel replay &lt;conversation&gt;`, or flag it from the digest to reopen the work."))
    buttons = fix_buttons(view.gap_id, view.article_url, view.draft_id)
    if buttons:
        blocks.append(actions(*buttons, block_id=f"recurrence-{view.gap_id}"))
    return message(f"Gap #{view.gap_id} came back: {_plural(len(items), 'conversation')} still went wrong", blocks)


def quiet_for(hours: int) -> str:
    return _plural(hours // 24, "day") if hours >= 48 else _plural(max(hours, 1), "hour")


def build_draft_reminder(view: ReminderView) -> Message:
    """A friendly nudge for a draft nobody touched for a while, with the buttons to finish it."""
    title = f" “{esc(view.title, 150)}”" if view.title else ""
    text = (f":wave: {mention(view.owner)}, the draft for *gap #{view.gap_id}*{title} has been quiet for "
            f"{quiet_for(view.quiet_hours)}. Got 30 minutes? Test it against the conversation, then publish it, "
            "or reply here with what's blocking it (replies become notes).")
    buttons = []
    if view.draft_id is not None:
        value = DraftRef(gap_id=view.gap_id, draft_id=view.draft_id).dump()
        buttons += [
            button(":test_tube: Test", ActionId.TEST_DRAFT, value),
            button(":rocket: Publish", ActionId.PUBLISH, value, style="primary", confirm=confirm(
                "Publish this article?",
                "It goes into the knowledge base, then I replay the conversation to check it.", "Publish")),
        ]
    buttons.append(button(":memo: Write a fresh draft", ActionId.WRITE_DRAFT, GapRef(gap_id=view.gap_id).dump()))
    blocks: list[Block] = [section(text), actions(*buttons, block_id=f"reminder-{view.gap_id}")]
    return message(f"Gap #{view.gap_id}: the draft has been quiet for {quiet_for(view.quiet_hours)}", blocks)
