"""The digest, a digest item and the stats as the builders' view models (pure: no DB, no I/O)."""

from __future__ import annotations

from bot.blocks.models import DigestHeaderView, DigestItemView, LoopLine, StatsNumbers, StatsView
from bot.domain import GapState, ReviewStatus
from bot.services.digest import DigestItemData, DigestPlan, LoopDay, StatsDetail, WeekReview
from bot.settings import Settings

FIXED = "fixed"  # the item's status once its gap is verified


def loop_line(day: LoopDay) -> LoopLine:
    return LoopLine(flagged=day.flagged, drafted=day.drafted, published=day.published, verified=day.verified,
                    failed=day.failed)


def digest_header_view(plan: DigestPlan, yesterday: LoopDay, *, settings: Settings) -> DigestHeaderView:
    return DigestHeaderView(
        day=plan.day.isoformat(), count=plan.count, risk_count=plan.risk_count, flag_emoji=settings.flag_emoji,
        ok_emoji=settings.ok_emoji, yesterday=loop_line(yesterday),
    )


def digest_item_view(item: DigestItemData, *, settings: Settings) -> DigestItemView:
    """The item message as it should look now: its review status ("fixed" once its gap is verified) and, once
    reviewed, its gap."""
    status = FIXED if item.gap_state == GapState.VERIFIED.value else item.review_status
    return DigestItemView(
        item_id=item.item_id, conversation_id=item.conversation_id, conversation_ref=item.conversation_ref,
        excerpt_turns=item.turns, pick=item.pick, reasons=item.reasons, status=status, position=item.position,
        total_turns=len(item.turns), reviewed_by=item.reviewed_by,
        gap_id=item.gap_id if status != ReviewStatus.PENDING.value else None,
        flag_emoji=settings.flag_emoji, ok_emoji=settings.ok_emoji,
    )


def stats_numbers(week: WeekReview) -> StatsNumbers:
    s = week.stats
    return StatsNumbers(
        reviewed=s.reviewed, flagged=week.flagged, looks_good=week.looks_good, gaps_opened=s.flagged,
        drafts=s.drafted, published=s.published, verified=s.verified, failed=s.failed, open_backlog=s.open_backlog,
        recurrences=week.recurrences,
    )


def stats_view(detail: StatsDetail) -> StatsView:
    """The current period and the one before (for the trend arrows)."""
    previous = stats_numbers(detail.previous) if detail.previous is not None else None
    return StatsView(period_label=detail.label, current=stats_numbers(detail.current), previous=previous,
                     period=detail.period, judge=detail.judge)
