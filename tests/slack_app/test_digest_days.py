"""FLYWHEEL_DIGEST_DAYS: the scheduled digest posts only on its days (default Monday to Friday); `flywheel digest`
posts on any day; Monday's header tells what happened since Friday."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

import bot.jobs as jobs
from bot.cli import app
from bot.services import Services
from bot.services.conversations import resolve
from bot.services.gaps import flag
from bot.settings import Settings
from bot.slack.digest import catch_up
from tests.slack_app.conftest import BOT_TOKEN, DIGEST_SIZE, REVIEW
from tests.support.clock import Clock
from tests.support.harness import texts, wait

FRIDAY = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
SATURDAY, SUNDAY, MONDAY = (FRIDAY + dt.timedelta(days=n) for n in (1, 2, 3))


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.slack.digest.PACE_SECONDS", 0.0)


def fire(services: Services, client, at: dt.datetime):  # type: ignore[no-untyped-def]
    """What APScheduler does at the digest's time: the registered job, with the services' clock at `at`."""
    services.clock = Clock(at)
    return jobs.build_scheduler(services, client).get_job("digest_job").func()


def headers(slack) -> list[str]:  # type: ignore[no-untyped-def]
    return [texts(c.blocks) for c in slack.calls_to("chat.postMessage") if c.params["text"].startswith("Flywheel")]


def test_the_scheduled_digest_skips_the_weekend(loaded: Services, client, slack) -> None:  # type: ignore[no-untyped-def]
    assert loaded.settings.digest_days == "mon-fri"  # the default
    fire(loaded, client, SATURDAY)
    fire(loaded, client, SUNDAY)
    assert slack.calls_to("chat.postMessage") == []
    fire(loaded, client, MONDAY)
    assert slack.wait_for("chat.postMessage", DIGEST_SIZE + 1)
    assert "2026-11-23" in headers(slack)[0]

    trigger = jobs.build_scheduler(loaded, client).get_job("digest_job").trigger
    after_friday = trigger.get_next_fire_time(None, FRIDAY + dt.timedelta(hours=1))
    assert after_friday.date() == MONDAY.date() and (after_friday.hour, after_friday.minute) == (9, 0)


def test_other_days_are_a_setting(loaded: Services, client, slack) -> None:  # type: ignore[no-untyped-def]
    loaded.settings.digest_days = "sat,sun"
    assert jobs.digest_job(loaded, client, now=FRIDAY) is None
    assert jobs.digest_job(loaded, client, now=SATURDAY).status == "posted"
    trigger = jobs.build_scheduler(loaded, client).get_job("digest_job").trigger
    assert trigger.get_next_fire_time(None, SATURDAY + dt.timedelta(hours=1)).date() == SUNDAY.date()


def test_catch_up_at_startup_respects_the_days(loaded: Services, client, slack) -> None:  # type: ignore[no-untyped-def]
    late = dt.timedelta(hours=6)
    assert catch_up(loaded, client, now=SATURDAY + late, sleep=lambda _: None) is None
    assert slack.calls_to("chat.postMessage") == []
    assert catch_up(loaded, client, now=MONDAY + late, sleep=lambda _: None).status == "posted"


def test_monday_header_tells_what_happened_since_friday(loaded: Services, client, slack) -> None:  # type: ignore[no-untyped-def]
    friday = jobs.digest_job(loaded, client, now=FRIDAY)
    assert friday is not None and friday.status == "posted"
    assert "Nothing was flagged yesterday." in headers(slack)[0]
    loaded.clock = Clock(SATURDAY + dt.timedelta(hours=2))  # a teammate flags on Saturday (no digest that day)
    flag(loaded, conversation_id=resolve(loaded, "conv-0"), user="U0ANA", on_match="new")
    fire(loaded, client, MONDAY)
    monday = wait(lambda: headers(slack)[1:], what="Monday's header")[0]
    assert "*Since Friday:* 1 flagged." in monday and "yesterday" not in monday.lower()


def test_flywheel_digest_posts_on_any_day(  # type: ignore[no-untyped-def]
    db_url_engine, loaded: Services, slack, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {"DATABASE_URL": db_url_engine[0], "SLACK_API_URL": slack.url, "SLACK_BOT_TOKEN": BOT_TOKEN,
                        "FLYWHEEL_REVIEW_CHANNEL": REVIEW, "FLYWHEEL_DIGEST_SIZE": str(DIGEST_SIZE),
                        "FLYWHEEL_LLM_PROVIDER": "offline", "FLYWHEEL_DIGEST_DAYS": "mon-fri"}.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["digest", "--day", SUNDAY.date().isoformat()])
    assert result.exit_code == 0, result.output
    assert len(slack.calls_to("chat.postMessage")) == DIGEST_SIZE + 1


@pytest.mark.parametrize("bad", ["1-5", "weekdays", "sat-mon", ""])
def test_bad_days_are_refused_with_a_clear_message(bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYWHEEL_DIGEST_DAYS", bad)
    with pytest.raises(ValidationError) as info:
        Settings(_env_file=None)  # type: ignore[call-arg]
    message = str(info.value)
    assert "FLYWHEEL_DIGEST_DAYS" in message and "mon-fri" in message


@pytest.mark.parametrize(("spec", "days"), [("mon-fri", {0, 1, 2, 3, 4}), ("*", set(range(7))),
                                            ("MON,Wed,fri", {0, 2, 4}), (" sat-sun ", {5, 6})])
def test_good_days_are_read_as_the_scheduler_reads_them(spec: str, days: set[int]) -> None:
    from bot.settings import digest_weekdays

    assert digest_weekdays(spec) == days
    assert Settings(_env_file=None, digest_days=spec).digest_days == spec.strip().lower()  # type: ignore[call-arg]
