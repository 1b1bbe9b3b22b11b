"""Credit and streak on the known world (see world.py). Week 48 is 11-23 to 11-30."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.services.credit import opt_out_ids, team_streak, weekly_credit
from tests.support.world import NOW, t

W48, W49, W47 = dt.date(2026, 11, 23), dt.date(2026, 11, 30), dt.date(2026, 11, 16)


def table(credit) -> list[tuple[str, int, int, int, int]]:  # type: ignore[no-untyped-def]
    return [(p.user, p.reviewed, p.flagged, p.drafted, p.fixed) for p in credit.people]


def test_who_did_what_this_week(world) -> None:
    credit = weekly_credit(world.services, week_start=W48, week_end=W49, now=NOW, opt_out=())
    # reviewed: bob flagged the p1 pick, ann marked n1 and n2, dan pa4
    # flagged: ann joined pa1 to p1's gap and flagged b1; bob p1 and d1; cat p2; dan s1 and s2
    # drafted: ann two drafts of p1 (one gap) and b1; bob's edit of p1; dan s1
    # fixed: by who published the version that passed: dan s1, bob p1, ann b1 (verified by the resume after a crash)
    assert table(credit) == [("ann", 2, 2, 2, 1), ("bob", 1, 2, 1, 1), ("dan", 1, 2, 1, 1), ("cat", 0, 1, 0, 0)]
    assert [p.total for p in credit.people] == [7, 5, 5, 1]
    assert (credit.team.reviewed, credit.team.flagged, credit.team.drafted, credit.team.fixed) == (4, 7, 4, 3)
    assert (credit.week_start, credit.week_end) == (W48, W49)


def test_the_week_before(world) -> None:
    credit = weekly_credit(world.services, week_start=W47, week_end=W48, now=NOW, opt_out=())
    # ann flagged and drafted r1 on 11-16, bob published it; cat flagged r2 on 11-19
    assert table(credit) == [("ann", 0, 1, 1, 0), ("bob", 0, 0, 0, 1), ("cat", 0, 1, 0, 0)]


def test_opted_out_people_are_not_named_but_their_work_counts(world, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYWHEEL_CREDIT_OPT_OUT", " bob, cat ,")
    assert opt_out_ids() == frozenset({"bob", "cat"})
    credit = weekly_credit(world.services, week_start=W48, week_end=W49, now=NOW)
    assert [p.user for p in credit.people] == ["ann", "dan"]
    assert credit.team.total == 4 + 7 + 4 + 3
    explicit = weekly_credit(world.services, week_start=W48, week_end=W49, now=NOW, opt_out=["ann"])
    assert [p.user for p in explicit.people] == ["bob", "dan", "cat"]  # the parameter wins over the variable


def test_datetime_bounds_are_half_open(world) -> None:
    credit = weekly_credit(world.services, week_start=t("2026-11-23 09:40"), week_end=t("2026-11-23 11:00"),
                           now=NOW, opt_out=())
    # ann's two looks-good at 09:40 and her join at 10:10 count; dan's flag at 11:00 does not
    assert table(credit) == [("ann", 2, 1, 0, 0), ("cat", 0, 1, 0, 0)]


def test_streak(world) -> None:
    cases = [
        (NOW, 3, dt.date(2026, 11, 23), True),  # verified on 11-23, 11-24 and today 11-25; none on 11-22
        (t("2026-11-26 18:00"), 3, dt.date(2026, 11, 23), False),  # yesterday still counts: close one today
        (t("2026-11-27 00:00"), 0, None, False),  # a day without: the streak is gone
        (t("2026-11-17 08:00"), 1, dt.date(2026, 11, 16), False),  # as it was: only r1 on 11-16
        (t("2026-11-25 09:00"), 2, dt.date(2026, 11, 23), False),  # before b1's verification at 09:05
    ]
    for now, days, start, today_done in cases:
        streak = team_streak(world.services, now=now)
        assert (streak.days, streak.start, streak.today_done) == (days, start, today_done), now


def test_streak_days_are_the_teams_days(world) -> None:
    # In Auckland (UTC+13) the fixes fall on 11-17, 11-24 (s1 at 04:00 and p1 at 23:00) and 11-25 (b1 at 22:05);
    # NOW is already 11-26 there, so the streak is 11-24 and 11-25, and today is still open.
    streak = team_streak(world.services, now=NOW, tz=ZoneInfo("Pacific/Auckland"))
    assert (streak.days, streak.start, streak.end, streak.today_done) == (2, dt.date(2026, 11, 24),
                                                                          dt.date(2026, 11, 25), False)
    credit = weekly_credit(world.services, week_start=W48, week_end=W49, now=NOW, opt_out=(), tz=ZoneInfo("UTC"))
    assert credit.streak.days == 3
