"""Edges of roles and the model-call budget that mutation testing showed the role tests left open.

Each test names the mistake it would catch: a settings object without a role falling open or shut, the
operator's name lost, an anonymous user costing a user-group lookup, `peek` spending a call, a zero rate
dividing by zero, the wait message's rounding, and the budget's memory bound (which never dropped anyone).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bot.services.permissions import Action, RateLimited, TokenBucket, is_allowed, operator, spend


class Ticks:
    """A monotonic clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def roles(*, admins: frozenset[str] = frozenset(), group: str | None = None, **role: str) -> SimpleNamespace:
    return SimpleNamespace(admin_ids=admins, admin_group=group, **role)


def budget(*, per_hour: int, burst: int) -> tuple[SimpleNamespace, Ticks]:
    ticks = Ticks()
    settings = SimpleNamespace(model_calls_per_hour=per_hour, model_calls_burst=burst)
    return SimpleNamespace(settings=settings, model_calls=TokenBucket(clock=ticks)), ticks


def refusal(services: Any, user: str = "U1") -> str:
    with pytest.raises(RateLimited) as caught:
        spend(services, user, "draft it")
    return str(caught.value)


# --- roles ---------------------------------------------------------------------------------------------
def test_the_operator_keeps_its_name() -> None:
    assert operator("scheduler") == "scheduler"  # it is the audit trail's actor


def test_settings_is_for_admins_and_so_for_everyone_when_no_admin_is_configured() -> None:
    assert is_allowed(roles(), "U1", action=Action.SETTINGS)
    assert not is_allowed(roles(admins=frozenset({"U0BOSS"})), "U1", action=Action.SETTINGS)
    assert is_allowed(roles(admins=frozenset({"U0BOSS"})), "U0BOSS", action=Action.SETTINGS)


@pytest.mark.parametrize("configured", [{}, {"role_publish": ""}], ids=["role missing", "role blank"])
def test_a_missing_or_blank_role_means_admins(configured: dict[str, str]) -> None:
    assert is_allowed(roles(**configured), "U1", action=Action.PUBLISH)  # no admins: everyone
    assert not is_allowed(roles(admins=frozenset({"U0BOSS"}), **configured), "U1", action=Action.PUBLISH)


def test_an_anonymous_user_costs_no_user_group_lookup() -> None:
    asked: list[str] = []

    def resolve(group: str) -> frozenset[str]:
        asked.append(group)
        return frozenset({"U1"})

    assert not is_allowed(roles(role_publish="S0EDITORS"), None, action=Action.PUBLISH, resolve_group=resolve)
    assert asked == []
    assert is_allowed(roles(role_publish="S0EDITORS"), "U1", action=Action.PUBLISH, resolve_group=resolve)


# --- the model-call budget -----------------------------------------------------------------------------
def test_a_zero_rate_turns_the_budget_off() -> None:
    services, _ = budget(per_hour=0, burst=1)
    for _ in range(5):
        spend(services, "U1", "draft it")


def test_a_bucket_that_never_refills_says_so_instead_of_dividing_by_zero() -> None:
    bucket = TokenBucket(clock=Ticks())
    assert bucket.take("U1", burst=1, per_hour=0) == 0.0
    assert bucket.take("U1", burst=1, per_hour=0) == float("inf")


def test_peeking_spends_nothing() -> None:
    services, _ = budget(per_hour=1, burst=1)
    for _ in range(3):
        spend(services, "U1", "draft it", peek=True)
    spend(services, "U1", "draft it")
    with pytest.raises(RateLimited):
        spend(services, "U1", "draft it", peek=True)


def test_a_short_wait_is_told_in_seconds_rounded_up_to_one() -> None:
    services, _ = budget(per_hour=3600, burst=1)  # one call a second
    spend(services, "U1", "draft it")
    assert "Try again in 1 seconds." in refusal(services)


def test_two_minutes_are_told_in_minutes() -> None:
    services, _ = budget(per_hour=30, burst=1)  # one call every 120 seconds
    spend(services, "U1", "draft it")
    message = refusal(services)
    assert "Try again in 2 minutes." in message
    assert "(1 in a row, then 30 an hour), so I didn't draft it." in message


def test_minutes_are_rounded_up() -> None:
    services, ticks = budget(per_hour=20, burst=1)  # one call every 180 seconds
    spend(services, "U1", "draft it")
    ticks.now += 59  # 121 seconds to wait
    assert "Try again in 3 minutes." in refusal(services)


def test_the_budget_forgets_refilled_users_past_ten_thousand_and_keeps_the_others() -> None:
    ticks = Ticks()
    bucket = TokenBucket(clock=ticks)
    for n in range(9_999):
        bucket.take(f"U{n}", burst=2, per_hour=3600)
    ticks.now += 3600  # everyone above has refilled
    bucket.take("U_LATE", burst=2, per_hour=3600)
    assert len(bucket._buckets) == 10_000  # at the bound, not past it: nothing dropped yet
    bucket.take("U_RECENT", burst=2, per_hour=3600)
    assert set(bucket._buckets) == {"U_LATE", "U_RECENT"}  # the full buckets went; partly spent ones stay
    bucket.take("U_RECENT", burst=2, per_hour=3600)
    assert bucket.take("U_RECENT", burst=2, per_hour=3600) > 0  # and their spending still counts
