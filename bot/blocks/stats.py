"""The weekly (or monthly) stats post. The chart is uploaded separately with files_upload_v2."""

from __future__ import annotations

from bot.blocks.common import Message, context, esc, fields_section, header, message, section, trend
from bot.blocks.models import StatsNumbers, StatsView

STAT_LABELS: tuple[tuple[str, str], ...] = (
    ("reviewed", "Conversations reviewed"),
    ("flagged", "Flagged as gaps"),
    ("looks_good", "Looked good"),
    ("gaps_opened", "Gaps opened"),
    ("drafts", "Drafts written"),
    ("published", "Articles published"),
    ("verified", "Verified by replay"),
    ("failed", "Still failing"),
    ("open_backlog", "Open backlog"),
    ("recurrences", "Came back after a fix"),
)


def stat_fields(current: StatsNumbers, previous: StatsNumbers | None = None) -> list[str]:
    """'*Label*\\n12 ↑3' for each number (≤10 fields, one section)."""
    out = []
    for key, label in STAT_LABELS:
        now = int(getattr(current, key))
        before = int(getattr(previous, key)) if previous is not None else None
        out.append(f"*{label}*\n{now}{trend(now, before)}")
    return out


def loop_rate(numbers: StatsNumbers) -> str:
    """The headline: how much of what was flagged got fixed and verified."""
    if numbers.verified > numbers.flagged:  # gaps flagged earlier (or outside the digest) were fixed too: no rate
        flagged = f"{numbers.flagged} sampled conversation{'s were' if numbers.flagged != 1 else ' was'} flagged"
        return f"*{numbers.verified} gaps* were fixed and verified; {flagged}."
    if numbers.flagged == 0:
        return "Nothing was flagged."
    share = round(100 * numbers.verified / numbers.flagged)
    done = f"*{numbers.verified} of {numbers.flagged}*"
    return f"{done} flagged conversations were fixed and verified ({share}%)."


def build_stats_message(view: StatsView) -> Message:
    period = "month" if view.period == "month" else "week"
    blocks = [
        header(f"Flywheel stats · {view.period_label}"),
        section(loop_rate(view.current)),
        fields_section(stat_fields(view.current, view.previous)),
    ]
    if view.judge:
        blocks.append(context(f":scales: {esc(view.judge, 400)}. Overrule a verdict with its *Verdict is wrong* "
                              "button."))
    if view.previous is not None:
        blocks.append(context(f"Arrows compare with the previous {period}."))
    if period == "week":
        blocks.append(context("`/flywheel stats month` for the monthly view."))
    label = esc(view.period_label, 80)
    text = f"Flywheel stats for {label}: {view.current.verified} verified of {view.current.flagged} flagged"
    return message(text, blocks)
