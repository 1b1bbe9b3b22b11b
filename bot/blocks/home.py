"""The App Home tab and gap lists (`/flywheel gaps`)."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, DividerBlock
from slack_sdk.models.views import View

from bot.blocks.common import (
    MAX_VIEW_BLOCKS,
    Message,
    cap_blocks,
    channel_link,
    context,
    esc,
    fields_section,
    header,
    link,
    link_button,
    mention,
    message,
    section,
)
from bot.blocks.ids import ActionId, ViewId
from bot.blocks.insights import top_topics_blocks
from bot.blocks.models import DigestSummary, GapSummary, HomeView
from bot.blocks.stats import loop_rate, stat_fields

MAX_MINE = 10
MAX_DRAFTS = 10
MAX_BACKLOG = 15
MAX_LIST = 40  # gaps in a /flywheel gaps message (one section each, ≤50 blocks)

STATE_EMOJI = {
    "open": ":large_yellow_circle:",
    "drafting": ":pencil2:",
    "failed": ":x:",
    "published": ":rocket:",
    "verified": ":white_check_mark:",
    "dismissed": ":no_entry_sign:",
}


def gap_line(gap: GapSummary) -> str:
    state = STATE_EMOJI.get(gap.state, ":grey_question:")
    title = esc(gap.title or "(untitled)", 150)
    bits = [f"{state} *#{gap.gap_id}* {title}", esc(gap.state, 20)]
    if gap.owner:
        bits.append(f"owner {mention(gap.owner)}")
    elif gap.flagged_by:
        bits.append(f"flagged by {mention(gap.flagged_by)}")
    if gap.flaggers > 1:
        bits.append(f"{gap.flaggers} flags")
    if gap.conversation_ref:
        bits.append(f"`{esc(gap.conversation_ref, 60)}`")
    bits.append("today" if gap.age_days <= 0 else f"{gap.age_days}d old")
    return " · ".join(bits)


def gap_block(gap: GapSummary, *, prefix: str = "gap") -> Block:
    accessory = link_button("Open thread", ActionId.OPEN_LINK, gap.permalink)  # None: no link Slack takes
    return section(gap_line(gap), accessory=accessory, block_id=f"{prefix}-{gap.gap_id}")


def _gap_list(
    prefix: str, title: str, gaps: Sequence[GapSummary], limit: int, total: int | None, empty: str,
    shown: set[int] | None = None,
) -> list[Block]:
    """A titled list; a gap already in `shown` (an earlier list of the same view) is not listed again, and the
    ids listed here are added to it."""
    total = max(total or 0, len(gaps))
    blocks: list[Block] = [section(f"*{title}* ({total})")]
    if not gaps:
        blocks.append(context(empty))
        return blocks
    above = set() if shown is None else shown
    seen: set[int] = set()
    elsewhere = 0
    for gap in gaps[:limit]:
        if gap.gap_id in above and gap.gap_id not in seen:
            elsewhere += 1
        elif gap.gap_id not in seen:  # block_ids must be unique in a message or view
            seen.add(gap.gap_id)
            blocks.append(gap_block(gap, prefix=prefix))
    above |= seen
    if elsewhere:
        blocks.append(context(f"{elsewhere} of them listed above."))
    if total > len(seen) + elsewhere:
        blocks.append(context(f"…and {total - len(seen) - elsewhere} more (`/flywheel gaps`)"))
    return blocks


def _digest_block(digest: DigestSummary | None, channel: str | None) -> Block:
    if digest is None:
        return context("No digest posted yet.")
    day = link(digest.permalink, digest.day)
    return section(
        f"*Last digest* ({day} in {channel_link(channel)}): {digest.count} conversations, "
        f"{digest.reviewed} reviewed, {digest.flagged} flagged."
    )


def build_home_view(view: HomeView) -> View:
    blocks: list[Block] = [
        header("Flywheel"),
        section(
            f"Hi {mention(view.user_id)}! Flag knowledge gaps in {channel_link(view.review_channel)} "
            "with :books:, then write, test and publish the fix from the gap's thread."
        ),
        DividerBlock(),
    ]
    if view.topics:  # what to work on first, before the lists
        blocks += [*top_topics_blocks(view.topics, days=view.topic_days), DividerBlock()]
    # No gap is listed twice: the team backlog leaves out the gaps already under "yours".
    shown: set[int] = set()
    blocks += _gap_list("mine", "Your open gaps", view.my_gaps, MAX_MINE, None, "Nothing open. Nice.", shown)
    blocks += _gap_list("drafts", "Your drafts", view.my_drafts, MAX_DRAFTS, None, "No drafts in progress.", shown)
    blocks += _gap_list(
        "backlog", "Team backlog", view.backlog, MAX_BACKLOG, view.backlog_total, "The backlog is empty.", shown
    )
    blocks.append(DividerBlock())
    if view.week is not None:
        arrows = " (arrows: change since last week)" if view.week_before is not None else ""
        blocks += [section(f"*This week*{arrows}\n{loop_rate(view.week)}", block_id="week"),
                   fields_section(stat_fields(view.week, view.week_before))]
    blocks.append(_digest_block(view.last_digest, view.review_channel))
    return View(type="home", callback_id=ViewId.HOME, blocks=cap_blocks(blocks, MAX_VIEW_BLOCKS))


def build_gap_list(title: str, gaps: Sequence[GapSummary], *, total: int | None = None) -> Message:
    """`/flywheel gaps [mine|open]` as a message (ephemeral or respond())."""
    blocks: list[Block] = [header(title)]
    blocks += _gap_list("gap", "Gaps", gaps, MAX_LIST, total, "No gaps here.")
    return message(f"{esc(title, 150)}: {max(total or 0, len(gaps))} gaps", blocks)
