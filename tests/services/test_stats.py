"""Loop stats on a real database: three weeks of known data, counted by hand below.

NOW is Wednesday 2024-06-12 15:00 UTC, so the weeks are W (10–16 Jun, current), P (3–9 Jun) and Q (27 May–2 Jun).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.image import imread

from bot.services import Services
from bot.services.chart import render_chart
from bot.services.stats import StatsReport, WeekStats, month_stats, weekly_stats, wilson_interval
from storage.models import (
    AuditEvent,
    Conversation,
    Digest,
    DigestItem,
    Draft,
    Gap,
    RegressionCase,
    ReplayRun,
)


def t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


NOW = t("2024-06-12 15:00")
W, P, Q = dt.date(2024, 6, 10), dt.date(2024, 6, 3), dt.date(2024, 5, 27)

# name: flagged_at, state now, published_at, verified_at, draft times, transitions (at, from, to)
GAPS = {
    "A": ("2024-06-04 10:00", "published", "2024-06-10 10:00", None, ["2024-06-05 09:00", "2024-06-11 09:00"],
          [("2024-06-05 09:00", "open", "drafting"), ("2024-06-10 10:00", "drafting", "published")]),
    "B": ("2024-06-10 00:00", "verified", "2024-06-11 00:00", "2024-06-12 00:00", ["2024-06-10 12:00"],
          [("2024-06-10 12:00", "open", "drafting"), ("2024-06-11 00:00", "drafting", "published"),
           ("2024-06-12 00:00", "published", "verified")]),
    "C": ("2024-06-10 06:00", "failed", "2024-06-10 18:00", None, ["2024-06-10 08:00"],
          [("2024-06-10 08:00", "open", "drafting"), ("2024-06-10 18:00", "drafting", "published"),
           ("2024-06-11 12:00", "published", "failed")]),
    "D": ("2024-06-11 09:00", "drafting", None, None, ["2024-06-11 10:00"], [("2024-06-11 10:00", "open", "drafting")]),
    "E": ("2024-06-11 12:00", "open", None, None, [], []),
    "F": ("2024-06-12 08:00", "dismissed", None, None, [], [("2024-06-12 09:00", "open", "dismissed")]),
    "G": ("2024-05-28 09:00", "verified", "2024-06-04 09:00", "2024-06-05 09:00", [],
          [("2024-06-04 09:00", "open", "published"), ("2024-06-05 09:00", "published", "verified")]),
    "H": ("2024-06-03 00:00", "published", "2024-06-04 12:00", None, [], [("2024-06-04 12:00", "open", "published")]),
    "I": ("2024-06-09 23:59:59", "open", None, None, [], []),  # the last second of P
    "J": ("2024-05-01 00:00", "open", None, None, [], []),  # before the window, still open
    "L": ("2024-06-17 00:00", "open", None, None, [], []),  # the first second after the window
}

# regression case per gap: active, last_verdict, created_at, replay runs (at, kind, verdict). A case is created
# by a passing publish replay (its run has no case id yet); regression runs set its verdict; a failing publish
# replay leaves it alone.
CASES = {
    "B": (True, "pass", "2024-06-12 00:00", [("2024-06-11 23:00", "publish", "pass")]),
    "G": (True, "pass", "2024-06-05 09:00", [("2024-06-05 08:00", "publish", "pass")]),
    "H": (True, "fail", "2024-06-04 13:00", [("2024-06-04 12:00", "publish", "pass"), ("2024-06-06 00:00",
          "regression", "fail"), ("2024-06-07 00:00", "regression", "pass"), ("2024-06-08 00:00", "publish", "fail"),
          ("2024-06-11 00:00", "regression", "fail")]),
    "C": (False, "pass", "2024-06-10 19:00", [("2024-06-10 18:30", "publish", "pass")]),
}

# digest items: pick, review_status, reviewed_at
ITEMS = (
    [("random", "flagged", "2024-06-10 09:00"), ("random", "flagged", "2024-06-11 09:00")]
    + [("random", "looks_good", "2024-06-10 00:00")]  # the first second of W
    + [("random", "looks_good", f"2024-06-1{d % 3} {10 + d}:00") for d in range(7)]
    + [("risk", "flagged", "2024-06-11 10:00"), ("risk", "looks_good", "2024-06-12 10:00")]
    + [("random", "pending", "2024-06-11 10:00"), ("random", "pending", None)]  # not reviewed
    + [("random", "looks_good", "2024-06-05 10:00"), ("risk", "flagged", "2024-06-09 23:59:59")]  # P
    + [("random", "flagged", "2024-06-17 00:00")]  # after the window
)


def _conversation(s, n: int) -> Conversation:  # type: ignore[no-untyped-def]
    conv = Conversation(source="test", external_id=f"c{n}", sample_key=n)
    s.add(conv)
    return conv


def seed(services: Services) -> dict[str, int]:
    with services.session() as s:
        conv = _conversation(s, 0)
        digest = Digest(day=dt.date(2024, 6, 10), channel="C1")
        s.add(digest)
        s.flush()
        gaps: dict[str, Gap] = {}
        for name, (flagged, state, published, verified, _, _) in GAPS.items():
            gaps[name] = Gap(
                conversation_id=conv.id, flagged_by="U1", state=state, title=name, flagged_at=t(flagged),
                published_at=t(published) if published else None, verified_at=t(verified) if verified else None,
            )
        s.add_all(gaps.values())
        s.flush()
        for name, (_, _, _, _, drafts, events) in GAPS.items():
            for at in drafts:
                s.add(Draft(gap_id=gaps[name].id, title=name, body="b", provider="test", created_at=t(at)))
            for at, before, after in events:
                s.add(AuditEvent(entity="gap", entity_id=gaps[name].id, action="transition",
                                 from_state=before, to_state=after, at=t(at)))
        # Another entity's transition in W: not a gap, not counted.
        s.add(AuditEvent(entity="article", entity_id=1, action="transition", to_state="published",
                         at=t("2024-06-11 00:00")))
        for name, (active, last, created, runs) in CASES.items():
            case = RegressionCase(gap_id=gaps[name].id, conversation_id=conv.id, flagged_position=1, active=active,
                                  last_verdict=last, created_at=t(created))
            s.add(case)
            s.flush()
            for at, kind, verdict in runs:
                s.add(ReplayRun(kind=kind, conversation_id=conv.id, gap_id=gaps[name].id, verdict=verdict,
                                regression_case_id=case.id if kind == "regression" else None, created_at=t(at)))
        for n, (pick, status, reviewed_at) in enumerate(ITEMS, start=1):
            item_conv = _conversation(s, n)
            s.flush()
            s.add(DigestItem(digest_id=digest.id, conversation_id=item_conv.id, position=n, pick=pick,
                             review_status=status, reviewed_at=t(reviewed_at) if reviewed_at else None))
        return {name: gap.id for name, gap in gaps.items()}


@pytest.fixture
def report(services: Services) -> StatsReport:
    seed(services)
    return weekly_stats(services, now=NOW, weeks=3)


def test_weeks_are_iso_weeks_oldest_first(report: StatsReport) -> None:
    assert [(w.week_start, w.week_end) for w in report.weeks] == [(Q, P), (P, W), (W, dt.date(2024, 6, 17))]
    assert report.current.week_start == W
    assert report.previous is not None and report.previous.week_start == P
    assert report.generated_at == NOW


def test_current_week_counts(report: StatsReport) -> None:
    w = report.current
    # flagged B C D E F; first drafts B C D (A's second draft is in W, its first in P); the article event is ignored
    assert (w.flagged, w.drafted, w.published, w.verified, w.failed, w.dismissed) == (5, 3, 3, 1, 1, 1)
    assert w.reviewed == 12  # 10 random + 2 risk; pending items and the item of 17 Jun are not
    assert (w.random_reviewed, w.random_flagged) == (10, 2)


def test_current_week_medians(report: StatsReport) -> None:
    w = report.current
    assert w.median_hours_flag_to_publish == pytest.approx(24.0)  # A 144 h, B 24 h, C 12 h
    assert w.median_hours_flag_to_verified == pytest.approx(48.0)  # B


def test_previous_weeks(report: StatsReport) -> None:
    q, p, _ = report.weeks
    assert (p.flagged, p.drafted, p.published, p.verified, p.failed, p.dismissed) == (3, 1, 2, 1, 0, 0)
    assert (p.reviewed, p.random_reviewed, p.random_flagged) == (2, 1, 0)
    assert p.median_hours_flag_to_publish == pytest.approx(102.0)  # mean of G 168 h and H 36 h
    assert p.median_hours_flag_to_verified == pytest.approx(192.0)  # G
    assert (q.flagged, q.drafted, q.published, q.reviewed) == (1, 0, 0, 0)
    assert q.median_hours_flag_to_publish is None and q.median_hours_flag_to_verified is None


def test_backlog_now_and_at_past_week_ends(report: StatsReport) -> None:
    q, p, w = report.weeks
    # Now: C failed, D drafting, E I J open; L is flagged after the week. Ages at NOW.
    assert w.open_backlog == 5
    assert w.backlog_median_age_days == pytest.approx(2.375)  # C, 2 d 9 h
    assert w.backlog_oldest_days == pytest.approx(42.625)  # J
    # End of P: A was still drafting (published later), I and J open; G verified and H published by then.
    assert p.open_backlog == 3
    assert p.backlog_median_age_days == pytest.approx(5 + 14 / 24)  # A
    assert p.backlog_oldest_days == pytest.approx(40.0)
    # End of Q: G had no transition yet (its first one left "open"), J open; H was flagged at that very second.
    assert q.open_backlog == 2
    assert q.backlog_median_age_days == pytest.approx((5.625 + 33) / 2)
    assert q.backlog_oldest_days == pytest.approx(33.0)


def test_regression_now_and_as_of_past_runs(report: StatsReport) -> None:
    q, p, w = report.weeks
    assert (w.regression_cases, w.regression_passing) == (3, 2)  # C's case is inactive; H fails now
    assert w.regression_pass_rate == pytest.approx(2 / 3)
    # End of P: G passes by its publish replay, H by its run of 7 Jun (the failing publish replay of 8 Jun
    # does not touch a case).
    assert (p.regression_cases, p.regression_passing, p.regression_pass_rate) == (2, 2, 1.0)
    assert (q.regression_cases, q.regression_passing, q.regression_pass_rate) == (0, 0, None)


def test_gap_rate_is_a_wilson_interval(report: StatsReport) -> None:
    q, p, w = report.weeks
    assert w.gap_rate == pytest.approx(0.2)
    assert (w.gap_rate_low, w.gap_rate_high) == pytest.approx((0.0567, 0.5098), abs=5e-4)
    assert p.gap_rate == 0.0 and p.gap_rate_low == 0.0
    assert p.gap_rate_high == pytest.approx(0.7935, abs=5e-4)
    assert (q.gap_rate, q.gap_rate_low, q.gap_rate_high) == (None, None, None)


@pytest.mark.parametrize(
    ("k", "n", "expected"),
    [(2, 10, (0.0567, 0.5098)), (0, 10, (0.0, 0.2775)), (10, 10, (0.7225, 1.0)), (50, 100, (0.4038, 0.5962))],
)
def test_wilson_interval_known_values(k: int, n: int, expected: tuple[float, float]) -> None:
    interval = wilson_interval(k, n)
    assert interval is not None
    assert interval == pytest.approx(expected, abs=5e-4)
    assert 0.0 <= interval[0] <= k / n <= interval[1] <= 1.0


def test_wilson_interval_edges() -> None:
    assert wilson_interval(0, 0) is None
    wide, narrow = wilson_interval(2, 10, z=2.576), wilson_interval(2, 10)
    assert wide is not None and narrow is not None and wide[0] < narrow[0] and wide[1] > narrow[1]
    for k, n in [(3, 2), (-1, 5), (0, -1)]:
        with pytest.raises(ValueError):
            wilson_interval(k, n)


def test_now_is_read_in_utc(services: Services) -> None:
    seed(services)
    # Monday 17 Jun 01:00 in UTC+2 is still Sunday 16 Jun in UTC: the current week is W.
    report = weekly_stats(services, now=dt.datetime(2024, 6, 17, 1, tzinfo=dt.timezone(dt.timedelta(hours=2))), weeks=1)
    assert len(report.weeks) == 1
    assert report.current.week_start == W and report.current.flagged == 5
    naive = weekly_stats(services, now=NOW.replace(tzinfo=None), weeks=3)
    assert naive.weeks == weekly_stats(services, now=NOW, weeks=3).weeks


def test_empty_database(services: Services, tmp_path: Path) -> None:
    report = weekly_stats(services, now=NOW)
    assert len(report.weeks) == 6
    assert report.weeks[0].week_start == W - dt.timedelta(weeks=5)
    assert all(a.week_end == b.week_start for a, b in zip(report.weeks, report.weeks[1:], strict=False))
    assert report.current == WeekStats(week_start=W, week_end=dt.date(2024, 6, 17))
    assert "Gap rate n/a" in report.to_text()
    assert render_chart(report, tmp_path / "empty.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError):
        weekly_stats(services, now=NOW, weeks=0)


def test_month_aggregates_four_weeks(services: Services) -> None:
    seed(services)
    report = month_stats(services, now=NOW, months=2)
    before, cur = report.weeks
    assert report.period == "month"
    assert (cur.week_start, cur.week_end) == (dt.date(2024, 5, 20), dt.date(2024, 6, 17))
    assert (before.week_start, before.week_end) == (dt.date(2024, 4, 22), dt.date(2024, 5, 20))
    assert (cur.flagged, cur.drafted, cur.published, cur.verified, cur.reviewed) == (9, 4, 5, 2, 14)
    assert cur.median_hours_flag_to_publish == pytest.approx(36.0)  # 12, 24, 36, 144, 168
    assert (cur.random_reviewed, cur.random_flagged) == (11, 2)
    assert (before.flagged, before.open_backlog, before.reviewed) == (1, 1, 0)  # J, open since 1 May
    assert cur.open_backlog == 5
    assert "4 weeks 2024-W21 – 2024-W24" in report.to_text()


def test_to_text_has_the_numbers_and_the_trend(report: StatsReport) -> None:
    text = report.to_text()
    assert "week 2024-W24 (10 Jun – 16 Jun 2024)" in text
    assert "Reviewed 12 (↑10) (looked good 9 (↑8)) · new gaps (flagged) 5 (↑2) · drafted 3 (↑2)" in text
    assert "Published 3 (↑1) · verified 1 (=) · failed 1 (↑1) · dismissed 1 (↑1)" in text
    assert "flag→publish 24.0 h (↓78)" in text and "flag→verified 48.0 h (↓144)" in text
    assert "Open backlog 5 (↑2)" in text and "oldest 42.6 d" in text
    assert "Regression suite 2/3 passing, 67% (↓33.3)" in text
    assert "Gap rate 20.0% (↑20) of 10 random reviews (95% CI 5.7–51.0%)" in text
    first_week_only = StatsReport(generated_at=NOW, weeks=report.weeks[:1])
    assert "↑" not in first_week_only.to_text() and "change vs" not in first_week_only.to_text()


def test_json_round_trip(report: StatsReport) -> None:
    payload = report.model_dump_json()
    assert json.loads(payload)["weeks"][-1]["flagged"] == 5
    assert StatsReport.model_validate_json(payload) == report


def test_chart_is_a_png(report: StatsReport, tmp_path: Path) -> None:
    path = render_chart(report, tmp_path / "out" / "stats.png")
    assert path == tmp_path / "out" / "stats.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = imread(path).shape[:2]
    assert (width, height) == (900, 700)


def test_chart_leaves_pyplot_alone(tmp_path: Path) -> None:
    script = (
        "import sys, datetime as dt\n"
        "from pathlib import Path\n"
        "from bot.services.chart import render_chart\n"
        "from bot.services.stats import StatsReport, WeekStats\n"
        "w = WeekStats(week_start=dt.date(2024, 6, 10), week_end=dt.date(2024, 6, 17), flagged=3,"
        " random_reviewed=4, random_flagged=1, gap_rate=0.25, gap_rate_low=0.05, gap_rate_high=0.7)\n"
        "r = StatsReport(generated_at=dt.datetime(2024, 6, 12, tzinfo=dt.UTC), weeks=[w])\n"
        f"render_chart(r, Path({str(tmp_path / 'x.png')!r}))\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    root = Path(__file__).parents[2]
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=root)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "x.png").stat().st_size > 1000
