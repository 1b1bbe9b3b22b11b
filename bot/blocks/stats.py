"""The stats message (`/flywheel stats`, the head of the weekly post): the headline (the estimated gap rate against
the period before, in words), the funnel with arrows, and what the model calls cost. The chart is uploaded
separately with files_upload_v2. Every number is defined once in `bot.services.stats.FUNNEL_TERMS`.
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.blocks.common import Message, context, esc, fields_section, header, message, section, trend
from bot.blocks.models import CostView, StatsNumbers, StatsView

STAT_LABELS: tuple[tuple[str, str], ...] = (
    ("reviewed", "Conversations reviewed"),
    ("looks_good", "Looked good"),
    ("flagged", "New gaps (flagged)"),
    ("drafts", "Drafted"),
    ("published", "Published"),
    ("verified", "Verified by replay"),
    ("failed", "Replay failed"),
    ("dismissed", "Dismissed"),
    ("open_backlog", "Open backlog"),
    ("recurrences", "Came back after a fix"),
)
DEFINITIONS = ("New gaps: gaps opened (a co-flag or a conversation joining an older gap is not a new gap). "
               "Drafted, published, verified, failed, dismissed: gaps that got there in the period.")


def stat_fields(current: StatsNumbers, previous: StatsNumbers | None = None) -> list[str]:
    """'*Label*\\n12 ↑3' for each number (≤10 fields, one section)."""
    out = []
    for key, label in STAT_LABELS:
        now = int(getattr(current, key))
        before = int(getattr(previous, key)) if previous is not None else None
        out.append(f"*{label}*\n{now}{trend(now, before)}")
    return out


def loop_rate(numbers: StatsNumbers) -> str:
    """Gaps compared with gaps: what came in against what the loop closed."""
    if not (numbers.flagged or numbers.verified or numbers.published):
        return "No new gap, and none fixed."
    new = f"*{numbers.flagged} new gap{'' if numbers.flagged == 1 else 's'}*"
    return (f"{new} · {numbers.published} published · *{numbers.verified} verified* by replay · "
            f"{numbers.open_backlog} still open.")


def _money(usd: float) -> str:
    return f"${usd:,.2f}" if usd >= 0.01 or usd == 0 else "<$0.01"


def cost_text(cost: CostView) -> str:
    """':moneybag: 42 model calls · 120,000 tokens · about $0.43 (last week $0.40)'."""
    tokens = cost.input_tokens + cost.output_tokens
    text = (f":moneybag: *Model use*: {cost.calls} call{'' if cost.calls == 1 else 's'}"
            f"{trend(cost.calls, cost.previous_calls)} · {tokens:,} tokens · about {_money(cost.cost_usd)}")
    if cost.previous_cost_usd is not None:
        text += f" (before: {_money(cost.previous_cost_usd)})"
    if cost.unpriced_models:
        names = esc(", ".join(cost.unpriced_models), 200)
        text += f"\n_No price for {names}: set FLYWHEEL_MODEL_PRICES to include it._"
    return text


def stats_blocks(view: StatsView) -> list[Block]:
    """Header, headline, the funnel line and fields, the judge; the cost comes last (`cost_blocks`)."""
    period = "month" if view.period == "month" else "week"
    blocks: list[Block] = [header(f"Flywheel stats · {view.period_label}")]
    if view.headline:
        blocks.append(section(f":bar_chart: *{esc(view.headline, 600)}*", block_id="headline"))
    blocks += [section(loop_rate(view.current), block_id="funnel"),
               fields_section(stat_fields(view.current, view.previous))]
    if view.judge:
        blocks.append(context(f":scales: {esc(view.judge, 400)}. Overrule a verdict with its *Verdict is wrong* "
                              "button."))
    arrows = f"Arrows compare with the previous {period}. " if view.previous is not None else ""
    blocks.append(context(arrows + DEFINITIONS))
    return blocks


def cost_blocks(view: StatsView) -> list[Block]:
    return [section(cost_text(view.cost), block_id="cost")] if view.cost is not None else []


def stats_text(view: StatsView) -> str:
    label = esc(view.period_label, 80)
    return (f"Flywheel stats for {label}: {view.current.flagged} new gaps, {view.current.verified} verified"
            + (f". {esc(view.headline, 300)}" if view.headline else ""))


HINT = "`/flywheel stats month` for the monthly view · `/flywheel stats share` posts it with the chart."


def with_stats_hint(msg: Message, *, period: str) -> Message:
    """`/flywheel stats` (the week): how to see the month, and how to share."""
    return msg if period == "month" else message(msg.text, [*msg.blocks, context(HINT)])


def build_stats_message(view: StatsView) -> Message:
    return with_stats_hint(message(stats_text(view), stats_blocks(view) + cost_blocks(view)), period=view.period)
