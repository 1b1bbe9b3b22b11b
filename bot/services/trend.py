"""The trend that matters, per ISO week: is the agent getting better (the gap rate estimated from the random share,
with its 95% Wilson interval), does the loop turn (flagged → drafted → published → verified), how fast (median hours
from flag to verified), and do fixes hold (recurrences found that week).

The weekly figures come from `bot.services.stats` (one grouped query per table); only recurrences are added.
Drawn on a bare `Figure` with the Agg canvas, never pyplot.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter
from pydantic import BaseModel

from bot.services import Services
from bot.services.recurrence import recurrence_counts
from bot.services.stats import iso_week, weekly_stats
from bot.services.stats_math import wilson_interval

FUNNEL = (
    ("flagged", "Flagged", "#d62728"),
    ("drafted", "Drafted", "#ff7f0e"),
    ("published", "Published", "#1f77b4"),
    ("verified", "Verified", "#2ca02c"),
    ("recurrences", "Recurred", "#7f7f7f"),
)


class TrendWeek(BaseModel):
    week_start: dt.date
    week_end: dt.date  # exclusive
    label: str  # 2026-W48
    random_reviewed: int = 0
    random_flagged: int = 0
    gap_rate: float | None = None  # None when no random pick was reviewed
    gap_rate_low: float | None = None
    gap_rate_high: float | None = None
    flagged: int = 0
    drafted: int = 0
    published: int = 0
    verified: int = 0
    median_hours_to_fix: float | None = None  # flag → verified, over the gaps verified that week
    recurrences: int = 0


class Trend(BaseModel):
    generated_at: dt.datetime
    weeks: list[TrendWeek]  # oldest first; the last holds `generated_at`
    gap_rate: float | None = None  # over all the weeks' random reviews
    gap_rate_low: float | None = None
    gap_rate_high: float | None = None

    def to_text(self) -> str:
        def rate(low: float | None, mid: float | None, high: float | None, n: int) -> str:
            return "n/a" if mid is None else f"{mid:.0%} (95% CI {low or 0:.0%}–{high or 0:.0%}, n={n})"

        lines = []
        for w in self.weeks:
            fix = "n/a" if w.median_hours_to_fix is None else f"{w.median_hours_to_fix:.1f} h"
            lines.append(f"{w.label}: gap rate {rate(w.gap_rate_low, w.gap_rate, w.gap_rate_high, w.random_reviewed)}"
                         f" · flagged {w.flagged} → drafted {w.drafted} → published {w.published} → verified"
                         f" {w.verified} · median fix {fix} · recurred {w.recurrences}")
        reviewed = sum(w.random_reviewed for w in self.weeks)
        lines.append(f"All {len(self.weeks)} weeks: gap rate "
                     f"{rate(self.gap_rate_low, self.gap_rate, self.gap_rate_high, reviewed)}")
        return "\n".join(lines)


def weekly_trend(services: Services, *, now: dt.datetime, weeks: int = 8) -> Trend:
    """The last `weeks` ISO weeks (UTC), the one holding `now` last."""
    report = weekly_stats(services, now=now, weeks=weeks)
    rows = []
    for w in report.weeks:
        start, end = (dt.datetime.combine(d, dt.time(), tzinfo=dt.UTC) for d in (w.week_start, w.week_end))
        rows.append(TrendWeek(
            week_start=w.week_start, week_end=w.week_end, label=iso_week(w.week_start),
            random_reviewed=w.random_reviewed, random_flagged=w.random_flagged, gap_rate=w.gap_rate,
            gap_rate_low=w.gap_rate_low, gap_rate_high=w.gap_rate_high, flagged=w.flagged, drafted=w.drafted,
            published=w.published, verified=w.verified, median_hours_to_fix=w.median_hours_flag_to_verified,
            recurrences=recurrence_counts(services, start=start, end=end),
        ))
    flagged, reviewed = sum(w.random_flagged for w in rows), sum(w.random_reviewed for w in rows)
    overall = wilson_interval(flagged, reviewed)
    return Trend(generated_at=report.generated_at, weeks=rows,
                 gap_rate=flagged / reviewed if overall else None,
                 gap_rate_low=overall[0] if overall else None, gap_rate_high=overall[1] if overall else None)


def trend_figure(trend: Trend) -> Figure:
    """Gap rate with its 95% band, the funnel with recurrences, and the median time to fix, side by side."""
    weeks = trend.weeks
    x = list(range(len(weeks)))
    fig = Figure(figsize=(15, 4.8), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    rate, funnel, fix = fig.subplots(1, 3)
    fig.suptitle(f"Flywheel trend, {weeks[0].label} – {weeks[-1].label}")

    pct = [math.nan if w.gap_rate is None else 100 * w.gap_rate for w in weeks]
    low = [math.nan if w.gap_rate_low is None else 100 * w.gap_rate_low for w in weeks]
    high = [math.nan if w.gap_rate_high is None else 100 * w.gap_rate_high for w in weeks]
    rate.fill_between(x, low, high, color="#9467bd", alpha=0.2, label="95% interval")
    rate.plot(x, pct, "o-", color="#9467bd", label="gap rate, random picks")
    known = [i for i in x if not math.isnan(pct[i])]  # whiskers too: a lone week's band has no width
    rate.errorbar(known, [pct[i] for i in known], yerr=[[pct[i] - low[i] for i in known],
                  [high[i] - pct[i] for i in known]], fmt="none", ecolor="#9467bd", capsize=4)
    for i in known:
        rate.annotate(f"n={weeks[i].random_reviewed}", (i, pct[i]), textcoords="offset points", xytext=(6, 4),
                      fontsize="x-small", color="#9467bd")
    if all(math.isnan(p) for p in pct):
        rate.text(0.5, 0.5, "no random pick reviewed yet", transform=rate.transAxes, ha="center", color="grey")
    rate.set_ylim(0, 100)
    rate.yaxis.set_major_formatter(PercentFormatter())
    rate.set_title("Estimated gap rate", fontsize="medium")
    rate.legend(loc="upper right", fontsize="small")

    width = 0.8 / len(FUNNEL)
    for k, (field, name, colour) in enumerate(FUNNEL):
        offset = (k - (len(FUNNEL) - 1) / 2) * width
        funnel.bar([i + offset for i in x], [getattr(w, field) for w in weeks], width, label=name, color=colour)
    funnel.set_title("Gaps through the loop", fontsize="medium")
    funnel.yaxis.set_major_locator(MaxNLocator(integer=True))
    funnel.margins(y=0.25)
    funnel.legend(loc="upper left", ncols=3, fontsize="small")

    hours = [math.nan if w.median_hours_to_fix is None else w.median_hours_to_fix for w in weeks]
    fix.plot(x, hours, "s--", color="#8c564b", label="median hours, flag → verified")
    fix.set_ylim(bottom=0, top=max([h for h in hours if not math.isnan(h)] + [1.0]) * 1.25)
    fix.set_title("Median time to fix", fontsize="medium")
    fix.set_ylabel("hours")
    fix.legend(loc="upper left", fontsize="small")

    for ax in (rate, funnel, fix):
        ax.set_xticks(x, [w.week_start.strftime("%d %b") for w in weeks])
        ax.set_xlim(-0.6, len(weeks) - 0.4)
        ax.set_xlabel("week starting")
    return fig


def render_trend_chart(trend: Trend, path: Path) -> Path:
    """Write the trend chart to `path` (PNG) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    trend_figure(trend).savefig(path, format="png")
    return path
