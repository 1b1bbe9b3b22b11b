"""Scheduled jobs, called directly with a fixed `now`, and the scheduler's wiring."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import pytest

import bot.jobs as jobs
from bot.services import Services
from bot.slack.digest import DigestNotPosted
from tests.slack_app.conftest import DIGEST_SIZE

NOW = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.slack.digest.PACE_SECONDS", 0.0)


def test_digest_job_posts_todays_digest_once(loaded: Services, client, slack) -> None:  # type: ignore[no-untyped-def]
    result = jobs.digest_job(loaded, client, now=NOW)
    assert result is not None and (result.day, result.status) == (NOW.date(), "posted")
    assert jobs.digest_job(loaded, client, now=NOW + dt.timedelta(minutes=5)).status == "already_posted"
    assert len(slack.calls_to("chat.postMessage")) == DIGEST_SIZE + 1


def test_digest_job_uses_the_local_day(loaded: Services, client) -> None:  # type: ignore[no-untyped-def]
    loaded.settings.timezone = "Pacific/Auckland"  # UTC+13: 12:00 UTC is already 01:00 on the 21st there
    loaded.settings.digest_days = "*"  # the 21st is a Saturday
    assert jobs.digest_job(loaded, client, now=NOW + dt.timedelta(hours=3)).day == dt.date(2026, 11, 21)


def test_weekly_job_without_stats_channel_is_skipped(loaded: Services, client, slack, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="bot.jobs")
    assert jobs.weekly_stats_job(loaded, client, now=NOW) is False
    assert slack.calls == []
    assert any("skipped" in r.getMessage() and "FLYWHEEL_STATS_CHANNEL" in r.getMessage() for r in caplog.records)


def test_a_failing_job_is_logged_and_does_not_propagate(loaded: Services, client, slack, caplog) -> None:  # type: ignore[no-untyped-def]
    slack.add_channel(loaded.settings.review_channel, is_archived=True)
    caplog.set_level(logging.ERROR, logger="bot.jobs")
    assert jobs.digest_job(loaded, client, now=NOW) is None
    failure = [r for r in caplog.records if r.name == "bot.jobs"]
    assert len(failure) == 1 and "digest_job failed" in failure[0].getMessage()
    assert failure[0].exc_info and isinstance(failure[0].exc_info[1], DigestNotPosted)


def test_an_unexpected_error_is_logged_with_its_traceback(loaded: Services, client, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("database exploded")

    loaded.settings.stats_channel = "C0STATS"
    monkeypatch.setattr(jobs, "post_weekly_stats", boom)
    assert jobs.weekly_stats_job(loaded, client, now=NOW) is None
    record = next(r for r in caplog.records if r.name == "bot.jobs")
    assert record.levelno == logging.ERROR and isinstance(record.exc_info[1], RuntimeError)


def test_regression_job_runs_once_a_night(loaded: Services, client, slack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    runs: list[str | None] = []
    monkeypatch.setattr("bot.services.regression.run_regressions",
                        lambda services, actor=None: runs.append(actor) or [])
    assert jobs.regression_job(loaded, client, now=NOW) == 0
    assert jobs.regression_job(loaded, client, now=NOW + dt.timedelta(hours=1)) == 0  # another instance, same night
    assert runs == ["scheduler"]
    jobs.regression_job(loaded, client, now=NOW + dt.timedelta(days=1))
    assert runs == ["scheduler", "scheduler"] and slack.calls_to("chat.postMessage") == []


def test_scheduler_registers_named_jobs_in_the_timezone(loaded: Services, client) -> None:  # type: ignore[no-untyped-def]
    loaded.settings.timezone, loaded.settings.digest_time = "Europe/Paris", "07:30"
    scheduler = jobs.build_scheduler(loaded, client)
    by_id = {j.id: j for j in scheduler.get_jobs()}
    # no stats channel: no weekly job
    assert set(by_id) == {"digest_job", "regression_job", "recurrence_job", "reminder_job", "verification_job",
                          "retention_job"}
    digest = by_id["digest_job"]
    assert (digest.misfire_grace_time, digest.coalesce, digest.max_instances) == (3600, True, 1)
    paris = ZoneInfo("Europe/Paris")
    fire = digest.trigger.get_next_fire_time(None, dt.datetime(2026, 11, 20, 12, 0, tzinfo=paris))
    assert fire == dt.datetime(2026, 11, 23, 7, 30, tzinfo=paris)  # Friday noon: next Monday (mon-fri)
    nightly = by_id["regression_job"].trigger.get_next_fire_time(None, dt.datetime(2026, 11, 20, 12, 0, tzinfo=paris))
    assert (nightly.hour, nightly.minute, nightly.day) == (2, 0, 21)

    loaded.settings.stats_channel = "C0STATS"
    weekly = {j.id: j for j in jobs.build_scheduler(loaded, client).get_jobs()}["weekly_stats_job"]
    fire = weekly.trigger.get_next_fire_time(None, dt.datetime(2026, 11, 20, 12, 0, tzinfo=paris))
    assert fire == dt.datetime(2026, 11, 23, 9, 0, tzinfo=paris) and fire.weekday() == 0


def test_scheduler_fires_a_job_with_the_services_clock(loaded: Services, client, slack) -> None:  # type: ignore[no-untyped-def]
    loaded.clock = lambda: NOW
    scheduler = jobs.build_scheduler(loaded, client)
    scheduler.get_job("digest_job").func()  # what APScheduler calls at 09:00
    assert slack.wait_for("chat.postMessage", DIGEST_SIZE + 1)


def test_regression_job_tells_a_broken_gaps_thread(loaded: Services, client, slack, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bot.services.regression import RegressionResult

    parent = slack.add_message(loaded.settings.review_channel, "digest item")
    results = [
        RegressionResult(1, 7, 1, "fail", True, 11, fixed_by="U0ANA", thread_channel="C0REVIEW", thread_ts=parent),
        RegressionResult(2, 8, 2, "pass", False, 12, thread_channel="C0REVIEW", thread_ts=parent),
        RegressionResult(3, 9, 3, "fail", True, 13),  # no thread: nothing to post to
    ]
    monkeypatch.setattr("bot.services.regression.run_regressions", lambda services, actor=None: results)
    assert jobs.regression_job(loaded, client, now=NOW) == 2
    (call,) = slack.calls_to("chat.postMessage")
    assert call.params["thread_ts"] == parent and "gap #7" in call.params["text"] and "<@U0ANA>" in call.params["text"]
