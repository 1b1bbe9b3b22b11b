"""The weekly trend on the known world (see world.py): weeks starting 11-02, 11-09, 11-16 and 11-23."""

from __future__ import annotations

import math

import pytest
from matplotlib.image import imread

from bot.services.recurrence import scan_recurrences
from bot.services.stats import wilson_interval
from bot.services.trend import FUNNEL, render_trend_chart, trend_figure, weekly_trend
from tests.support.world import NOW, t


@pytest.fixture
def trend(world):  # type: ignore[no-untyped-def]
    scan_recurrences(world.services, since=t("2026-11-01 00:00"))  # found at NOW: week 48
    return weekly_trend(world.services, now=NOW, weeks=4)


def test_weekly_figures(trend) -> None:
    assert [w.label for w in trend.weeks] == ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]
    funnel = [(w.flagged, w.drafted, w.published, w.verified, w.recurrences) for w in trend.weeks]
    # W47: r1 flagged, drafted, published, verified; r2 flagged. W48: six flagged; p1 s1 b1 through the loop
    assert funnel == [(0, 0, 0, 0, 0), (0, 0, 0, 0, 0), (2, 1, 1, 1, 0), (6, 3, 3, 3, 4)]
    # flag → verified: r1 3 h; s1 4 h, p1 24.5 h, b1 45 h 35 min: the median is p1's
    assert [w.median_hours_to_fix for w in trend.weeks] == [None, None, 3.0, 24.5]


def test_gap_rate_from_the_random_share(trend) -> None:
    current = trend.weeks[-1]
    # three random picks reviewed (p1 flagged, n1 and n2 fine); the risk pick pa4 does not count
    assert (current.random_reviewed, current.random_flagged) == (3, 1)
    low, high = wilson_interval(1, 3)  # type: ignore[misc]
    assert current.gap_rate == pytest.approx(1 / 3)
    assert (current.gap_rate_low, current.gap_rate_high) == pytest.approx((low, high))
    assert all(w.gap_rate is None for w in trend.weeks[:-1])
    assert (trend.gap_rate, trend.gap_rate_low, trend.gap_rate_high) == pytest.approx((1 / 3, low, high))
    text = trend.to_text()
    assert "2026-W48: gap rate 33% (95% CI 6%–79%, n=3) · flagged 6 → drafted 3 → published 3 → verified 3" \
        " · median fix 24.5 h · recurred 4" in text
    assert "2026-W45: gap rate n/a · flagged 0" in text
    assert text.endswith("All 4 weeks: gap rate 33% (95% CI 6%–79%, n=3)")


def test_the_chart_shows_the_same_figures(trend, tmp_path) -> None:
    fig = trend_figure(trend)
    rate, funnel, fix = fig.axes
    assert [round(y, 1) if not math.isnan(y) else None for y in rate.lines[0].get_ydata()] == [None, None, None, 33.3]
    band = rate.collections[0].get_paths()[0].vertices[:, 1]  # the 95% interval, as a filled polygon
    low, high = wilson_interval(1, 3)  # type: ignore[misc]
    assert min(band) == pytest.approx(100 * low) and max(band) == pytest.approx(100 * high)
    heights = [p.get_height() for p in funnel.patches]  # bars grouped by series, then by week
    per_series = [heights[i * 4:(i + 1) * 4] for i in range(len(FUNNEL))]
    assert per_series == [[0, 0, 2, 6], [0, 0, 1, 3], [0, 0, 1, 3], [0, 0, 1, 3], [0, 0, 0, 4]]
    assert list(fix.lines[0].get_ydata())[2:] == [3.0, 24.5]

    path = render_trend_chart(trend, tmp_path / "out" / "trend.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width, _ = imread(path).shape
    assert (width, height) == (1500, 480)


def test_an_empty_database_gives_an_empty_trend(services, tmp_path) -> None:  # type: ignore[no-untyped-def]
    trend = weekly_trend(services, now=NOW, weeks=2)
    assert [(w.flagged, w.recurrences, w.gap_rate) for w in trend.weeks] == [(0, 0, None), (0, 0, None)]
    assert trend.gap_rate is None and "n/a" in trend.to_text()
    assert render_trend_chart(trend, tmp_path / "empty.png").stat().st_size > 0
