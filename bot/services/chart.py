"""The loop stats as a PNG: the funnel per week, and the estimated gap rate with the median time to fix.

Drawn on a bare `Figure` with the Agg canvas, so it works headless and never touches pyplot's global state.
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from bot.services.stats import StatsReport

FUNNEL = (
    ("flagged", "Flagged", "#d62728"),
    ("drafted", "Drafted", "#ff7f0e"),
    ("published", "Published", "#1f77b4"),
    ("verified", "Verified", "#2ca02c"),
)


def render_chart(report: StatsReport, path: Path) -> Path:
    """Write the chart of `report` to `path` (PNG) and return the path."""
    weeks = report.weeks
    x = list(range(len(weeks)))
    fig = Figure(figsize=(9, 7), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    funnel, rate = fig.subplots(2, 1, sharex=True)
    what = "week" if report.period == "week" else "4 weeks"
    fig.suptitle(f"Flywheel loop, {what} {report.current.label}")

    width = 0.8 / len(FUNNEL)
    for k, (field, name, colour) in enumerate(FUNNEL):
        offset = (k - (len(FUNNEL) - 1) / 2) * width
        funnel.bar([i + offset for i in x], [getattr(w, field) for w in weeks], width, label=name, color=colour)
    funnel.set_title("Gaps through the loop", fontsize="medium")
    funnel.set_ylabel("gaps")
    funnel.yaxis.set_major_locator(MaxNLocator(integer=True))
    funnel.margins(y=0.2)  # room for the legend
    funnel.legend(loc="upper left", ncols=len(FUNNEL), fontsize="small")

    known = [(i, w) for i, w in zip(x, weeks, strict=True) if w.gap_rate is not None]
    if known:
        rates = [100 * (w.gap_rate or 0.0) for _, w in known]
        low = [r - 100 * (w.gap_rate_low or 0.0) for r, (_, w) in zip(rates, known, strict=True)]
        high = [100 * (w.gap_rate_high or 0.0) - r for r, (_, w) in zip(rates, known, strict=True)]
        rate.errorbar(
            [i for i, _ in known], rates, yerr=[low, high], fmt="o-", color="#9467bd", capsize=4,
            label="gap rate, random picks (95% CI)",
        )
        for (i, w), r in zip(known, rates, strict=True):
            rate.annotate(f"n={w.random_reviewed}", (i, r), textcoords="offset points", xytext=(6, 4),
                          fontsize="x-small", color="#9467bd")
    else:
        rate.text(0.5, 0.5, "no random pick reviewed yet", transform=rate.transAxes, ha="center", color="grey")
    rate.set_ylim(0, 100)
    rate.yaxis.set_major_formatter(PercentFormatter())
    rate.set_ylabel("gap rate")
    rate.set_title("Estimated gap rate and median time to fix", fontsize="medium")

    hours = rate.twinx()
    fix = [math.nan if w.median_hours_flag_to_publish is None else w.median_hours_flag_to_publish for w in weeks]
    hours.plot(x, fix, "s--", color="#8c564b", label="median hours, flag → publish")
    hours.set_ylabel("hours")
    hours.set_ylim(bottom=0, top=max([h for h in fix if not math.isnan(h)] + [1.0]) * 1.25)
    handles = rate.get_legend_handles_labels()[0] + hours.get_legend_handles_labels()[0]
    rate.legend(handles=handles, loc="upper left", fontsize="small")

    rate.set_xticks(x, [w.week_start.strftime("%d %b") for w in weeks])
    rate.set_xlabel("week starting" if report.period == "week" else "4 weeks starting")

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
